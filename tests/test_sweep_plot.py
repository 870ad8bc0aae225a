"""The sweep's figure, from fixture members: the medians and ranges drawn are those of the members' grokking
epochs (checked against numpy), members that never grokked are counted apart, and `plot --sweep` writes
the format its --out names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.config import ConfigError
from grok_tui.run.phases import Event, save_events
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import expand, save_definition
from grok_tui.sweeps.results import member_results
from grok_tui.sweeps.figure import sweep_figure

# grokking epoch of each (frac_train, weight_decay, seed); None: never grokked
GROKKED = {(0.3, 1.0, 0): 1200, (0.3, 1.0, 1): 1500, (0.3, 1.0, 2): None,
           (0.5, 1.0, 0): 400, (0.5, 1.0, 1): 700, (0.5, 1.0, 2): 500,
           (0.3, 0.3, 0): None, (0.3, 0.3, 1): None, (0.3, 0.3, 2): None,
           (0.5, 0.3, 0): 900, (0.5, 0.3, 1): 2000, (0.5, 0.3, 2): 1100}


def make_sweep(root: Path, axes: dict[str, list[object]]) -> None:
    sweep = expand("f", tiny_config(num_epochs=3000), axes)
    save_definition(root, sweep)
    for member in sweep.members:
        paths = RunPaths.of(member.tag, root)
        member.config.save(paths.config)
        key = (member.config.frac_train, member.config.weight_decay, member.config.seed)
        grok = GROKKED[key]
        with RunLogWriter(paths.log) as log:
            log.write({"epoch": 3000, "train_loss": 1e-6, "test_loss": 0.01, "train_acc": 1.0,
                       "test_acc": 1.0 if grok else 0.4, "lr": 1e-3, "weight_norm": 5.0, "elapsed_s": 1.0})
        if grok is not None:
            save_events(paths.events, [Event("grokked", grok, "grokked")])


def test_one_axis_draws_the_median_line_and_counts_the_members_that_never_grokked(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    axes, results = member_results("f", tmp_path)
    fig = sweep_figure("f", axes, results)
    ax = fig.axes[0]
    median_line = ax.lines[-1]
    assert list(median_line.get_xdata()) == [0.3, 0.5]
    assert list(median_line.get_ydata()) == [np.median([1200, 1500]), np.median([400, 700, 500])]
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["1 not grokked\nby 3,000"]  # frac 0.3's seed 2 only


def test_two_axes_give_a_phase_diagram_of_medians_with_never_grokked_cells_blank(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"weight_decay": [0.3, 1.0], "frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    axes, results = member_results("f", tmp_path)
    fig = sweep_figure("f", axes, results)
    grid = fig.axes[0].images[0].get_array()
    # x: weight decay (the first swept field in tag order), y: frac_train; both sorted
    expected = np.array([[np.nan, np.median([1200, 1500])], [np.median([900, 2000, 1100]), np.median([400, 700, 500])]])
    assert grid.mask[0, 0] and not grid.mask[1, 1]
    np.testing.assert_array_equal(grid.filled(np.nan), expected)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert "never\n0/3" in texts and "1,350\n2/3" in texts


def test_more_than_two_axes_is_refused(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"weight_decay": [0.3, 1.0], "frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    axes, results = member_results("f", tmp_path)
    with pytest.raises(ConfigError, match="one or two swept fields besides seed"):
        sweep_figure("f", {**axes, "lr": [1e-3, 3e-3]}, results)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_plot_sweep_writes_the_format_named(tmp_path: Path, suffix: str, magic: bytes, capsys) -> None:  # type: ignore[no-untyped-def]
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    out = tmp_path / f"fig{suffix}"
    assert main(["plot", "--sweep", "f", "--root", str(tmp_path), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    curves = tmp_path / f"fig-curves{suffix}"  # the grouped comparison of the members' curves, beside it
    assert curves.read_bytes().startswith(magic)
    assert capsys.readouterr().out.split() == [str(out), str(curves)]


def test_plot_sweep_refuses_unknown_or_hostile_names(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["plot", "--sweep", "nope", "--root", str(tmp_path)]) == 2
    assert "no sweep 'nope'" in capsys.readouterr().err
    assert main(["plot", "--sweep", "../x", "--root", str(tmp_path)]) == 2
    assert "must be a valid tag" in capsys.readouterr().err
    assert main(["plot", "--root", str(tmp_path)]) == 2
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "bad.json").write_text("[" * 100_000)
    assert main(["plot", "--sweep", "bad", "--root", str(tmp_path)]) == 2
    assert "cannot be read as a sweep definition" in capsys.readouterr().err
    assert not (tmp_path / "sweeps" / "bad.png").exists()


def test_default_output_is_beside_the_definition(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    assert main(["plot", "--sweep", "f", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "sweeps" / "f.png").read_bytes().startswith(b"\x89PNG")
    assert dataclasses.is_dataclass(member_results("f", tmp_path)[1][0])
