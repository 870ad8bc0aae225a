"""Run folders: where a tag's files live, the one-trainer-per-tag lock, and run summaries for `list`.

    <root>/logs/<tag>/config.json           the run's Config
    <root>/logs/<tag>/training_log.jsonl    one JSON line per logged epoch
    <root>/logs/<tag>/training_curves.png   written at the end of a run and by `plot`
    <root>/logs/<tag>/train.lock            present while a trainer owns the run (PID and host inside)
    <root>/logs/<tag>/sessions.jsonl        one line per training session: where and with what it ran
    <root>/models/<tag>/checkpoint.pth      model, optimizer, scheduler, RNG states, epoch, config
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grok_tui.atomic import kind_of, raise_naming
from grok_tui.config import TAG_RULE, Config, ConfigError, is_valid_tag
from grok_tui.errors import RunLockedError, UnsafeTargetError
from grok_tui.phases import GROKKED_ACC, PhaseTracker, early_stop_due
from grok_tui.runlog import Record, RunLogReader



def check_tag(tag: str) -> str:
    if not is_valid_tag(tag):
        raise ConfigError([f"tag: must be {TAG_RULE} (got {tag!r})"])
    return tag


@dataclass(frozen=True)
class RunPaths:
    root: Path
    tag: str

    @classmethod
    def of(cls, tag: str, root: Path | str | None = None) -> "RunPaths":
        # The tag rule forbids separators and a leading '.', so a tag can never leave logs/ or models/.
        return cls(Path(root) if root is not None else Path.cwd(), check_tag(tag))

    @property
    def log_dir(self) -> Path:
        return self.root / "logs" / self.tag

    @property
    def model_dir(self) -> Path:
        return self.root / "models" / self.tag

    @property
    def config(self) -> Path:
        return self.log_dir / "config.json"

    @property
    def log(self) -> Path:
        return self.log_dir / "training_log.jsonl"

    @property
    def curves_png(self) -> Path:
        return self.log_dir / "training_curves.png"

    @property
    def events(self) -> Path:
        return self.log_dir / "events.json"

    @property
    def measures_png(self) -> Path:
        return self.log_dir / "progress_measures.png"

    @property
    def checkpoint(self) -> Path:
        return self.model_dir / "checkpoint.pth"

    @property
    def lock(self) -> Path:
        return self.log_dir / "train.lock"

    @property
    def sessions(self) -> Path:
        """One JSON line per training session (start or resume): its environment (grok_tui/environment.py)."""
        return self.log_dir / "sessions.jsonl"

    def exists(self) -> bool:
        return self.config.exists() or self.log.exists() or self.checkpoint.exists()


# ---------------------------------------------------------------- the lock
#
# The lock is the kernel's: fcntl.flock on logs/<tag>/train.lock, held by the trainer's open file and
# dropped by the kernel when that process ends in any way (kill -9 included), so staleness needs no
# guessing from PIDs. The file holds the holder's PID and host only for the message. The holder removes the
# file when it releases the lock, while it still holds it; a process that locked a file that was removed (or
# replaced) meanwhile sees that the path no longer names its file and starts over, so two processes can
# never both hold the lock of the path.

LOCK_OWNER_MAX = 4096  # bytes of a lock file read for its PID and host: the file is untrusted input
PID_MAX = 2**31 - 1
LOCK_RETRY_S = 0.3  # how long acquire() retries a held lock: a reader's probe holds it for microseconds


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


# Locks this process holds, by the lock file's absolute path. Asked before the kernel: where flock is
# emulated with POSIX locks (NFS), those belong to the process, so a probe of our own lock would get it,
# and closing the probe's file would drop the trainer's lock; a second RunLock in this process would too.
_HELD: set[str] = set()


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


# ---------------------------------------------------------------- summaries


def first_epoch_reaching(records: list[Record], key: str, threshold: float = GROKKED_ACC) -> int | None:
    for record in records:
        value = record.get(key)
        if isinstance(value, (int, float)) and value >= threshold:
            return int(record["epoch"])
    return None


@dataclass
class RunSummary:
    tag: str
    config: Config | None
    last: Record | None
    best_test_acc: float | None
    grokked_epoch: int | None
    status: str  # running / stopped (before num_epochs, grokked or not) / done early (stop_after_grok) / finished / new / broken
    problem: str = ""
    phase: str = "no data yet"  # grok_tui/phases.py: memorizing / memorized / circuit formation / grokked
    memorized_epoch: int | None = None
    circuit_epoch: int | None = None
    started: str | None = None  # UTC date and time of the first training session, "2026-12-03 15:40"

    @property
    def epoch_text(self) -> str:
        """'epoch/total' as `list` and the runs screen show it."""
        total = f"{self.config.num_epochs:,}" if self.config else "?"
        return f"{self.last['epoch'] if self.last else 0:,}/{total}"

    @property
    def status_text(self) -> str:
        return self.status

    @property
    def final_test_acc(self) -> float | None:
        value = self.last.get("test_acc") if self.last else None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


SESSION_HEAD = 64 * 1024  # bytes of sessions.jsonl read for the start date: its first line only


def started_at(paths: RunPaths) -> str | None:
    """When the run first trained (UTC): the first line of sessions.jsonl; None when not recorded.

    Not config.json's modification time: a resume rewrites it. The file is hostile input: only its head
    is read, and anything unexpected is "not recorded".
    """
    try:
        with open(paths.sessions, "rb") as handle:
            first = handle.read(SESSION_HEAD).split(b"\n", 1)[0]
        stamp = json.loads(first).get("time")
        if isinstance(stamp, str):
            return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y-%m-%d %H:%M")
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    return None


def read_config(paths: RunPaths) -> tuple[Config | None, str]:
    """The run's config.json, or None and the reason it cannot be read (a broken run, never an exception)."""
    try:
        return Config.load(paths.config), ""
    except ConfigError as err:
        return None, str(err)


def not_regular(path: Path) -> str:
    """Why a run file cannot be read when something other than a regular file (or a symlink to one) is in
    its place, or "" (also when it is missing). Asks stat() only: opening a FIFO would block."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""
    return "" if stat.S_ISREG(mode) else f"{path}: is {kind_of(mode)}, not a regular file; it was not read"


def summarize(paths: RunPaths) -> RunSummary:
    """One run's summary, folding its log line by line: a 1,000,000-line log never sits in memory."""
    config, problem = read_config(paths)
    reader = RunLogReader(paths.log)
    phases, last, best = PhaseTracker(), None, None  # the phase epochs and the phase in the same pass
    for update in reader.updates():
        if update.reset:  # replaced while we read it (a resume cut it back): start over on the new file
            phases, last, best = PhaseTracker(), None, None
        for record in update.records:
            phases.feed(record)
            acc = record.get("test_acc")
            if isinstance(acc, (int, float)) and not isinstance(acc, bool) and (best is None or acc > best):
                best = acc
            last = record
    problems = [text for text in (problem, reader.problem, not_regular(paths.events)) if text]  # each names its file
    grokked = phases.epoch_of("grokked")
    if lock_owner(paths) is not None:
        status = "running"
    elif config is None or problems:
        status = "broken"
    elif last is None:
        status = "new"
    elif last["epoch"] >= config.num_epochs:
        status = "finished"
    elif early_stop_due(config, grokked, last["epoch"]):
        status = "done early"  # its stop_after_grok setting ended it on purpose
    else:
        status = "stopped"  # even when it grokked: it has not run its schedule
    return RunSummary(paths.tag, config, last, best, grokked, status, "; ".join(problems),
                      phases.phase(has_data=last is not None), phases.epoch_of("memorized"),
                      phases.epoch_of("circuit_formation"), started_at(paths))


def run_folders(root: Path | str | None = None) -> list[RunPaths]:
    """Every run under <root>/logs, sorted by tag."""
    logs = (Path(root) if root is not None else Path.cwd()) / "logs"
    if not logs.is_dir():
        return []
    found = (RunPaths(logs.parent, folder.name) for folder in sorted(logs.iterdir())
             if folder.is_dir() and is_valid_tag(folder.name))
    return [paths for paths in found if paths.exists()]


def list_runs(root: Path | str | None = None) -> list[RunSummary]:
    """A summary of every run folder under <root>/logs, sorted by tag."""
    return [summarize(paths) for paths in run_folders(root)]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


class RunSummaryCache:
    """Run summaries re-read only for runs whose files changed.

    summarize() scans a run's whole log (for the best test accuracy); the runs screen asks every few
    seconds, so unchanged runs, however long their logs, must cost a few stat() calls only.
    """

    def __init__(self) -> None:
        self._known: dict[RunPaths, tuple[object, RunSummary]] = {}

    def summaries(self, root: Path | str | None = None) -> list[RunSummary]:
        result = []
        for paths in run_folders(root):
            fingerprint = (_stat(paths.log), _stat(paths.config), _stat(paths.lock))
            known = self._known.get(paths)
            # A running run is always re-read: its lock's process may have died without touching a file.
            if known is None or known[0] != fingerprint or known[1].status == "running":
                known = (fingerprint, summarize(paths))
                self._known[paths] = known
            result.append(known[1])
        return result


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
