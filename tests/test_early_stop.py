"""stop_after_grok: a run setting that ends a run N epochs after it grokked, on a log line, with a checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.cli.main import main
from grok_tui.run.phases import load_events
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking

# A small config that groks well inside its budget whatever the CPU's bits: seeds 0-7 grokked at epochs
# 610-1,940 on an AMD EPYC (seed 0, the one used here: 760, about 5 s on one core). p=23 or lr=1e-2 are
# faster but some seeds stall at 98% test accuracy (2 of 106 test pairs wrong), which made these tests
# depend on the machine.
GROKS = dict(p=31, d_model=64, num_heads=4, frac_train=0.6, lr=3e-3, measure_every=0, num_epochs=5000,
             log_every=10, checkpoint_every=1000, threads=1)


def grokked_at(paths: RunPaths) -> int:
    return next(e.epoch for e in load_events(paths.events) if e.name == "grokked")


@pytest.fixture(scope="module")
def early(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunPaths, object]:
    root = tmp_path_factory.mktemp("early")
    result = train_grokking(tiny_config(tag="e", stop_after_grok=25, **GROKS), root=root)
    return RunPaths.of("e", root), result


@pytest.mark.figures
def test_the_run_ends_on_the_first_log_line_n_epochs_after_grokking(early) -> None:  # type: ignore[no-untyped-def]
    paths, result = early
    grok = grokked_at(paths)
    assert result.status == "early_stopped"
    assert result.epoch == grok + 30  # the first log line (every 10) at or after grok + 25
    assert read_log(paths.log)[-1]["epoch"] == result.epoch
    assert load_checkpoint(paths.checkpoint)["epoch"] == result.epoch
    assert paths.curves_png.exists()
    from grok_tui.run.summary import summarize

    assert summarize(paths).status == "done early"  # not "stopped": it ended on purpose


def test_an_early_stopped_run_is_the_same_run_as_a_full_one(early, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths, result = early
    full = train_grokking(tiny_config(tag="e", **{**GROKS, "num_epochs": result.epoch}), root=tmp_path)
    drop = lambda records: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]  # noqa: E731
    assert drop(read_log(paths.log)) == drop(read_log(full.paths.log))


def test_resuming_a_done_run_trains_nothing_and_removing_the_setting_trains_on(early, capsys) -> None:  # type: ignore[no-untyped-def]
    paths, result = early
    before, sessions = paths.log.read_bytes(), paths.sessions.read_bytes()
    again = train_grokking(tiny_config(tag="e", stop_after_grok=25, **GROKS), root=paths.root)
    assert again.status == "early_stopped" and again.epoch == result.epoch
    assert paths.log.read_bytes() == before
    assert paths.sessions.read_bytes() == sessions  # nothing trained: no session recorded
    assert main(["train", "--root", str(paths.root), "--tag", "e"]) == 0
    assert (f"run 'e' is already done at epoch {result.epoch:,}, at least 25 epochs after grokking: nothing to train"
            in capsys.readouterr().out)
    # A run setting, not the experiment: dropping it on resume continues the same run.
    longer = train_grokking(tiny_config(tag="e", **{**GROKS, "num_epochs": result.epoch + 20}), root=paths.root)
    assert longer.status == "finished" and longer.epoch == result.epoch + 20


def test_zero_stops_on_the_grokking_line_itself(tmp_path: Path) -> None:
    result = train_grokking(tiny_config(tag="z", stop_after_grok=0, **GROKS), root=tmp_path)
    assert result.status == "early_stopped" and result.epoch == grokked_at(result.paths)


def test_cli_reports_the_early_stop_and_refuses_a_negative_value(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    flags = ["--root", str(tmp_path), "--tag", "c", "--device", "cpu"]
    for field, value in GROKS.items():
        flags += ["--" + field.replace("_", "-"), str(value)]
    assert main(["train", *flags, "--stop-after-grok", "-1"]) == 2
    assert "stop_after_grok: must be between 0 and" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()
    assert main(["train", *flags, "--stop-after-grok", "5"]) == 0
    out = capsys.readouterr().out
    assert "grokked: test accuracy reached 99%" in out
    assert "done at epoch" in out and "after grokking (--stop-after-grok)" in out
    config = dataclasses.replace(tiny_config(), **{k: v for k, v in GROKS.items()})
    assert config.stop_after_grok is None  # the default: train to num_epochs
