"""The run lock (issue 16, item 1): a kernel lock (flock) that cannot race and dies with its process.

- 200 acquires in 100 simultaneous pairs of processes: never two holders at once, and every process
  either holds the lock or is refused naming the holder's PID.
- A holder killed with kill -9 frees the lock at once; its file (with its dead PID) is taken over.
- Any contents of a lock file nobody holds (empty, garbage, bad JSON, PIDs 0, -1, huge, our own PID,
  200,000 '[') never block and never raise; a held lock with such contents gives the one-line message.
- A lock file that is not ours (replaced while we held ours) is never removed.
- A lock file that is a FIFO, a folder or a symlink is refused with one line, without hanging.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grok_tui.run import lock as runs
from grok_tui.core.errors import RunLockedError, UnsafeTargetError
from grok_tui.run.lock import RunLock, lock_owner
from grok_tui.run.paths import RunPaths

# A driver forks the pairs itself (os.fork: cheap, and the two children of a pair are released by one write
# to a pipe, so they call acquire() at the same instant). Each child that gets the lock creates a marker
# file with O_EXCL while it holds it: a second holder at the same time would find the marker there.
PAIRS_DRIVER = textwrap.dedent("""
    import os, sys, time
    from grok_tui.core.errors import RunLockedError
    from grok_tui.run.lock import RunLock
    from grok_tui.run.paths import RunPaths

    root, pairs, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    results = []
    for trial in range(pairs):
        paths = RunPaths.of(f"t{trial % 7}", root)  # tags reused: a file left by the last pair is raced too
        read_end, write_end = os.pipe()
        children = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                os.close(write_end)
                os.read(read_end, 1)  # the start signal
                try:
                    lock = RunLock(paths).acquire()
                except RunLockedError as err:
                    os._exit(3 if f"PID " in str(err) else 4)
                try:
                    fd = os.open(paths.log_dir / "holder", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    os._exit(5)  # two holders at once
                os.close(fd)
                time.sleep(hold)
                os.unlink(paths.log_dir / "holder")
                lock.release()
                os._exit(0)
            children.append(pid)
        os.close(read_end)
        os.write(write_end, b"go")
        os.close(write_end)
        results.append([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children])
    print(results)
""")


def run_pairs(root: Path, pairs: int, hold: float) -> list[list[int]]:
    done = subprocess.run([sys.executable, "-c", PAIRS_DRIVER, str(root), str(pairs), str(hold)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_200_simultaneous_acquires_in_pairs_never_two_holders(tmp_path: Path) -> None:
    # Held for 5 ms, less than acquire()'s retry window: the loser waits and then holds it in turn.
    results = run_pairs(tmp_path, 100, 0.005)
    assert len(results) == 100
    codes = [code for pair in results for code in pair]
    assert 5 not in codes, "two processes held the lock at once"
    assert set(codes) <= {0, 3}, codes
    assert codes.count(0) >= 190  # nearly all hold it in turn; a refusal (3) names the holder's PID
    for tag in range(7):  # every holder released: no lock file and no marker left
        assert not RunPaths.of(f"t{tag}", tmp_path).lock.exists()
        assert not (RunPaths.of(f"t{tag}", tmp_path).log_dir / "holder").exists()


def test_pairs_holding_past_the_retry_window_one_holds_one_is_refused(tmp_path: Path) -> None:
    results = run_pairs(tmp_path, 5, runs.LOCK_RETRY_S + 0.3)
    assert all(sorted(pair) == [0, 3] for pair in results), results


HOLDER = textwrap.dedent("""
    import sys, time
    from grok_tui.run.lock import RunLock
    from grok_tui.run.paths import RunPaths
    RunLock(RunPaths.of(sys.argv[2], sys.argv[1])).acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def start_holder(root: Path, tag: str = "run") -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), tag], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_kill_9_of_the_holder_frees_the_lock(tmp_path: Path) -> None:
    paths = RunPaths.of("run", tmp_path)
    holder = start_holder(tmp_path)
    try:
        assert lock_owner(paths) == {"pid": holder.pid, "host": runs.socket.gethostname()}
        with pytest.raises(RunLockedError, match=f"PID {holder.pid} ") as refused:
            RunLock(paths).acquire()
        assert "\n" not in str(refused.value) and "fuser -v" in str(refused.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert json.loads(paths.lock.read_text())["pid"] == holder.pid  # its file stays, naming a dead PID
    assert lock_owner(paths) is None
    started = time.monotonic()
    lock = RunLock(paths).acquire()
    assert time.monotonic() - started < 0.2  # no retrying: the kernel says it is free
    assert json.loads(paths.lock.read_text()) == {"pid": os.getpid(), "host": runs.socket.gethostname()}
    lock.release()
    assert not paths.lock.exists()


HOSTILE = [b"", b"garbage", b"{", b"null", b"[1, 2]", b'{"pid": 0, "host": "h"}', b'{"pid": -1}',
           b'{"pid": ' + b"9" * 30 + b"}", b'{"pid": ' + b"9" * 5000 + b"}", b'{"pid": "12", "host": 5}',
           b"[" * 200_000, b"\xff\xfe\x00junk", b'{"pid": true}', b'{"pid": 1.5, "host": "\\u0000\\n"}']


@pytest.mark.parametrize("content", HOSTILE + [b"OWN"], ids=lambda c: repr(c[:12]))
def test_a_lock_file_nobody_holds_is_taken_over_whatever_it_says(tmp_path: Path, content: bytes) -> None:
    paths = RunPaths.of("run", tmp_path)
    paths.log_dir.mkdir(parents=True)
    if content == b"OWN":  # our own PID, and PID 1 (alive) on this host: still not a holder
        content = json.dumps({"pid": os.getpid(), "host": runs.socket.gethostname()}).encode()
    paths.lock.write_bytes(content)
    assert lock_owner(paths) is None
    started = time.monotonic()
    with RunLock(paths):
        assert time.monotonic() - started < 0.2
        assert json.loads(paths.lock.read_text())["pid"] == os.getpid()
    assert not paths.lock.exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200),
                         st.dictionaries(st.sampled_from(["pid", "host", "x"]),
                                         st.one_of(st.integers(-2**70, 2**70), st.text(max_size=30), st.none(),
                                                   st.floats(), st.booleans()), max_size=3)
                         .map(lambda d: json.dumps(d).encode())))
def test_held_lock_with_any_contents_gives_one_line_and_free_lock_is_taken(tmp_path: Path, content: bytes,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "LOCK_RETRY_S", 0.02)  # refused sooner: the same code path, less waiting
    paths = RunPaths.of("gen", tmp_path)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    paths.lock.write_bytes(content)
    # Held by another open file (flock locks belong to the open file, so this conflicts even in-process).
    fd = os.open(paths.lock, os.O_RDWR)
    runs.fcntl.flock(fd, runs.fcntl.LOCK_EX)
    try:
        owner = lock_owner(paths)
        assert owner is not None
        assert owner["pid"] == "?" or (isinstance(owner["pid"], int) and 0 < owner["pid"] < 2**31)
        with pytest.raises(RunLockedError) as refused:
            RunLock(paths).acquire()
        message = str(refused.value)
        assert "\n" not in message and message.startswith("run 'gen' is being trained by ")
    finally:
        os.close(fd)
    with RunLock(paths):
        pass
    assert not paths.lock.exists()


def test_a_lock_file_that_is_not_ours_is_never_removed(tmp_path: Path) -> None:
    paths = RunPaths.of("run", tmp_path)
    first = RunLock(paths).acquire()
    paths.lock.unlink()  # someone removes our lock file by hand, and a second trainer starts
    holder = start_holder(tmp_path)
    try:
        first.release()
        assert paths.lock.exists() and lock_owner(paths) == {"pid": holder.pid, "host": runs.socket.gethostname()}
        with pytest.raises(RunLockedError, match=f"PID {holder.pid} "):
            RunLock(paths).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_this_process_holds_is_never_probed_or_taken_twice(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Where flock is emulated with POSIX locks (NFS), locks belong to the process: probing our own lock
    would get it, and closing the probe would drop it. So this process answers from what it holds."""
    paths = RunPaths.of("run", tmp_path)
    with RunLock(paths):
        def no_open(path: Path, flags: int) -> int:
            raise AssertionError("probed its own lock")

        monkeypatch.setattr(runs, "_open_lock_file", no_open)
        assert lock_owner(paths) == {"pid": os.getpid(), "host": runs.socket.gethostname()}
        with pytest.raises(RunLockedError, match=f"PID {os.getpid()} "):
            RunLock(paths).acquire()  # a second trainer of the tag in this process (the TUI's, say)
        monkeypatch.undo()
    assert lock_owner(paths) is None and not paths.lock.exists()


def test_a_removed_and_recreated_lock_file_while_waiting_is_not_shared(tmp_path: Path) -> None:
    """A waiter that opened the old file gets its lock after the holder let go, but the path now names
    another file (or none): it must start over, not hold the lock of a deleted file."""
    paths = RunPaths.of("run", tmp_path)
    holder = RunLock(paths).acquire()
    stale_fd = os.open(paths.lock, os.O_RDWR)  # a waiter's open file of the same lock file
    holder.release()  # removes the file, then drops the lock
    runs.fcntl.flock(stale_fd, runs.fcntl.LOCK_EX | runs.fcntl.LOCK_NB)  # the waiter gets the old file's lock
    assert not runs._same_file(stale_fd, paths.lock)
    fresh = RunLock(paths).acquire()  # the path's new file is free: holding the old one means nothing
    os.close(stale_fd)
    fresh.release()


@pytest.mark.parametrize("kind", ["fifo", "folder", "symlink", "dangling"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_without_hanging(tmp_path: Path, kind: str) -> None:
    paths = RunPaths.of("run", tmp_path)
    paths.log_dir.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    if kind == "fifo":
        os.mkfifo(paths.lock)
    elif kind == "folder":
        paths.lock.mkdir()
    elif kind == "symlink":
        elsewhere.write_text("x")
        paths.lock.symlink_to(elsewhere)
    else:
        paths.lock.symlink_to(elsewhere)
    with pytest.raises(UnsafeTargetError) as refused:
        RunLock(paths).acquire()
    assert str(refused.value).startswith(f"{paths.lock}: the run's lock file is ")
    assert lock_owner(paths) is None
    assert os.path.lexists(paths.lock)
    assert kind != "dangling" or not elsewhere.exists()  # never created through the link


def test_a_lock_that_cannot_be_written_names_the_file_and_leaves_no_lock(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(fd: int, text: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    paths = RunPaths.of("full", tmp_path)
    monkeypatch.setattr(runs, "_write_owner", full_disk)
    with pytest.raises(OSError) as caught:
        RunLock(paths).acquire()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(paths.lock)
    assert not paths.lock.exists()
    monkeypatch.undo()
    RunLock(paths).acquire().release()  # once there is space, the run can be locked again
