"""How long this process has been stopped (Ctrl-Z / SIGTSTP, SIGSTOP), so that a run's elapsed_s leaves it out.

The monotonic clock keeps running while a process is stopped, and a stop cannot be caught (SIGSTOP) or
may come from anyone; only the SIGCONT that ends it is delivered. So a light thread ticks every TICK_S,
waiting on a wakeup fd that the interpreter's C-level signal handler writes each arriving signal's number
to at once (signal.set_wakeup_fd: even while the main thread is inside a long torch call). A tick that
finds SIGCONT there counts the largest lateness of the ticks of the last RECENT_S (the tick the stop
delayed: it may wake just before the signal's byte arrives) as stopped. A slow tick
without a SIGCONT (a loaded machine) is never counted, so stopped time is never overestimated by more
than TICK_S per stop and load never shortens elapsed_s.

Only `grok-tui train` watches (set_wakeup_fd works in the main thread only); elsewhere stopped_seconds()
stays 0 and elapsed_s is wall time, as before.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

TICK_S = 0.05
RECENT_S = 1.0  # how far back a SIGCONT looks for the tick its stop delayed
_stopped = 0.0
_lock = threading.Lock()


def stopped_seconds() -> float:
    """Seconds this process has spent stopped while watch() was active (0 when it never was)."""
    with _lock:
        return _stopped


def _count(seconds: float) -> None:
    global _stopped
    with _lock:
        _stopped += seconds


def _ticker(read_fd: int, done: threading.Event) -> None:
    last = time.monotonic()
    recent: list[tuple[float, float]] = []  # (when, how late) of the ticks of the last RECENT_S
    while not done.is_set():
        readable, _, _ = select.select([read_fd], [], [], TICK_S)
        now = time.monotonic()
        recent = [(when, late) for when, late in recent if now - when < RECENT_S]
        recent.append((now, max(0.0, now - last - TICK_S)))
        last = now
        if readable:
            try:
                arrived = os.read(read_fd, 512)
            except BlockingIOError:
                arrived = b""
            if signal.SIGCONT in arrived:  # bytes: each one a signal number
                # The late tick may come just before the SIGCONT's byte (the select's timeout ran out
                # during the stop): the stop is the latest of the last moments.
                _count(max(late for _, late in recent))
                recent = []


@contextmanager
def watch() -> Iterator[None]:
    """Count stopped time while the block runs (call from the main thread; elsewhere it counts nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    # The wakeup fd is written only for signals with a Python handler: SIGCONT gets one that does nothing
    # (continuing is the kernel's job; the default action does the same).
    previous_handler = signal.signal(signal.SIGCONT, lambda signum, frame: None)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    done = threading.Event()
    thread = threading.Thread(target=_ticker, args=(read_fd, done), name="stopclock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGCONT, previous_handler)
        os.close(read_fd)
        os.close(write_fd)
