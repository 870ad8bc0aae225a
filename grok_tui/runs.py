"""Run folders: where a tag's files live, the one-trainer-per-tag lock, and run summaries for `list`.

    <root>/logs/<tag>/config.json           the run's Config
    <root>/logs/<tag>/training_log.jsonl    one JSON line per logged epoch
    <root>/logs/<tag>/training_curves.png   written at the end of a run and by `plot`
    <root>/logs/<tag>/train.lock            present while a trainer owns the run (PID and host inside)
    <root>/logs/<tag>/sessions.jsonl        one line per training session: where and with what it ran
    <root>/models/<tag>/checkpoint.pth      model, optimizer, scheduler, RNG states, epoch, config
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grok_tui.atomic import raise_naming
from grok_tui.config import TAG_RULE, Config, ConfigError, is_valid_tag
from grok_tui.errors import RunLockedError
from grok_tui.phases import GROKKED_ACC, track
from grok_tui.runlog import Record, read_log



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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def lock_owner(paths: RunPaths) -> dict[str, object] | None:
    """The live owner of the run's lock ({pid, host}), or None when unlocked or the lock is stale."""
    try:
        owner = json.loads(paths.lock.read_text(encoding="utf-8"))
        pid, host = int(owner["pid"]), str(owner["host"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable or half-written: its writer died before finishing it
    if host == socket.gethostname() and not _pid_alive(pid):
        return None
    return {"pid": pid, "host": host}


class RunLock:
    """An exclusive claim on a run folder, held by one trainer; a lock left by a dead process is taken over."""

    def __init__(self, paths: RunPaths):
        self.paths = paths
        self._held = False

    def acquire(self) -> "RunLock":
        self.paths.log_dir.mkdir(parents=True, exist_ok=True)
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        for _ in range(3):
            try:
                fd = os.open(self.paths.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = lock_owner(self.paths)
                if owner is not None:
                    where = "" if owner["host"] == socket.gethostname() else f" on {owner['host']}"
                    raise RunLockedError(
                        f"run {self.paths.tag!r} is being trained by PID {owner['pid']}{where} "
                        f"(lock file {self.paths.lock})"
                    ) from None
                try:
                    self.paths.lock.unlink()  # stale: its process is gone
                except FileNotFoundError:
                    pass
                continue
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(me)
            except OSError as err:  # a full disk: leave no empty lock behind, and name the file
                self.paths.lock.unlink(missing_ok=True)
                raise_naming(err, self.paths.lock)
            self._held = True
            return self
        raise RunLockedError(f"run {self.paths.tag!r}: could not take the lock {self.paths.lock}")

    def release(self) -> None:
        if self._held:
            self._held = False
            try:
                self.paths.lock.unlink()
            except FileNotFoundError:
                pass

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
    status: str  # running / stopped (before num_epochs, grokked or not) / finished / new / broken
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
    """When the run first trained: the first line of sessions.jsonl, else config.json's modification time.

    The file is read as hostile input: only its head, and anything unexpected is "unknown" (None).
    """
    try:
        with open(paths.sessions, "rb") as handle:
            first = handle.read(SESSION_HEAD).split(b"\n", 1)[0]
        stamp = json.loads(first).get("time")
        if isinstance(stamp, str):
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
            return when.strftime("%Y-%m-%d %H:%M")
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    try:
        mtime = paths.config.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def summarize(paths: RunPaths) -> RunSummary:
    config: Config | None = None
    problem = ""
    try:
        config = Config.load(paths.config)
    except ConfigError as err:
        problem = str(err)
    records = read_log(paths.log)
    last = records[-1] if records else None
    accs = [r["test_acc"] for r in records if isinstance(r.get("test_acc"), (int, float))]
    best = max(accs) if accs else None
    phases = track(records)  # one pass for the phase epochs and the phase
    grokked = phases.epoch_of("grokked")
    if lock_owner(paths) is not None:
        status = "running"
    elif config is None:
        status = "broken"
    elif last is None:
        status = "new"
    elif last["epoch"] >= config.num_epochs:
        status = "finished"
    else:
        status = "stopped"  # even when it grokked: it has not run its schedule
    return RunSummary(paths.tag, config, last, best, grokked, status, problem,
                      phases.phase(has_data=bool(records)), phases.epoch_of("memorized"),
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
