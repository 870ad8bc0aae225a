"""Figures from run logs (PNG, PDF or SVG), with matplotlib and no display.

Two figures follow the paper's presentation (Nanda et al. 2023): the training curves (figure 2: loss
on a log scale, train and test, over epochs; beside it the accuracies) and the progress measures
(figures 5-7: restricted and excluded loss beside train and test loss, the Gini coefficients, the
sum of squared weights, the embedding's Fourier norms per frequency with the key frequencies, and
their history as a frequency x epoch heatmap: the key frequencies growing while the others fade).
Dashed lines mark the phase events of grok_tui/phases.py on every panel over epochs. Figures are built as
`matplotlib.figure.Figure` on the Agg canvas, never through pyplot, so this works over SSH; pyplot
is used only when `show_plot=True` and a display exists.

The comparison figure (several runs: test accuracy, train and test loss) draws each seed group of
grok_tui/groups.py as its median line and min-max band, with the legend outside the panels. Every
figure is written in the format its file's suffix names (.png, .pdf, .svg) through matplotlib's own
backends, at `size` inches, with font sizes chosen for that size (a 3.5-inch column figure too).
"""

from __future__ import annotations

import hashlib
import os
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from grok_tui.atomic import atomic_write_with
from grok_tui.config import OPERATIONS, Config, ConfigError
from grok_tui.errors import NoDataError
from grok_tui.figure_log import FigureLog, read_figure_log
from grok_tui.groups import Group, band, group_runs, group_stats, load_members, single_groups
from grok_tui.phases import EVENT_LABELS, Event, track
from grok_tui.runlog import Record
from grok_tui.runs import RunPaths

TRAIN_COLOR = "#1f77b4"
TEST_COLOR = "#d62728"
RESTRICTED_COLOR = "#9467bd"
EXCLUDED_COLOR = "#ff7f0e"
EVENT_COLORS = {"memorized": "#7f7f7f", "circuit_formation": "#17becf", "grokked": "#2ca02c"}
# One colour per group or run in a comparison: Okabe-Ito (readable for colour-blind readers), then tab10.
COMPARE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                  "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd")
SPECTRUM_TAGS = {"memorized": "memorized", "circuit_formation": "circuit", "grokked": "grokked"}
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
CURVES_SIZE, MEASURES_SIZE, COMPARE_SIZE = (12.0, 4.8), (12.0, 11.4), (13.0, 4.2)
MIN_INCHES, MAX_INCHES, MAX_PIXELS = 1.0, 40.0, 100_000_000


class FigureFormatError(ValueError):
    """A figure path whose suffix names no format we write."""


def figure_format(path: Path | str) -> str:
    """The format a figure path's suffix names: png, pdf or svg (FigureFormatError otherwise)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise FigureFormatError(f"{path}: the file name must end in .png, .pdf or .svg (got {suffix or 'no suffix'!r})")
    return FORMATS[suffix]


def check_size(width: float, height: float, dpi: int) -> None:
    """A figure size in inches that a paper column or a screen can hold (ValueError otherwise)."""
    for name, value in (("width", width), ("height", height)):
        if not (MIN_INCHES <= value <= MAX_INCHES):
            raise ValueError(f"{name}: must be between {MIN_INCHES:g} and {MAX_INCHES:g} inches (got {value:g})")
    if width * height * dpi * dpi > MAX_PIXELS:
        raise ValueError(f"size: {width:g} x {height:g} inches at {dpi} dpi is over {MAX_PIXELS:,} pixels")


def font_sizes(width: float) -> dict[str, Any]:
    """matplotlib font settings for a figure `width` inches wide: 10 pt on a wide figure, down to 7 pt
    on a 3.5-inch one-column figure (the size it is printed at, so it stays readable)."""
    base = 10.0 if width >= 9 else 9.0 if width >= 6 else 8.0 if width >= 4.5 else 7.0
    return {"font.size": base, "axes.titlesize": base, "axes.labelsize": base, "xtick.labelsize": base - 1,
            "ytick.labelsize": base - 1, "legend.fontsize": base - 1, "figure.titlesize": base}


def wrap_title(title: str, fig: Figure) -> str:
    """The title broken into lines that fit the figure's width (a 3.5-inch figure holds ~45 characters)."""
    points = fig.get_figwidth() * 72
    per_line = max(20, int(points / (0.55 * float(matplotlib.rcParams["figure.titlesize"]
                                                   if isinstance(matplotlib.rcParams["figure.titlesize"], (int, float))
                                                   else matplotlib.rcParams["font.size"]))))
    return "\n".join(textwrap.wrap(title, per_line)) or title


@contextmanager
def _styled(size: tuple[float, float]) -> Iterator[None]:
    with matplotlib.rc_context(font_sizes(size[0])):  # type: ignore[arg-type]
        yield


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


def training_figure(records: list[Record], title: str, log_x: bool = False, figure: Figure | None = None,
                    events: list[Event] | None = None) -> Figure:
    """A two-panel figure (loss on log y, accuracy) from log records; `events`: the phase events of the
    whole log when `records` are a thinned part of it (default: found in `records`)."""
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
    events = track(records).events if events is None else events
    for ax in (loss_ax, acc_ax):
        _epoch_panel(ax, events, log_x)
    fig.suptitle(wrap_title(title, fig))
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
    ax.legend(loc="best")


def _measured(records: list[Record], x: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The points where `key` was measured (progress measures are on some lines only)."""
    values = series(records, key)
    present = np.isfinite(values)
    return x[present], values[present]


def measures_figure(records: list[Record], title: str, log_x: bool = False, figure: Figure | None = None,
                    events: list[Event] | None = None) -> Figure:
    """The progress measures in five panels; NoDataError when the log holds no measurement. `events` as
    for training_figure."""
    norms_record = next((r for r in reversed(records) if isinstance(r.get("embed_freq_norms"), list)), None)
    if norms_record is None:
        raise NoDataError("no progress measures in the log (measure_every was 0, or no measurement yet)")
    fig = figure if figure is not None else Figure(figsize=MEASURES_SIZE, layout="constrained")
    epochs = series(records, "epoch")
    x = epochs + 1 if log_x else epochs
    axes = fig.subplot_mosaic([["loss", "gini"], ["norm", "freq"], ["spectrum", "spectrum"]])
    loss_ax, gini_ax, norm_ax, freq_ax = (axes[name] for name in ("loss", "gini", "norm", "freq"))

    for key, color, label in (("restricted_loss", RESTRICTED_COLOR, "restricted loss (all inputs)"),
                              ("excluded_loss", EXCLUDED_COLOR, "excluded loss (train)"),
                              ("train_loss", TRAIN_COLOR, "train loss"), ("test_loss", TEST_COLOR, "test loss")):
        xs, values = _measured(records, x, key)
        values[values <= 0] = np.nan
        loss_ax.plot(xs, values, color=color, linewidth=1.2, label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("cross-entropy loss (log scale)")
    loss_ax.set_title("restricted and excluded loss")

    for key, color, label in (("gini_embed", RESTRICTED_COLOR, "Gini of W_E's Fourier norms"),
                              ("gini_unembed", EXCLUDED_COLOR, "Gini of W_L's Fourier norms")):
        gini_ax.plot(*_measured(records, x, key), color=color, linewidth=1.2, label=label)
    gini_ax.set_ylim(0, 1)
    gini_ax.set_ylabel("Gini coefficient")
    gini_ax.set_title("sparsity in the Fourier basis")

    norm_ax.plot(*_measured(records, x, "weight_norm"), color="#444444", linewidth=1.2, label="sum of squared weights")
    norm_ax.set_ylabel("sum of squared weights")
    norm_ax.set_title("total weight norm")
    events = track(records).events if events is None else events
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
                      f"(key: {', '.join(map(str, keys)) or 'none'})")
    freq_ax.grid(True, axis="y", alpha=0.3)
    _spectrogram_panel(axes["spectrum"], fig, records, len(norms), keys, events, log_x)
    fig.suptitle(wrap_title(f"progress measures \u2014 {title}", fig))
    return fig


def _spectrogram_panel(ax: Axes, fig: Figure, records: list[Record], n_freqs: int, keys: list[int],
                       events: list[Event], log_x: bool) -> None:
    """W_E's Fourier norm per frequency (rows) at every measurement (columns), the final key
    frequencies named on the left: the circuit's frequencies appearing and the others fading."""
    measured = [r for r in records if isinstance(r.get("embed_freq_norms"), list) and len(r["embed_freq_norms"]) == n_freqs]
    epochs = np.array([float(r["epoch"]) for r in measured])
    norms = np.array([[v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
                       for v in r["embed_freq_norms"]] for r in measured], dtype=float)
    x = epochs + 1 if log_x else epochs
    # Cell edges half-way between measurements, so each column is centred on its epoch.
    if len(x) > 1:
        mids = (x[1:] + x[:-1]) / 2
        edges = np.concatenate(([x[0] - (mids[0] - x[0])], mids, [x[-1] + (x[-1] - mids[-1])]))
    else:
        edges = np.array([x[0] - 0.5, x[0] + 0.5])
    if log_x:
        edges = np.maximum(edges, x[0] * 0.9)  # a log axis has no place for an edge <= 0
    mesh = ax.pcolormesh(edges, np.arange(0.5, n_freqs + 1), norms.T, cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label="norm of W_E's Fourier component", pad=0.01)
    # The events are named at the top of their lines, not in a legend that would cover the heatmap.
    for event in events:
        at = event.epoch + 1 if log_x else event.epoch
        ax.axvline(at, color=EVENT_COLORS[event.name], linestyle="--", linewidth=1)
        ax.text(at, 1.005, f" {SPECTRUM_TAGS[event.name]}", transform=ax.get_xaxis_transform(),
                color=EVENT_COLORS[event.name], fontsize="small", va="bottom", ha="left")
    if log_x:
        ax.set_xscale("log")
    ax.set_yticks(sorted(keys) if keys else [1, n_freqs])
    ax.tick_params(axis="y", labelsize="small")
    for label in ax.get_yticklabels():
        label.set_color(RESTRICTED_COLOR if keys else "black")
    ax.set_ylabel("frequency k (key frequencies named)")
    ax.set_xlabel("epoch + 1 (log scale)" if log_x else "epoch")
    ax.set_title("W_E's Fourier norms over training, per frequency", pad=14)


def _load_run(config_or_tag: Config | str, root: Path | str | None) -> tuple[RunPaths, str, FigureLog]:
    """The run's paths, its figure title and its log read for a figure (grok_tui/figure_log.py: thinned
    while read, so a 1,000,000-line log plots in bounded memory). NoDataError when there are no records."""
    if isinstance(config_or_tag, Config):
        tag, config = config_or_tag.tag, config_or_tag
    else:
        tag, config = config_or_tag, None
    paths = RunPaths.of(tag, root)
    if config is None and paths.config.exists():
        try:
            config = Config.load(paths.config)
        except ConfigError as err:  # the curves are still worth drawing; the title just says less
            warnings.warn(f"{err}; the figure's title names the tag only", stacklevel=3)
    log = read_figure_log(paths.log)
    if log.problem:
        raise NoDataError(log.problem)
    if not log.records:
        raise NoDataError(f"{paths.log}: no log records to plot (has run {tag!r} been trained?)")
    return paths, describe(config, tag), log


def save_figure(fig: Figure, target: Path | str, dpi: int = 150) -> Path:
    """Write `fig` atomically in the format `target`'s suffix names (.png, .pdf, .svg)."""
    target = Path(target)
    fmt = figure_format(target)
    atomic_write_with(target, lambda handle: fig.savefig(handle, format=fmt, dpi=dpi))
    return target


def plot_training_curves(
    config_or_tag: Config | str,
    out: Path | str | None = None,
    show_plot: bool = False,
    root: Path | str | None = None,
    log_x: bool = False,
    dpi: int = 150,
    size: tuple[float, float] = CURVES_SIZE,
) -> Figure:
    """Plot a run's curves from its log and save them (PNG, PDF or SVG by `out`'s suffix).

    The file goes to `out`, or to logs/<tag>/training_curves.png. Returns the Figure. With
    show_plot=True the figure is also shown in a window when a display exists.
    """
    target = Path(out) if out is not None else None
    if target is not None:
        figure_format(target)  # a bad suffix is refused before any work
    paths, title, log = _load_run(config_or_tag, root)
    show = show_plot and _has_display()
    if show_plot and not show:
        warnings.warn("show_plot: no display here; the PNG is written instead", stacklevel=2)
    figure = None
    if show:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=size, layout="constrained")
    with _styled(size):
        fig = training_figure(log.records, title, log_x=log_x,
                              figure=figure if figure is not None else Figure(figsize=size, layout="constrained"),
                              events=log.events)
        save_figure(fig, target if target is not None else paths.curves_png, dpi)
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
    size: tuple[float, float] = MEASURES_SIZE,
) -> Figure:
    """The progress-measures figure (PNG, PDF or SVG by `out`'s suffix), to `out` or
    logs/<tag>/progress_measures.png."""
    target = Path(out) if out is not None else None
    if target is not None:
        figure_format(target)
    paths, title, log = _load_run(config_or_tag, root)
    with _styled(size):
        try:
            fig = measures_figure(log.records, title, log_x=log_x, figure=Figure(figsize=size, layout="constrained"),
                                  events=log.events)
        except NoDataError as err:
            raise NoDataError(f"{paths.log}: {err}") from None
        save_figure(fig, target if target is not None else paths.measures_png, dpi)
    return fig


def export_run(tag: str, root: Path | str | None = None, log_x: bool = False) -> list[Path]:
    """Both figures at their default paths (the measures only when the log has some); the paths written."""
    paths = RunPaths.of(tag, root)
    plot_training_curves(tag, root=root, log_x=log_x)
    written = [paths.curves_png]
    try:
        plot_progress_measures(tag, root=root, log_x=log_x)
        written.append(paths.measures_png)
    except NoDataError:
        pass  # a run without measures (measure_every=0) has only the curves
    return written


def export_snapshot(tag: str, root: Path | str | None = None, log_x: bool = False) -> list[Path]:
    """Both figures of a run that is still training, named by the last epoch they show
    (logs/<tag>/training_curves-epoch1200.png, progress_measures-epoch1200.png): the automatic export
    at the end of the run writes the usual names and so never replaces a figure exported on the way."""
    paths, title, log = _load_run(tag, root)
    epoch = int(log.records[-1]["epoch"])
    curves = paths.log_dir / f"{paths.curves_png.stem}-epoch{epoch}.png"
    with _styled(CURVES_SIZE):
        save_figure(training_figure(log.records, title, log_x=log_x, events=log.events,
                                    figure=Figure(figsize=CURVES_SIZE, layout="constrained")), curves)
    written = [curves]
    with _styled(MEASURES_SIZE):
        try:
            figure = measures_figure(log.records, title, log_x=log_x, events=log.events,
                                     figure=Figure(figsize=MEASURES_SIZE, layout="constrained"))
        except NoDataError:
            return written  # a run without measures (measure_every=0) has only the curves
        written.append(save_figure(figure, paths.log_dir / f"{paths.measures_png.stem}-epoch{epoch}.png"))
    return written


# ---------------------------------------------------------------- comparison of runs

COMPARE_PANELS = (("test_acc", "test accuracy (%)"), ("train_loss", "train loss (log scale)"),
                  ("test_loss", "test loss (log scale)"))


def _epoch_text(value: float) -> str:
    return f"{value:,.0f}"


def legend_label(group: Group) -> str:
    """The group's label and when it grokked (median and range over seeds)."""
    stats = group_stats(group)
    if not any(len(m.series) for m in group.members):
        return f"{group.label}: no data"
    grokked = stats.grokked.text(_epoch_text)
    return f"{group.label}: grokked {grokked}" if grokked != "-" else f"{group.label}: not grokked"


def comparison_figure(groups: Sequence[Group], title: str, log_x: bool = False, show_runs: bool = False,
                      figure: Figure | None = None, size: tuple[float, float] = COMPARE_SIZE) -> Figure:
    """Test accuracy, train and test loss of every group: median line and min-max band over its members
    (a single run is its own line); with show_runs each member is drawn too, thin. Legend outside."""
    fig = figure if figure is not None else Figure(figsize=size, layout="constrained")
    narrow = size[0] < 7.5
    axes = list(fig.subplots(3, 1, sharex=True) if narrow else fig.subplots(1, 3, sharex=True))
    handles = []
    for index, group in enumerate(groups):
        color = COMPARE_COLORS[index % len(COMPARE_COLORS)]
        members = [m.series for m in group.members if len(m.series)]
        line = None
        for ax, (key, _) in zip(axes, COMPARE_PANELS):
            scale = 100.0 if key == "test_acc" else 1.0
            if not members:
                continue
            if len(members) > 1:
                stats = band(members, key)
                x = stats.epochs + 1.0 if log_x else stats.epochs.astype(float)
                ax.fill_between(x, scale * stats.low, scale * stats.high, color=color, alpha=0.2, linewidth=0)
                drawn = ax.plot(x, scale * stats.median, color=color, linewidth=1.4)
            else:
                one = members[0]
                x = one.epochs + 1.0 if log_x else one.epochs.astype(float)
                drawn = ax.plot(x, scale * _positive(one.values(key), key), color=color, linewidth=1.4)
            if show_runs and len(members) > 1:
                for one in members:
                    x = one.epochs + 1.0 if log_x else one.epochs.astype(float)
                    ax.plot(x, scale * _positive(one.values(key), key), color=color, linewidth=0.6, alpha=0.6)
            line = line or drawn[0]
        if line is None:
            line = axes[0].plot([], [], color=color, linewidth=1.4)[0]
        handles.append((line, legend_label(group)))
    for ax, (key, label) in zip(axes, COMPARE_PANELS):
        ax.set_ylabel(label)
        if key == "test_acc":
            ax.set_ylim(-2, 102)
        else:
            ax.set_yscale("log")
        if log_x:
            ax.set_xscale("log")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[-1:] if narrow else axes:
        ax.set_xlabel("epoch + 1 (log scale)" if log_x else "epoch")
    if handles:
        lines, labels = zip(*handles)
        # Below the panels, never over a curve; as many columns as the longest label leaves room for.
        fig.legend(lines, labels, loc="outside lower center", ncols=legend_columns(fig, labels, narrow),
                   title="median and min-max over seeds" if any(len(g.members) > 1 for g in groups) else None)
    fig.suptitle(wrap_title(title, fig))
    return fig


def legend_columns(fig: Figure, labels: Sequence[str], narrow: bool, most: int = 3) -> int:
    """Legend columns that fit the figure's width: a label's width is estimated from its length in
    characters (about 0.6 of the font size each, plus the line sample), so long labels get one column."""
    if narrow:
        return 1
    size = matplotlib.rcParams["legend.fontsize"]
    font = float(size) if isinstance(size, (int, float)) else float(matplotlib.rcParams["font.size"])
    width = fig.get_figwidth() * 72  # points
    column = (max(len(label) for label in labels) * 0.6 + 4) * font
    return max(1, min(most, len(labels), int(width // column)))


def _positive(values: np.ndarray, key: str) -> np.ndarray:
    if key == "test_acc":
        return values
    out = np.array(values, dtype=float)
    out[out <= 0] = np.nan  # exactly 0 cannot sit on a log axis
    return out


def default_comparison_path(tags: Sequence[str], root: Path | str | None = None) -> Path:
    """logs/compare-<tag>+<tag>....png, or a short name with a digest when the tags are many or long."""
    logs = (Path(root) if root is not None else Path.cwd()) / "logs"
    name = "+".join(tags)
    if len(name) > 120:
        name = f"{tags[0]}+{len(tags) - 1}-more-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return logs / f"compare-{name}.png"


def plot_comparison(
    tags: Sequence[str],
    out: Path | str | None = None,
    root: Path | str | None = None,
    log_x: bool = False,
    dpi: int = 150,
    size: tuple[float, float] = COMPARE_SIZE,
    show_runs: bool = False,
    grouped: bool = True,
    warn: bool = True,
) -> Figure:
    """The comparison figure of `tags` (seed groups as median and band unless grouped=False), written to
    `out` (PNG, PDF or SVG by suffix) or logs/compare-....png. A run with a problem (broken config, no
    log) is warned about and drawn as far as it can be; NoDataError when no run has any record."""
    target = Path(out) if out is not None else default_comparison_path(tags, root)
    figure_format(target)
    members = load_members(tags, root)
    for member in members:
        if member.problem and warn:  # warn=False: a caller (the TUI) that shows the problems itself
            warnings.warn(f"{member.tag}: {member.problem}", stacklevel=2)
    if not any(len(m.series) for m in members):
        raise NoDataError(f"no log records in any of the runs {', '.join(tags)}")
    groups = group_runs(members) if grouped else single_groups(members)
    with _styled(size):
        fig = comparison_figure(groups, f"{len(members)} runs: {', '.join(tags)}" if len(tags) <= 6
                                else f"{len(members)} runs in {len(groups)} groups", log_x=log_x,
                                show_runs=show_runs, size=size)
        save_figure(fig, target, dpi)
    return fig
