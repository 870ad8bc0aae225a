"""Phase events (grok_tui/run/phases.py): detection rules, events.json across resume and cut-back, and
where they are shown (the `train` progress output and `grok-tui list`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.run.phases import PhaseTracker, load_events, save_events, track
from grok_tui.run.log import encode_record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking


def rec(epoch: int, train_acc: float, test_acc: float, restricted: float | None = None,
        excluded: float | None = None) -> dict:
    record: dict = {"epoch": epoch, "train_acc": train_acc, "test_acc": test_acc}
    if restricted is not None:
        record.update(restricted_loss=restricted, excluded_loss=excluded)
    return record


def test_events_follow_the_paper_rules_once_each() -> None:
    tracker = PhaseTracker()
    assert tracker.phase(has_data=False) == "no data yet"
    assert tracker.feed(rec(0, 0.01, 0.01, 4.7, 4.7)) == []
    assert tracker.phase() == "memorizing"
    [memorized] = tracker.feed(rec(100, 0.995, 0.05))  # no measures on this line
    assert (memorized.name, memorized.epoch) == ("memorized", 100)
    assert tracker.phase() == "memorized"
    assert tracker.feed(rec(200, 1.0, 0.05, 2.0, 0.5)) == []  # first measurement after memorizing: the reference
    assert tracker.feed(rec(300, 1.0, 0.05, 0.9, 0.4)) == []  # restricted halved, but excluded still falling
    assert tracker.feed(rec(400, 1.0, 0.06, 1.1, 0.9)) == []  # excluded doubled from its lowest, restricted not halved
    assert tracker.feed(rec(450, 1.0, 0.06, 0.8, 0.7)) == []  # restricted halved, excluded not doubled (0.7 < 0.8)
    [circuit] = tracker.feed(rec(500, 1.0, 0.10, 0.8, 0.8))
    assert (circuit.name, circuit.epoch) == ("circuit_formation", 500)
    assert "restricted loss 0.8 (was 2)" in circuit.text and "excluded loss 0.8 (lowest 0.4)" in circuit.text
    assert tracker.phase() == "circuit formation"
    assert tracker.feed(rec(600, 1.0, 0.5, 0.01, 9.0)) == []  # already found: not again
    [grokked] = tracker.feed(rec(700, 1.0, 0.99))
    assert (grokked.name, grokked.epoch) == ("grokked", 700) and tracker.phase() == "grokked"
    assert tracker.feed(rec(800, 0.2, 1.0)) == []
    assert [e.name for e in tracker.events] == ["memorized", "circuit_formation", "grokked"]


def test_memorizing_and_grokking_on_the_same_line_and_missing_or_bad_values() -> None:
    tracker = PhaseTracker()
    assert tracker.feed({"epoch": 0}) == []
    assert tracker.feed({"epoch": 10, "train_acc": None, "test_acc": math.nan}) == []
    assert tracker.feed({"epoch": 20, "train_acc": True, "test_acc": "1.0"}) == []  # not numbers
    found = tracker.feed(rec(30, 1.0, 1.0))
    assert [e.name for e in found] == ["memorized", "grokked"]


def test_events_are_a_function_of_the_log() -> None:
    records = [rec(0, 0.0, 0.0, 4.0, 4.0), rec(10, 1.0, 0.1, 3.0, 1.0), rec(20, 1.0, 0.2, 1.0, 2.0),
               rec(30, 1.0, 1.0)]
    one_by_one = PhaseTracker()
    for record in records:
        one_by_one.feed(record)
    assert track(records).events == one_by_one.events
    assert [(e.name, e.epoch) for e in one_by_one.events] == [
        ("memorized", 10), ("circuit_formation", 20), ("grokked", 30)]


def test_events_file_round_trip_and_garbage(tmp_path: Path) -> None:
    events = track([rec(0, 1.0, 0.0), rec(5, 1.0, 1.0)]).events
    path = tmp_path / "events.json"
    save_events(path, events)
    assert load_events(path) == events
    assert json.loads(path.read_text())[0] == {"name": "memorized", "epoch": 0,
                                               "text": "memorized: train accuracy reached 99% at epoch 0"}
    for garbage in ("", "{", "[1, 2]", '[{"name": "x"}]', "null"):
        path.write_text(garbage)
        assert load_events(path) == []
    assert load_events(tmp_path / "missing.json") == []


def _events(root: Path, tag: str) -> list[tuple[str, int]]:
    return [(e.name, e.epoch) for e in load_events(RunPaths.of(tag, root).events)]


def test_events_survive_resume_and_a_cut_back_exactly(root: Path) -> None:
    settings = dict(log_every=10, checkpoint_every=100, measure_every=50, lr=3e-3)
    train_grokking(tiny_config(tag="whole", num_epochs=600, **settings), root=root)
    whole = _events(root, "whole")
    assert ("memorized", whole[0][1]) == whole[0], "the tiny config memorizes"

    train_grokking(tiny_config(tag="split", num_epochs=300, **settings), root=root)
    paths = RunPaths.of("split", root)
    # A trainer killed at epoch 350, after its last checkpoint (300): its log line and event outlive it.
    fake = {**read_log(paths.log)[-1], "epoch": 350, "train_acc": 1.0, "test_acc": 1.0}
    with paths.log.open("a") as handle:
        handle.write(encode_record(fake) + "\n")
    save_events(paths.events, track(read_log(paths.log)).events)
    assert ("grokked", 350) in _events(root, "split")

    train_grokking(tiny_config(tag="split", num_epochs=600, **settings), root=root)
    assert _events(root, "split") == whole  # the phantom event is gone; the real ones are the same


def test_train_prints_each_event_once_and_list_shows_the_phase(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "--root", str(root), "--tag", "tiny", "--p", "11", "--d-model", "16",
                   "--num-heads", "2", "--frac-train", "0.5", "--lr", "3e-3", "--num-epochs", "400",
                   "--log-every", "10", "--measure-every", "50", "--device", "cpu"])
    assert status == 0
    out = capsys.readouterr().out
    events = load_events(RunPaths.of("tiny", root).events)
    assert events, "the tiny config memorizes within 400 epochs"
    for event in events:
        assert out.count(f"grok-tui: {event.text}\n") == 1
    assert main(["list", "--root", str(root)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "  PHASE  " in listing[0]
    phase = track(read_log(RunPaths.of("tiny", root).log)).phase()
    assert phase in listing[1]


def test_an_excluded_loss_stuck_at_zero_is_not_a_rise() -> None:
    tracker = PhaseTracker()
    tracker.feed(rec(0, 1.0, 0.0, 4.0, 0.0))  # memorized; reference; excluded exactly 0 (underflow)
    assert tracker.feed(rec(10, 1.0, 0.0, 1.0, 0.0)) == []  # 0 >= 2 * 0, but nothing rose
    assert [e.name for e in tracker.feed(rec(20, 1.0, 0.0, 1.0, 1e-9))] == ["circuit_formation"]
