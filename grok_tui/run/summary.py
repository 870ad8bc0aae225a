"""Run summaries for `list`, the runs screen and sweeps: config, progress, phase events and status of each
run under a root, read from its files alone (and cached by the files' sizes and times)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grok_tui.core.atomic import kind_of, open_regular
from grok_tui.core.config import Config, ConfigError
from grok_tui.run.log import Record, RunLogReader
from grok_tui.run.phases import GROKKED_ACC, PhaseTracker, diverged_epoch, early_stop_due
from grok_tui.run.lock import lock_owner
from grok_tui.run.paths import RunPaths, run_folders


SESSION_HEAD = 64 * 1024  # bytes of sessions.jsonl read for the start date: its first line only

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
    status: str  # running / stopped (before num_epochs, grokked or not) / done early (stop_after_grok) / diverged / finished / new / broken
    problem: str = ""
    phase: str = "no data yet"  # grok_tui/run/phases.py: memorizing / memorized / circuit formation / grokked
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


def started_at(paths: RunPaths) -> str | None:
    """When the run first trained (UTC): the first line of sessions.jsonl; None when not recorded.

    Not config.json's modification time: a resume rewrites it. The file is hostile input: only its head
    is read, and anything unexpected is "not recorded".
    """
    try:
        with open_regular(paths.sessions) as handle:  # a FIFO would block, a device would never end
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
    log_every = config.log_every if config is not None else None  # for lines older than the cadence mark
    phases, last, best = PhaseTracker(log_every), None, None  # the phase epochs and the phase in the same pass
    for update in reader.updates():
        if update.reset:  # replaced while we read it (a resume cut it back): start over on the new file
            phases, last, best = PhaseTracker(log_every), None, None
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
    elif diverged_epoch(paths.events) is not None:
        status = "diverged"  # its loss stopped being finite: resuming would only repeat it (a smaller lr is a new run)
    else:
        status = "stopped"  # even when it grokked: it has not run its schedule
    return RunSummary(paths.tag, config, last, best, grokked, status, "; ".join(problems),
                      phases.phase(has_data=last is not None), phases.epoch_of("memorized"),
                      phases.epoch_of("circuit_formation"), started_at(paths))


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
        return [self.summary(paths) for paths in run_folders(root)]

    def summary(self, paths: RunPaths) -> RunSummary:
        fingerprint = (_stat(paths.log), _stat(paths.config), _stat(paths.lock))
        known = self._known.get(paths)
        # A running run is always re-read: its lock's process may have died without touching a file.
        if known is None or known[0] != fingerprint or known[1].status == "running":
            known = (fingerprint, summarize(paths))
            self._known[paths] = known
        return known[1]
