"""The sweep's figure, from fixture members: the medians drawn are the censored ones (a member that never
grokked counts as "not by its last epoch", never dropped; "> E" when half or more did not), each value's
k/n is under its tick with no note over the axes, the fraction-grokked panel is the Kaplan-Meier curve,
the swept field's log axis follows --log-axis, and `plot --sweep` writes the format its --out names."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.config import ConfigError
from grok_tui.run.phases import save_events, track
from grok_tui.run.log import RunLogWriter, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import expand, save_definition
from grok_tui.sweeps.results import member_results
from grok_tui.sweeps.figure import sweep_figure, sweep_points, use_log_axis

# grokking epoch of each (frac_train, weight_decay, seed); None: never grokked
GROKKED = {(0.3, 1.0, 0): 1200, (0.3, 1.0, 1): 1500, (0.3, 1.0, 2): None,
           (0.5, 1.0, 0): 400, (0.5, 1.0, 1): 700, (0.5, 1.0, 2): 500,
           (0.3, 0.3, 0): None, (0.3, 0.3, 1): None, (0.3, 0.3, 2): None,
           (0.5, 0.3, 0): 900, (0.5, 0.3, 1): 2000, (0.5, 0.3, 2): 1100}


def make_sweep(root: Path, axes: dict[str, list[object]], **base: Any) -> None:
    sweep = expand("f", tiny_config(num_epochs=3000, **base), axes)
    save_definition(root, sweep)
    for member in sweep.members:
        paths = RunPaths.of(member.tag, root)
        member.config.save(paths.config)
        key = (member.config.frac_train, member.config.weight_decay, member.config.seed)
        write_member_log(paths, GROKKED[key])


def write_member_log(paths: RunPaths, grok: int | None, last: int = 3000) -> None:
    """The log lines grok_tui/run/phases.py reads the events from: the start, the grokking epoch (test
    accuracy 100%) if it came by `last`, and `last` (100%, or 40% for a member that has not grokked)."""
    grokked = grok is not None and grok <= last
    paths.log.unlink(missing_ok=True)  # the writer appends: a member written again starts over
    with RunLogWriter(paths.log) as log:
        for epoch, acc in ((0, 0.0), *(((grok, 1.0),) if grokked and grok < last else ()),
                           (last, 1.0 if grokked else 0.4)):
            log.write({"epoch": epoch, "train_loss": 1e-6, "test_loss": 0.01, "train_acc": 1.0,
                       "test_acc": acc, "lr": 1e-3, "weight_norm": 5.0, "elapsed_s": epoch / 100})
    save_events(paths.events, track(read_log(paths.log)).events)  # as the trainer keeps them


def labelled(ax: Any, label: str) -> Any:
    return next(artist for artist in ax.get_children() if getattr(artist, "get_label", lambda: "")() == label)


def test_one_axis_draws_the_censored_median_and_every_seed(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    axes, results = member_results("f", tmp_path)
    fig = sweep_figure("f", axes, results)
    ax = fig.axes[0]
    median_line = labelled(ax, "median, not-grokked seeds counted")
    assert list(median_line.get_xdata()) == [0.3, 0.5]
    # frac 0.3: 1,200, 1,500 and one never grokked by 3,000: the middle seed is 1,500 (not 1,350, the
    # median of the two that grokked); frac 0.5: 400, 500, 700
    assert list(median_line.get_ydata()) == [1500, 500]
    never = labelled(ax, "a seed: not grokked by its last epoch")
    assert never.get_offsets().tolist() == [[0.3, 3000]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.3\n2/3", "0.5\n3/3"]
    assert len(ax.texts) == 0  # nothing written over the data or a tick label


def test_a_median_that_is_not_reached_is_drawn_as_a_bound(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]}, weight_decay=0.3)
    axes, results = member_results("f", tmp_path)
    low, high = sweep_points("frac_train", axes["frac_train"], results)
    assert (low.summary.median, low.summary.beyond, low.summary.happened) == (None, 3000, 0)
    assert (high.summary.median, high.grokked) == (1100, [900, 2000, 1100])
    ax = sweep_figure("f", axes, results).axes[0]
    assert labelled(ax, "median not reached (> that epoch)").get_offsets().tolist() == [[0.3, 3000]]
    assert list(labelled(ax, "median, not-grokked seeds counted").get_ydata()) == [1100]


def test_the_fraction_grokked_panel_is_the_kaplan_meier_curve(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    axes, results = member_results("f", tmp_path)
    panel = sweep_figure("f", axes, results).axes[1]
    low = labelled(panel, "frac_train=0.3 (2/3)")
    # step() draws the post-steps as a path: check its corners
    assert list(low.get_xdata()) == [0, 1200, 1500, 3000]
    np.testing.assert_allclose(low.get_ydata(), [0, 100 / 3, 200 / 3, 200 / 3])
    assert list(labelled(panel, "frac_train=0.5 (3/3)").get_ydata()) == pytest.approx([0, 100 / 3, 200 / 3, 100, 100])


def test_two_axes_give_a_phase_diagram_of_censored_medians(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"weight_decay": [0.3, 1.0], "frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    axes, results = member_results("f", tmp_path)
    fig = sweep_figure("f", axes, results)
    grid = fig.axes[0].images[0].get_array()
    # x: weight decay (the first swept field in tag order), y: frac_train; both sorted
    expected = np.array([[np.nan, 1500], [1100, 500]])
    assert grid.mask[0, 0] and not grid.mask[1, 1]
    np.testing.assert_array_equal(grid.filled(np.nan), expected)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1,100\n3/3", "1,500\n2/3", "500\n3/3", "> 3,000\n0/3"]


@pytest.mark.parametrize("field, values, mode, log", [
    ("lr", [1e-3, 3e-3, 1e-2], "auto", True), ("lr", [1e-3, 3e-3], "auto", False),
    ("weight_decay", [0.1, 1.0], "auto", True), ("frac_train", [0.05, 0.9], "auto", False),
    ("lr", [1e-3, 1e-2], "off", False), ("frac_train", [0.3, 0.5], "on", True),
    ("weight_decay", [0.0, 0.1, 1.0], "auto", False)])
def test_log_axis_is_automatic_for_lr_and_weight_decay_over_a_decade(field: str, values: list[float], mode: str,
                                                                      log: bool) -> None:
    assert use_log_axis(field, values, mode) is log


def test_log_axis_flag_reaches_the_figure_and_a_bad_one_is_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_sweep(tmp_path, {"weight_decay": [0.3, 1.0], "seed": [0, 1]})
    axes, results = member_results("f", tmp_path)
    assert sweep_figure("f", axes, results).axes[0].get_xscale() == "linear"  # 0.3-1: less than a decade
    assert sweep_figure("f", axes, results, log_axis="on").axes[0].get_xscale() == "log"
    out = tmp_path / "f.svg"
    assert main(["plot", "--sweep", "f", "--root", str(tmp_path), "--out", str(out), "--log-axis", "on"]) == 0
    assert main(["plot", "--sweep", "f", "--root", str(tmp_path), "--log-axis", "sideways"]) == 2
    assert "--log-axis" in capsys.readouterr().err
    assert main(["plot", "x", "--root", str(tmp_path), "--log-axis", "on"]) == 2
    assert capsys.readouterr().err.strip().endswith("argument --log-axis: goes with --sweep (grok-tui plot --sweep NAME --log-axis on)")
    with pytest.raises(ConfigError, match=r"log_axis: on needs every weight_decay positive \(got 0, 1\)"):
        use_log_axis("weight_decay", [0.0, 1.0], "on")


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
