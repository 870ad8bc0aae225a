"""PNG figures from a run log, with matplotlib and no display.

Two figures follow the paper's presentation (Nanda et al. 2023): the training curves (figure 2: loss
on a log scale, train and test, over epochs; beside it the accuracies) and the progress measures
(figures 5-7: restricted and excluded loss beside train and test loss, the Gini coefficients, the
sum of squared weights, and the embedding's Fourier norms per frequency with the key frequencies).
Dashed lines mark the phase events of grok_tui/phases.py on every panel over epochs. Figures are built as
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
from grok_tui.phases import EVENT_LABELS, Event, track
from grok_tui.runlog import Record, read_log
from grok_tui.runs import RunPaths

TRAIN_COLOR = "#1f77b4"
TEST_COLOR = "#d62728"
RESTRICTED_COLOR = "#9467bd"
EXCLUDED_COLOR = "#ff7f0e"
EVENT_COLORS = {"memorized": "#7f7f7f", "circuit_formation": "#17becf", "grokked": "#2ca02c"}


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
    events = track(records).events
    for ax in (loss_ax, acc_ax):
        _epoch_panel(ax, events, log_x)
    fig.suptitle(title, fontsize=10)
    return fig


def _epoch_panel(ax: Axes, events: list[Event], log_x: bool) -> None:
    """A panel over epochs: a dashed line per phase event, axis labels, grid and legend."""
    for event in events:
        ax.axvline(event.epoch, color=EVENT_COLORS[event.name], linestyle="--", linewidth=1,
                   label=f"{EVENT_LABELS[event.name]} @ {event.epoch:,}")
    ax.set_xlabel("epoch + 1 (log scale)" if log_x else "epoch")
    if log_x:
        ax.set_xscale("log")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def _measured(records: list[Record], x: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The points where `key` was measured (progress measures are on some lines only)."""
    values = series(records, key)
    present = np.isfinite(values)
    return x[present], values[present]


def measures_figure(records: list[Record], title: str, log_x: bool = False, figure: Figure | None = None) -> Figure:
    """The progress measures in four panels; NoDataError when the log holds no measurement."""
    norms_record = next((r for r in reversed(records) if isinstance(r.get("embed_freq_norms"), list)), None)
    if norms_record is None:
        raise NoDataError("no progress measures in the log (measure_every was 0, or no measurement yet)")
    fig = figure if figure is not None else Figure(figsize=(12, 8.4), layout="constrained")
    epochs = series(records, "epoch")
    x = epochs + 1 if log_x else epochs
    (loss_ax, gini_ax), (norm_ax, freq_ax) = fig.subplots(2, 2)

    for key, color, label in (("restricted_loss", RESTRICTED_COLOR, "restricted loss (all inputs)"),
                              ("excluded_loss", EXCLUDED_COLOR, "excluded loss (train)"),
                              ("train_loss", TRAIN_COLOR, "train loss"), ("test_loss", TEST_COLOR, "test loss")):
        xs, values = _measured(records, x, key)
        values[values <= 0] = np.nan
        loss_ax.plot(xs, values, color=color, linewidth=1.2, label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("cross-entropy loss (log scale)")
    loss_ax.set_title("restricted and excluded loss", fontsize=10)

    for key, color, label in (("gini_embed", RESTRICTED_COLOR, "Gini of W_E's Fourier norms"),
                              ("gini_unembed", EXCLUDED_COLOR, "Gini of W_L's Fourier norms")):
        gini_ax.plot(*_measured(records, x, key), color=color, linewidth=1.2, label=label)
    gini_ax.set_ylim(0, 1)
    gini_ax.set_ylabel("Gini coefficient")
    gini_ax.set_title("sparsity in the Fourier basis", fontsize=10)

    norm_ax.plot(*_measured(records, x, "weight_norm"), color="#444444", linewidth=1.2, label="sum of squared weights")
    norm_ax.set_ylabel("sum of squared weights")
    norm_ax.set_title("total weight norm", fontsize=10)
    events = track(records).events
    for ax in (loss_ax, gini_ax, norm_ax):
        _epoch_panel(ax, events, log_x)

    norms = np.array([v if isinstance(v, (int, float)) else np.nan for v in norms_record["embed_freq_norms"]])
    keys = [k for k in norms_record.get("key_freqs", []) if isinstance(k, int) and 1 <= k <= len(norms)]
    freqs = np.arange(1, len(norms) + 1)
    colors = [RESTRICTED_COLOR if k in keys else "#b0b0b0" for k in freqs]
    freq_ax.bar(freqs, norms, color=colors, width=0.8)
    for k in keys:
        freq_ax.annotate(str(k), (k, norms[k - 1]), textcoords="offset points", xytext=(0, 3),
                         ha="center", fontsize=8, color=RESTRICTED_COLOR)
    freq_ax.set_xlabel("frequency k")
    freq_ax.set_ylabel("norm of W_E's Fourier components")
    freq_ax.set_title(f"W_E by frequency, epoch {int(norms_record['epoch']):,} "
                      f"(key: {', '.join(map(str, keys)) or 'none'})", fontsize=10)
    freq_ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"progress measures \u2014 {title}", fontsize=10)
    return fig


def _load_run(config_or_tag: Config | str, root: Path | str | None) -> tuple[RunPaths, str, list[Record]]:
    """The run's paths, its figure title and its log records (NoDataError when there are none)."""
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
    return paths, describe(config, tag), records


def _save_png(fig: Figure, target: Path, dpi: int) -> None:
    atomic_write_with(target, lambda handle: fig.savefig(handle, format="png", dpi=dpi))


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
    paths, title, records = _load_run(config_or_tag, root)
    show = show_plot and _has_display()
    if show_plot and not show:
        warnings.warn("show_plot: no display here; the PNG is written instead", stacklevel=2)
    figure = None
    if show:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(12, 4.8), layout="constrained")
    fig = training_figure(records, title, log_x=log_x, figure=figure)
    _save_png(fig, Path(out) if out is not None else paths.curves_png, dpi)
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig


def plot_progress_measures(
    config_or_tag: Config | str,
    out: Path | str | None = None,
    root: Path | str | None = None,
    log_x: bool = False,
    dpi: int = 150,
) -> Figure:
    """The progress-measures figure as PNG, to `out` or logs/<tag>/progress_measures.png."""
    paths, title, records = _load_run(config_or_tag, root)
    try:
        fig = measures_figure(records, title, log_x=log_x)
    except NoDataError as err:
        raise NoDataError(f"{paths.log}: {err}") from None
    _save_png(fig, Path(out) if out is not None else paths.measures_png, dpi)
    return fig


def export_run(tag: str, root: Path | str | None = None) -> list[Path]:
    """Both figures at their default paths (the measures only when the log has some); the paths written."""
    paths = RunPaths.of(tag, root)
    plot_training_curves(tag, root=root)
    written = [paths.curves_png]
    try:
        plot_progress_measures(tag, root=root)
        written.append(paths.measures_png)
    except NoDataError:
        pass  # a run without measures (measure_every=0) has only the curves
    return written
