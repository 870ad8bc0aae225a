"""The CLI says what it does before it does it (issue 22, item 8): --fresh names the run and epoch it replaces,
a preset of other settings is refused like any other experiment change, a refusal comes before the start
line, a resume says where it resumes and any thread change, a run with nothing to train records no session,
and a sweep run again layers its flags on its saved definition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grok_tui.cli.main import build_parser, main
from grok_tui.cli.sweep import sweep_from_args
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import save_definition

TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--log-every", "10",
        "--checkpoint-every", "10", "--measure-every", "0", "--device", "cpu"]


def train(root: Path, *args: str) -> int:
    return main(["train", "--root", str(root), *args])


@pytest.fixture
def trained(root: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Run 't' trained to epoch 20 with one thread."""
    assert train(root, "--tag", "t", *TINY, "--num-epochs", "20", "--threads", "1") == 0
    capsys.readouterr()
    return root


def sessions(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in RunPaths.of("t", root).sessions.read_text().splitlines()]


def test_fresh_names_the_run_and_epoch_it_replaces_before_it_does(trained: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert train(trained, "--tag", "t", *TINY, "--num-epochs", "10", "--fresh") == 0
    out = capsys.readouterr().out
    replacing = out.index("grok-tui: --fresh: replacing run 't' (trained to epoch 20) with a new run from epoch 0")
    assert replacing < out.index("grok-tui: training 't'")
    # a new run, nothing to replace: not said
    assert train(trained, "--tag", "new", *TINY, "--num-epochs", "10", "--fresh") == 0
    assert "replacing" not in capsys.readouterr().out


@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_a_preset_of_other_settings_is_refused_before_the_start_line(trained: Path, preset: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    log = RunPaths.of("t", trained).log.read_bytes()
    assert train(trained, "--tag", "t", "--preset", preset) == 2
    captured = capsys.readouterr()
    assert "training" not in captured.out and "resuming" not in captured.out
    assert captured.err.count("\n") == 1 and "trained with different settings" in captured.err
    assert "p (11 -> " in captured.err and "d_model (16 -> " in captured.err
    assert RunPaths.of("t", trained).log.read_bytes() == log  # nothing touched


def test_an_experiment_change_is_refused_before_the_start_line(trained: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert train(trained, "--tag", "t", "--lr", "0.01", "--num-epochs", "30") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "lr (0.001 -> 0.01)" in captured.err


def test_a_resume_says_where_it_resumes_and_a_thread_change(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(trained, "--tag", "t", "--num-epochs", "30", "--threads", "2") == 0
    out = capsys.readouterr().out
    assert "grok-tui: resuming 't' at epoch 20 in " in out and "training 't'" not in out
    assert "grok-tui: threads: 1 -> 2 since the last session (the results do not depend on it)" in out
    assert train(trained, "--tag", "t", "--num-epochs", "40") == 0  # the same threads as the run's last session
    assert "threads:" not in capsys.readouterr().out


def test_a_resume_with_nothing_to_train_records_no_session(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sessions(trained)
    assert len(before) == 1
    assert train(trained, "--tag", "t") == 0
    out = capsys.readouterr().out
    assert "run 't' is already at epoch 20 of 20: nothing to train (raise --num-epochs to train it longer)" in out
    assert "resuming" not in out
    assert sessions(trained) == before


def sweep_args(root: Path, *flags: str) -> object:
    return sweep_from_args(build_parser().parse_args(["sweep", "s", "--root", str(root), *flags]))


def test_a_sweep_run_again_layers_its_flags_on_its_saved_definition(root: Path) -> None:
    first = sweep_args(root, *TINY, "--num-epochs", "20", "--seed", "0,1", "--threads", "1")
    save_definition(root, first)  # type: ignore[arg-type]
    # longer: the members keep their experiment (p=11, d_model=16), only num_epochs changes
    longer = sweep_args(root, "--num-epochs", "40")
    assert [(m.tag, m.config.p, m.config.d_model, m.config.num_epochs) for m in longer.members] == [  # type: ignore[attr-defined]
        ("s.s0", 11, 16, 40), ("s.s1", 11, 16, 40)]
    # a value of a saved axis grows it
    grown = sweep_args(root, "--seed", "2")
    assert sorted(m.config.seed for m in grown.members) == [0, 1, 2]  # type: ignore[attr-defined]
    assert all(m.config.p == 11 for m in grown.members)  # type: ignore[attr-defined]
