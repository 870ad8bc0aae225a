"""PNG training curves from a run log, with matplotlib and no display.

The figure follows the paper's presentation (Nanda et al. 2023, figure 2): loss on a log scale, train
and test, over epochs; beside it the accuracies. Dashed markers show where train accuracy first
reaches 99% (memorization) and where test accuracy does (grokking). Figures are built as
`matplotlib.figure.Figure` on the Agg canvas, never through pyplot, so this works over SSH; pyplot
is used only when `show_plot=True` and a display exists.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from grok_tui.atomic import atomic_write_with
from grok_tui.config import OPERATIONS, Config, ConfigError
from grok_tui.errors import NoDataError
from grok_tui.runlog import Record, read_log
from grok_tui.runs import GROKKED_ACC, RunPaths, first_epoch_reaching

TRAIN_COLOR = "#1f77b4"
TEST_COLOR = "#d62728"
MEMORIZED_COLOR = "#7f7f7f"
GROKKED_COLOR = "#2ca02c"


def series(records: list[Record], key: str) -> np.ndarray:
    """Values of `key` as floats; missing or null values become NaN (a gap in the line)."""
    values = [r.get(key) for r in records]
    return np.array([v if isinstance(v, (int, float)) else np.nan for v in values], dtype=float)


def describe(config: Config | None, tag: str) -> str:
    if config is None:
        return f"grok-tui: {tag}"
    return (
        f"{tag}: p={config.p}, {OPERATIONS.get(config.operation, config.operation)}, "
        f"frac_train={config.frac_train:g}, d_model={config.d_model}, heads={config.num_heads}, "
        f"d_mlp={config.mlp_width}, lr={config.lr:g}, wd={config.weight_decay:g}, seed={config.seed}"
    )


def _mark_events(ax: Axes, records: list[Record]) -> None:
    for key, color, event in (("train_acc", MEMORIZED_COLOR, "memorized: train"),
                               ("test_acc", GROKKED_COLOR, "grokked: test")):
        epoch = first_epoch_reaching(records, key)
        if epoch is not None:
            ax.axvline(epoch, color=color, linestyle="--", linewidth=1,
                       label=f"{event} acc \u2265 {GROKKED_ACC:.0%} @ {epoch:,}")


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def training_figure(records: list[Record], title: str, log_x: bool = False, figure: Figure | None = None) -> Figure:
    """A two-panel figure (loss on log y, accuracy) from log records."""
    fig = figure if figure is not None else Figure(figsize=(12, 4.8), layout="constrained")
    epochs = series(records, "epoch")
    x = epochs + 1 if log_x else epochs  # epoch 0 has no place on a log axis
    loss_ax, acc_ax = fig.subplots(1, 2)
    for key, color, label in (("train_loss", TRAIN_COLOR, "train"), ("test_loss", TEST_COLOR, "test")):
        values = series(records, key)
        values[values <= 0] = np.nan  # exactly 0 cannot sit on a log axis
        loss_ax.plot(x, values, color=color, linewidth=1.2, label=f"{label} loss")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("cross-entropy loss (log scale)")
    for key, color, label in (("train_acc", TRAIN_COLOR, "train"), ("test_acc", TEST_COLOR, "test")):
        acc_ax.plot(x, 100 * series(records, key), color=color, linewidth=1.2, label=f"{label} accuracy")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.set_ylim(-2, 102)
    for ax in (loss_ax, acc_ax):
        _mark_events(ax, records)
        ax.set_xlabel("epoch + 1 (log scale)" if log_x else "epoch")
        if log_x:
            ax.set_xscale("log")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_training_curves(
    config_or_tag: Config | str,
    out: Path | str | None = None,
    show_plot: bool = False,
    root: Path | str | None = None,
    log_x: bool = False,
    dpi: int = 150,
) -> Figure:
    """Plot a run's curves from its log and save them as PNG.

    The PNG goes to `out`, or to logs/<tag>/training_curves.png. Returns the Figure. With
    show_plot=True the figure is also shown in a window when a display exists.
    """
    if isinstance(config_or_tag, Config):
        tag, config = config_or_tag.tag, config_or_tag
    else:
        tag, config = config_or_tag, None
    paths = RunPaths.of(tag, root)
    if config is None and paths.config.exists():
        try:
            config = Config.load(paths.config)
        except ConfigError:
            config = None  # the curves are still worth drawing; the title just says less
    records = read_log(paths.log)
    if not records:
        raise NoDataError(f"{paths.log}: no log records to plot (has run {tag!r} been trained?)")
    show = show_plot and _has_display()
    if show_plot and not show:
        warnings.warn("show_plot: no display here; the PNG is written instead", stacklevel=2)
    figure = None
    if show:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(12, 4.8), layout="constrained")
    fig = training_figure(records, describe(config, tag), log_x=log_x, figure=figure)
    target = Path(out) if out is not None else paths.curves_png
    atomic_write_with(target, lambda handle: fig.savefig(handle, format="png", dpi=dpi))
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig
