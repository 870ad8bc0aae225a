"""The one-trainer-per-tag lock (logs/<tag>/train.lock), and deleting a run under it.

The lock is the kernel's: fcntl.flock on logs/<tag>/train.lock, held by the trainer's open file and
dropped by the kernel when that process ends in any way (kill -9 included), so staleness needs no
guessing from PIDs. The file holds the holder's PID and host only for the message. The holder removes the
file when it releases the lock, while it still holds it; a process that locked a file that was removed (or
replaced) meanwhile sees that the path no longer names its file and starts over, so two processes can
never both hold the lock of the path.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import time
from pathlib import Path

from grok_tui.core.atomic import kind_of, raise_naming
from grok_tui.core.errors import RunLockedError, TrainingError, UnsafeTargetError
from grok_tui.run.paths import RunPaths


LOCK_OWNER_MAX = 4096  # bytes of a lock file read for its PID and host: the file is untrusted input
PID_MAX = 2**31 - 1
LOCK_RETRY_S = 0.3  # how long acquire() retries a held lock: a reader's probe holds it for microseconds


# Locks this process holds, by the lock file's absolute path. Asked before the kernel: where flock is
# emulated with POSIX locks (NFS), those belong to the process, so a probe of our own lock would get it,
# and closing the probe's file would drop the trainer's lock; a second RunLock in this process would too.
_HELD: set[str] = set()



def _read_owner(fd: int) -> dict[str, object]:
    """{pid, host} from a lock file's text; "?" for anything missing or not plausible (never raises)."""
    pid: object = "?"
    host: object = "?"
    try:
        owner = json.loads(os.pread(fd, LOCK_OWNER_MAX, 0))
    except (OSError, ValueError, RecursionError):  # ValueError: bad JSON or UTF-8, an int past str()'s limit
        owner = None
    if isinstance(owner, dict):
        value = owner.get("pid")
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= PID_MAX:
            pid = value
        value = owner.get("host")
        if isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable():
            host = value
    return {"pid": pid, "host": host}


def _open_lock_file(path: Path, flags: int) -> int:
    """An fd of the lock file (never through a symlink, never a FIFO that would block); UnsafeTargetError
    for anything but a regular file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # a symlink, a folder, a FIFO with no reader
            try:
                kind = kind_of(os.lstat(path).st_mode)
            except OSError:
                kind = "not a regular file"
            raise UnsafeTargetError(path, f"the run's lock file is {kind}, not a regular file; remove it, then "
                                          "run again") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnsafeTargetError(path, f"the run's lock file is {kind_of(mode)}, not a regular file; remove it, "
                                      "then run again")
    return fd


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (the holder removes it when it lets go)."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def _try_flock(fd: int, operation: int) -> bool:
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _held_here(paths: RunPaths) -> bool:
    return os.path.abspath(paths.lock) in _HELD


def lock_owner(paths: RunPaths) -> dict[str, object] | None:
    """The owner of the run's lock ({pid, host}; "?" where the file does not say), or None when no process
    holds it. Asks the kernel (a shared, non-blocking flock for an instant), never guesses from the PID."""
    if _held_here(paths):
        return {"pid": os.getpid(), "host": socket.gethostname()}
    try:
        fd = _open_lock_file(paths.lock, os.O_RDONLY)
    except OSError:  # missing, unreadable, not a regular file: nobody can hold it
        return None
    try:
        if _try_flock(fd, fcntl.LOCK_SH):
            return None  # nobody holds it: a file left behind by a process that is gone
        return _read_owner(fd)
    finally:
        os.close(fd)  # closing drops our probe's shared lock


def _write_owner(fd: int, text: bytes) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, text, 0)
    os.fsync(fd)


def held_message(paths: RunPaths, owner: dict[str, object]) -> str:
    pid, host = owner.get("pid", "?"), owner.get("host", "?")
    who = f"PID {pid}" if pid != "?" else "a process that has not written its PID"
    where = "" if host in (socket.gethostname(), "?") else f" on {host}"
    return (f"run {paths.tag!r} is being trained by {who}{where} (lock file {paths.lock}); to train it here, "
            f"stop that process first (`fuser -v {paths.lock}` names the process holding the lock; a lock file "
            "whose process has ended never blocks a run, so there is nothing to delete)")


class RunLock:
    """An exclusive claim on a run folder, held by one trainer: a kernel lock (flock) on logs/<tag>/train.lock
    that ends with the process holding it, however it ends."""

    def __init__(self, paths: RunPaths):
        self.paths = paths
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        if self._fd is not None:
            raise RuntimeError("this RunLock is already held")
        if _held_here(self.paths):  # by another RunLock of this process (a second trainer of the tag)
            raise RunLockedError(held_message(self.paths, {"pid": os.getpid(), "host": socket.gethostname()}))
        lock = self.paths.lock
        lock.parent.mkdir(parents=True, exist_ok=True)
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode("utf-8")
        deadline = time.monotonic() + LOCK_RETRY_S
        while True:
            fd = _open_lock_file(lock, os.O_RDWR | os.O_CREAT)
            try:
                locked = _try_flock(fd, fcntl.LOCK_EX)
                if locked and _same_file(fd, lock):
                    try:
                        _write_owner(fd, me)
                    except OSError as err:  # a full disk: leave no empty lock behind, and name the file
                        lock.unlink(missing_ok=True)  # ours: we hold its lock and the path names our file
                        raise_naming(err, lock)
                    self._fd, fd = fd, -1
                    _HELD.add(os.path.abspath(lock))
                    return self
                if time.monotonic() >= deadline + (0 if not locked else 10):
                    raise RunLockedError(held_message(self.paths, _read_owner(fd)))
            finally:
                if fd >= 0:
                    os.close(fd)
            if not locked:  # held: by a reader's probe for an instant, or by a holder that may be letting go
                time.sleep(0.01)
            # locked but the path names another file now: its holder removed it after we opened it; again

    @property
    def held(self) -> bool:
        return self._fd is not None

    def verify(self) -> None:
        """Raise TrainingError unless the lock file is still the one we hold. A run folder deleted under a
        live trainer (`rm -rf logs/TAG`) takes the lock file with it: readers then see no trainer and a
        second trainer can lock a new file, so the first must stop before it writes into the new run.
        The trainer calls this every epoch (one stat)."""
        if self._fd is None:
            raise RuntimeError("this RunLock is not held")
        if not _same_file(self._fd, self.paths.lock):
            raise TrainingError(f"{self.paths.lock}: the run's lock file was removed or replaced while training "
                                "(was the run folder deleted?); stopped without writing more, so that no other "
                                "process's files are overwritten")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.paths.lock):  # never remove a lock file that is not the one we hold
                os.unlink(self.paths.lock)
        except OSError:
            pass  # a file left behind holds no lock: the next trainer takes it over
        finally:
            os.close(fd)  # the kernel drops the lock here
            _HELD.discard(os.path.abspath(self.paths.lock))

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def delete_run(paths: RunPaths) -> None:
    """Remove a run's folders, logs/<tag> and models/<tag>, holding its lock while doing so: a run that
    a trainer holds (here or in another process) is refused with RunLockedError and left untouched.

    The only delete besides --fresh; the runs screen asks for a confirmation naming the run first.
    Symbolic links are removed, never followed.
    """
    lock = RunLock(paths).acquire()
    try:
        if paths.model_dir.is_symlink() or paths.model_dir.is_file():
            paths.model_dir.unlink()
        elif paths.model_dir.exists():
            shutil.rmtree(paths.model_dir)
        for child in paths.log_dir.iterdir():
            if child == paths.lock:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    finally:
        lock.release()  # removes train.lock
    try:
        paths.log_dir.rmdir()
    except OSError:
        pass  # something appeared meanwhile (a new trainer): leave it
