"""Phase events do not depend on where a run was stopped: they are read from the log's cadence lines only
(grok_tui/run/phases.py). The trainer marks each line (`cadence`); lines of older logs, without the mark,
are read by their epoch and the run's log_every. The proof: a run trained in one go and the same run
stopped 2-5 times off the cadence (right after each threshold was crossed, and at random epochs) give the
same events.json and the same `grok-tui list` row."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from conftest import tiny_config
from grok_tui.cli.listing import list_table
from grok_tui.core.config import Config
from grok_tui.run.log import encode_record, parse_record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import PhaseTracker, early_stop_due, load_events, on_cadence, track
from grok_tui.run.summary import list_runs, summarize
from grok_tui.training.trainer import train_grokking


def rec(epoch: int, train_acc: float, test_acc: float, cadence: bool | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": epoch, "train_acc": train_acc, "test_acc": test_acc}
    if cadence is not None:
        record["cadence"] = cadence
    return record


# ---------------------------------------------------------------- the tracker, on synthetic records


def test_an_off_cadence_line_that_crosses_first_moves_no_event() -> None:
    tracker = PhaseTracker(log_every=10)
    assert tracker.feed(rec(0, 0.1, 0.0, cadence=True)) == []
    assert tracker.feed(rec(10, 0.5, 0.0, cadence=True)) == []
    assert tracker.feed(rec(13, 1.0, 1.0, cadence=False)) == []  # a stop's line: both thresholds crossed
    found = tracker.feed(rec(20, 1.0, 1.0, cadence=True))
    assert [(e.name, e.epoch) for e in found] == [("memorized", 20), ("grokked", 20)]
    assert tracker.feed(rec(25, 1.0, 1.0, cadence=False)) == []  # the last epoch, off the cadence: nothing


def test_the_mark_decides_over_the_epoch() -> None:
    # A line the trainer marked is read by its mark whatever log_every says (log_every may change on resume).
    assert on_cadence(rec(15, 1.0, 1.0, cadence=True), log_every=10)
    assert not on_cadence(rec(20, 1.0, 1.0, cadence=False), log_every=10)
    assert [e.epoch for e in track([rec(15, 1.0, 0.0, cadence=True)], log_every=10).events] == [15]


def test_an_old_log_without_marks_is_read_by_the_runs_log_every() -> None:
    old = [rec(0, 0.0, 0.0), rec(1200, 1.0, 0.5), rec(1228, 1.0, 1.0), rec(1300, 1.0, 1.0)]  # stopped at 1,228
    assert [(e.name, e.epoch) for e in track(old, log_every=100).events] == [("memorized", 1200), ("grokked", 1300)]
    # Without the run's log_every (no readable config.json) every line counts, as before the mark existed.
    assert [e.epoch for e in track(old).events] == [1200, 1228]


def test_early_stop_is_due_on_cadence_epochs_only() -> None:
    config = tiny_config(log_every=10, stop_after_grok=25)
    assert not early_stop_due(config, 760, 787)  # a stop between two log lines past the mark: not done yet
    assert early_stop_due(config, 760, 790)  # the trainer would have ended here
    assert not early_stop_due(config, 760, 780)


def test_a_mark_that_is_not_a_boolean_is_a_skipped_line() -> None:
    good = {"epoch": 10, "train_acc": 1.0, "cadence": False}
    assert parse_record(encode_record(good).encode()) == good
    for bad in ("1", 1, None, [True]):
        assert parse_record(encode_record({**good, "cadence": bad}).encode()) is None


def test_list_reads_an_old_log_with_its_config(tmp_path: Path) -> None:
    paths = RunPaths.of("old", tmp_path)
    tiny_config(tag="old", log_every=100, num_epochs=2000).save(paths.config)
    paths.log.write_text("".join(encode_record({**r, "train_loss": 1.0, "test_loss": 1.0, "lr": 0.001,
                                                "weight_norm": 1.0, "elapsed_s": 1.0})
                                 for r in [rec(0, 0.0, 0.0), rec(1228, 1.0, 1.0), rec(1300, 1.0, 1.0)]))
    summary = summarize(paths)
    assert (summary.memorized_epoch, summary.grokked_epoch) == (1300, 1300)


# ---------------------------------------------------------------- the trainer's mark


class StopAt:
    """A stop event that fires once `steps` epochs of this session are done (the loop asks after each)."""

    def __init__(self, steps: int) -> None:
        self.steps, self.calls = steps, 0

    def is_set(self) -> bool:
        self.calls += 1
        return self.calls >= self.steps


def test_the_trainer_marks_stop_and_last_lines_off_the_cadence(root: Path) -> None:
    config = tiny_config(num_epochs=25, log_every=10)
    train_grokking(config, stop_event=StopAt(13), root=root)
    train_grokking(config, root=root)
    marks = [(r["epoch"], r["cadence"]) for r in read_log(RunPaths.of("tiny", root).log)]
    assert marks == [(0, True), (10, True), (13, False), (20, True), (25, False)]


# ---------------------------------------------------------------- the proof: stopped anywhere, the same events

# tests/test_early_stop.py's config: groks well inside its budget (seed 0 at epoch 760 on an AMD EPYC, in ~5 s).
GROKS = dict(p=31, d_model=64, num_heads=4, frac_train=0.6, lr=3e-3, measure_every=50, num_epochs=1000,
             log_every=10, checkpoint_every=1000, threads=1, stop_after_grok=100)


def _train_with_stops(config: Config, stops: list[int], root: Path) -> None:
    at = 0
    for stop in stops:
        result = train_grokking(config, stop_event=StopAt(stop - at), root=root)
        assert (result.status, result.epoch) == ("stopped", stop)
        at = stop
    train_grokking(config, root=root)


def _row(root: Path, tag: str) -> tuple[str, ...]:
    """The run's `list` row without its tag and start date (which name the run, not what it did)."""
    header, *rows = list_table(list_runs(root))
    row = next(r for r in rows if r[0] == tag)
    return tuple(cell for name, cell in zip(header, row) if name not in ("TAG", "STARTED"))


@pytest.mark.parametrize("draw", [22, 7])
def test_a_run_stopped_anywhere_has_the_events_of_one_trained_in_one_go(tmp_path: Path, draw: int) -> None:
    whole_root, split_root = tmp_path / "whole", tmp_path / "split"
    whole = tiny_config(tag="r", **GROKS)
    train_grokking(whole, root=whole_root)
    events = load_events(RunPaths.of("r", whole_root).events)
    at = {e.name: e.epoch for e in events}
    assert {"memorized", "grokked"} <= set(at), "the config memorizes and groks within its budget"
    # Stops one epoch before each of those cadence lines (after the crossing, when it came earlier), and a
    # few at random epochs off the cadence: 2-5 in all, in order, each a different epoch.
    rng = random.Random(draw)
    extra = [e for e in rng.sample(range(1, at["grokked"] + 90), 40) if e % 10][:rng.randint(0, 3)]
    stops = sorted({at["memorized"] - 1, at["grokked"] - 1, *extra})
    _train_with_stops(whole, stops, split_root)

    split_log = read_log(RunPaths.of("r", split_root).log)
    assert [r["epoch"] for r in split_log if not r["cadence"]] == stops
    crossed = [r["epoch"] for r in split_log if not r["cadence"]
               and ((r["train_acc"] >= 0.99 and r["epoch"] < at["memorized"])
                    or (r["test_acc"] >= 0.99 and r["epoch"] < at["grokked"]))]
    assert crossed, "some stop's line crossed a threshold before the cadence did: the test can tell"
    assert RunPaths.of("r", split_root).events.read_text() == RunPaths.of("r", whole_root).events.read_text()
    assert _row(split_root, "r") == _row(whole_root, "r")
    drop = lambda records: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records if r["cadence"]]  # noqa: E731
    assert drop(split_log) == drop(read_log(RunPaths.of("r", whole_root).log))  # and the same run
