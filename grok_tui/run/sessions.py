"""Where and with what a run trained: one record per training session, in logs/<tag>/sessions.jsonl.

Bitwise reproducibility is promised for one environment: the same machine type, torch, numpy, Python and
grok-tui (floating-point kernels differ between CPU instruction sets and library versions). So every
start or resume appends one JSON line saying what it ran on, and a resume whose environment differs from
the previous session's says so (`environment_changes`). The thread count is recorded but is not part of
the environment: on the CPU the trainer's results do not depend on it (tests/test_reproducible.py), given
MKL's strict CNR mode (grok_tui/experiment/numerics.py), which is recorded.

The file is read as hostile input: bounded, a line that is not a JSON object is skipped.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grok_tui import __version__
from grok_tui.core.atomic import open_regular
from grok_tui.experiment.numerics import mkl_is_strict, mkl_mode

# What must match for a resumed run to equal an uninterrupted one bit for bit.
ENVIRONMENT_KEYS = ("host", "device_name", "cpu_capability", "mkl_cbwr", "torch", "numpy", "python", "grok_tui")
MAX_LINE = 64 * 1024  # a session line is ~400 bytes; anything longer is not ours
TAIL_BYTES = 1024 * 1024  # how much of the file's end `read_sessions` looks at


@dataclass
class Session:
    """A training session as it starts: its record, and what changed since the run's previous session."""

    record: dict[str, Any]
    changes: list[str] = field(default_factory=list)  # empty for a new run or the same environment

    def summary(self) -> str:
        """'device cpu (AMD EPYC 7B13), 2 threads': the line `train` prints as it starts."""
        threads = self.record["threads"]
        return (f"device {self.record['device']} ({self.record['device_name']}), "
                f"{threads} thread{'s' if threads != 1 else ''}"
                + ("" if self.record["deterministic"] else ", not deterministic"))

    def warning(self) -> str | None:
        """Said when a resume runs in another environment: bitwise equality is not promised across it."""
        if not self.changes:
            return None
        return (f"resumed in a different environment than the run's last session ({'; '.join(self.changes)}): "
                "the run is no longer promised to equal an uninterrupted one bit for bit")


def begin_session(path: Path, start_epoch: int, device: torch.device, threads: int) -> Session:
    """Record a session that starts at `start_epoch` in `path` (sessions.jsonl) and compare it with the last."""
    before = last_session(path) if start_epoch > 0 else None
    record = session_record(start_epoch, device, threads)
    append_session(path, record)
    return Session(record, environment_changes(before, record) if before is not None else [])


def default_threads() -> int:
    """The thread count torch starts with in this process (OMP_NUM_THREADS, else the machine's cores)."""
    return _DEFAULT_THREADS


def busy_cores(sample_s: float = 0.25) -> float | None:
    """How many cores other processes keep busy, from two reads of /proc/stat `sample_s` apart (this process
    sleeps meanwhile); None where there is no /proc/stat."""
    def read() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii", errors="replace") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return (sum(fields), fields[3] + fields[4]) if len(fields) >= 5 else None  # total, idle + iowait

    first = read()
    time.sleep(sample_s)
    second = read()
    if first is None or second is None or second[0] <= first[0]:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    return (total - idle) / total * (os.cpu_count() or 1)


def automatic_threads() -> int:
    """Threads for a run with --threads 0: torch's default (the cores) on an idle machine, one per core the
    other processes leave free on a busy one. OpenMP's threads spin while they wait: two of them beside one
    busy process made the quick run 2.6x slower than one thread, the paper's 1.9x (benchmarks/README.md,
    "Thread policy"); sleeping instead (OMP_WAIT_POLICY=PASSIVE) cost 2.1x on an idle machine. A thread
    count the user set (--threads, OMP_NUM_THREADS) is kept. Results are the same bits at any count."""
    if os.environ.get("OMP_NUM_THREADS"):
        return default_threads()
    busy = busy_cores()
    if busy is None:
        return default_threads()
    free = (os.cpu_count() or 1) - busy
    return max(1, min(default_threads(), int(free + 0.5)))


# Read once at import, on the importing thread: a thread started later (the TUI trains on a fresh one)
# may see a different OpenMP default than the process's.
_DEFAULT_THREADS = torch.get_num_threads()


def cpu_name() -> str:
    """The processor's model name ('AMD EPYC 7B13'), or the platform's word for it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo.read(256 * 1024).splitlines():
                if line.startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return cpu_name()


def is_deterministic(device: torch.device) -> bool:
    """True where the trainer's results are a function of config and seed alone.

    On the CPU by construction (the engine avoids kernels whose sums depend on thread timing; tested),
    where MKL, if torch uses it, is in strict CNR mode (grok_tui/experiment/numerics.py); on CUDA when torch's
    deterministic algorithms are on (the trainer turns them on); MPS is untested.
    """
    if device.type == "cpu":
        return mkl_is_strict() is not False
    if device.type == "cuda":
        return torch.are_deterministic_algorithms_enabled()
    return False


def session_record(start_epoch: int, device: torch.device, threads: int) -> dict[str, Any]:
    """The environment of a training session that starts (or resumes) at `start_epoch`."""
    return {
        "start_epoch": start_epoch,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "device": str(device),
        "device_name": device_name(device),
        "threads": threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl_cbwr": mkl_mode(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),  # set by grok_tui/__init__.py unless the user did
        "deterministic": is_deterministic(device),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "grok_tui": __version__,
        "platform": platform.platform(),
    }


def append_session(path: Path, record: dict[str, Any]) -> None:
    """Append one whole line and make it durable (an OSError names the file, like every run file)."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # One write() of a line this short is not split by O_APPEND; a line cut by a full disk is
        # skipped by the reader and the error stops the run before training.
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_sessions(path: Path) -> list[dict[str, Any]]:
    """The session records at the end of the file (its last MiB), oldest first; bad lines skipped."""
    try:
        with open_regular(path) as file:  # a FIFO would block, a device would never end
            size = os.fstat(file.fileno()).st_size
            file.seek(max(0, size - TAIL_BYTES))
            data = file.read(TAIL_BYTES)
    except OSError:  # missing, not a regular file, unreadable: no sessions to show
        return []
    lines = data.split(b"\n")
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first line of the tail may be a piece of one
    records = []
    for raw in lines:
        if not raw.strip() or len(raw) > MAX_LINE:
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # ValueError covers bad UTF-8 and huge integers too
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def last_session(path: Path) -> dict[str, Any] | None:
    sessions = read_sessions(path)
    return sessions[-1] if sessions else None


def environment_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two sessions' environments, e.g. ['torch 2.13.0 -> 2.14.0']."""
    return [f"{key} {_text(before.get(key))} -> {_text(after.get(key))}"
            for key in ENVIRONMENT_KEYS if before.get(key) != after.get(key)]


def describe(record: dict[str, Any]) -> str:
    """One line for `list --long` and the status panel: 'cpu (AMD EPYC 7B13), 2 threads, torch 2.13.0'."""
    threads = record.get("threads")
    thread_text = f", {_text(threads)} thread{'s' if threads != 1 else ''}" if threads is not None else ""
    return (f"{_text(record.get('device'))} ({_text(record.get('device_name'))}){thread_text}, "
            f"torch {_text(record.get('torch'))}, python {_text(record.get('python'))}, "
            f"on {_text(record.get('host'))} since {_text(record.get('time'))}")


def _text(value: object, limit: int = 60) -> str:
    """A value from a hostile file, as short printable text."""
    text = value if isinstance(value, str) else json.dumps(value) if _is_plain(value) else type(value).__name__
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_plain(value: object) -> bool:
    return value is None or isinstance(value, (bool, float)) or (isinstance(value, int) and abs(value) < 10**18)


__all__ = ["Session", "append_session", "automatic_threads", "begin_session", "busy_cores", "default_threads", "describe", "environment_changes", "last_session",
           "read_sessions", "session_record"]
