"""Figures from run logs (PNG, PDF or SVG), with matplotlib and no display.

Two figures follow the paper's presentation (Nanda et al. 2023): the training curves (figure 2: loss
on a log scale, train and test, over epochs; beside it the accuracies) and the progress measures
(figures 5-7: restricted and excluded loss beside train and test loss, the Gini coefficients, the
sum of squared weights, the embedding's Fourier norms per frequency with the key frequencies, and
their history as a frequency x epoch heatmap: the key frequencies growing while the others fade).
Dashed lines mark the phase events of grok_tui/run/phases.py on every panel over epochs. Legends sit below
the panels, never over a curve; titles name the run's optimizer and interventions, loss axes its objective. Figures are built as
`matplotlib.figure.Figure` on the Agg canvas, never through pyplot, so this works over SSH; pyplot
is used only when `show_plot=True` and a display exists.

The comparison figure (several runs: test accuracy, train and test loss) draws each seed group of
grok_tui/figures/groups.py as its median line and min-max band, with the legend outside the panels. Every
figure is written in the format its file's suffix names (.png, .pdf, .svg) through matplotlib's own
backends, at `size` inches, with font sizes chosen for that size (a 3.5-inch column figure too).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

from grok_tui.core.config import OPERATIONS, Config, ConfigError
from grok_tui.core.errors import NoDataError
from grok_tui.figures.figure_log import FigureLog, read_figure_log
from grok_tui.figures.groups import interventions_text, objective_text, optimizer_text
from grok_tui.figures.series import freq_norms_of, key_freqs_of, plottable
from grok_tui.run.log import Record
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import EVENT_LABELS, Event, track
from grok_tui.figures.style import (CURVES_SIZE, EVENT_COLORS, EXCLUDED_COLOR, MEASURES_SIZE, RESTRICTED_COLOR,
                                    SPECTRUM_TAGS, TEST_COLOR, TRAIN_COLOR, figure_format, has_display,
                                    legend_columns, save_figure, series, short_objective, styled,
                                    wrap_title)


NAMED_KEYS = 12  # key frequencies named on the measures figure at most (the paper's runs have about 5)
BARS_MAX = 1_000  # frequencies drawn as bars at most (p <= 2,001; the form allows p <= 1,000): more are lines


def describe(config: Config | None, tag: str) -> str:
    """A figure's title: the run's task, model, optimizer and seed, and its interventions when it has any."""
    if config is None:
        return f"grok-tui: {tag}"
    text = (
        f"{tag}: p={config.p}, {OPERATIONS.get(config.operation, config.operation)}, "
        f"frac_train={config.frac_train:g}, d_model={config.d_model}, heads={config.num_heads}, "
        f"d_mlp={config.mlp_width}, {optimizer_text(config)}, seed={config.seed}"
    )
    interventions = interventions_text(config)
    return f"{text}; {interventions}" if interventions else text


def training_figure(records: list[Record], title: str, log_x: bool = False, figure: Figure | None = None,
                    events: list[Event] | None = None, objective: str = "cross-entropy") -> Figure:
    """A two-panel figure (loss on log y, accuracy) from log records; `events`: the phase events of the
    whole log when `records` are a thinned part of it (default: found in `records`); `objective`: the
    loss the run minimizes, for the loss axis (groups.objective_text)."""
    fig = figure if figure is not None else Figure(figsize=(12, 4.8), layout="constrained")
    epochs = series(records, "epoch")
    x = epochs + 1 if log_x else epochs  # epoch 0 has no place on a log axis
    loss_ax, acc_ax = fig.subplots(1, 2)
    shown = False
    for key, color, label in (("train_loss", TRAIN_COLOR, "train"), ("test_loss", TEST_COLOR, "test")):
        values = plottable(series(records, key), log=True)
        shown |= bool(np.isfinite(values).any())
        loss_ax.plot(x, values, color=color, linewidth=1.2, label=label)
    _log_y(loss_ax, shown)
    loss_ax.set_ylabel(f"{short_objective(objective, fig)} loss (log scale)")
    for key, color in (("train_acc", TRAIN_COLOR), ("test_acc", TEST_COLOR)):
        acc_ax.plot(x, 100 * plottable(series(records, key)), color=color, linewidth=1.2)
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.set_ylim(-2, 102)
    events = track(records).events if events is None else events
    for ax in (loss_ax, acc_ax):
        _epoch_panel(ax, events, log_x)
    # One legend for both panels (the colours are train and test in both), below them: never over a curve.
    handles, labels = loss_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=legend_columns(fig, labels, narrow=False, most=5))
    fig.suptitle(wrap_title(title, fig))
    return fig


def _log_y(ax: Axes, shown: bool) -> None:
    """A log y axis; one with no line on it (every value zero, negative or missing) gets a decade around 1,
    since matplotlib's log ticks refuse the default limits of an empty axis."""
    ax.set_yscale("log")
    if not shown:
        ax.set_ylim(0.1, 10)


def _epoch_panel(ax: Axes, events: list[Event], log_x: bool) -> None:
    """A panel over epochs: a dashed line per phase event (labelled for a legend), axis labels and grid."""
    for event in events:
        ax.axvline(event.epoch + 1 if log_x else event.epoch, color=EVENT_COLORS[event.name], linestyle="--",
                   linewidth=1, label=f"{EVENT_LABELS[event.name]} @ {event.epoch:,}")
    ax.set_xlabel("epoch + 1 (log scale)" if log_x else "epoch")
    if log_x:
        ax.set_xscale("log")
        if not np.isfinite(ax.dataLim.intervalx).all():  # nothing drawn: log ticks refuse an empty axis's limits
            ax.set_xlim(1, 10)
    ax.grid(True, which="major", alpha=0.3)


def _legend_below(ax: Axes, fig: Figure) -> None:
    """The panel's legend under its x axis (tick labels and axis label cleared), outside the data area;
    constrained layout makes room for it. The gap is in points, so it holds at every panel height."""
    font = float(matplotlib.rcParams["font.size"])
    below = ScaledTranslation(0, -3.4 * font / 72, fig.dpi_scale_trans)  # ~ tick labels and the x label
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=ax.transAxes + below,
              ncols=2 if fig.get_figwidth() >= 10 else 1, borderaxespad=0.0)


def _measured(records: list[Record], x: np.ndarray, key: str, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The points where `key` was measured (progress measures are on some lines only) that its axis can show."""
    values = plottable(series(records, key), log)
    present = np.isfinite(values)
    return x[present], values[present]


def measures_figure(records: list[Record], title: str, log_x: bool = False, figure: Figure | None = None,
                    events: list[Event] | None = None, objective: str = "cross-entropy") -> Figure:
    """The progress measures in five panels; NoDataError when the log holds no measurement. `events` and
    `objective` as for training_figure."""
    norms_record = next((r for r in reversed(records) if isinstance(r.get("embed_freq_norms"), list)
                         and r["embed_freq_norms"]), None)
    if norms_record is None:
        raise NoDataError("no progress measures in the log (measure_every was 0, or no measurement yet)")
    fig = figure if figure is not None else Figure(figsize=MEASURES_SIZE, layout="constrained")
    epochs = series(records, "epoch")
    x = epochs + 1 if log_x else epochs
    axes = fig.subplot_mosaic([["loss", "gini"], ["norm", "freq"], ["spectrum", "spectrum"]])
    loss_ax, gini_ax, norm_ax, freq_ax = (axes[name] for name in ("loss", "gini", "norm", "freq"))

    shown = False
    for key, color, label in (("restricted_loss", RESTRICTED_COLOR, "restricted loss (all inputs)"),
                              ("excluded_loss", EXCLUDED_COLOR, "excluded loss (train)"),
                              ("train_loss", TRAIN_COLOR, "train loss"), ("test_loss", TEST_COLOR, "test loss")):
        xs, values = _measured(records, x, key, log=True)
        shown |= bool(values.size)
        loss_ax.plot(xs, values, color=color, linewidth=1.2, label=label)
    _log_y(loss_ax, shown)
    loss_ax.set_ylabel(f"{short_objective(objective, fig)} loss (log scale)")
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
        _legend_below(ax, fig)

    norms = np.array(freq_norms_of(norms_record["embed_freq_norms"]), dtype=float)
    all_keys = key_freqs_of(norms_record.get("key_freqs"), len(norms))
    keys = all_keys[:NAMED_KEYS]  # a label each: thousands of them took minutes to lay out
    more = f" +{len(all_keys) - len(keys):,} more" if len(all_keys) > len(keys) else ""
    freqs = np.arange(1, len(norms) + 1)
    highlighted = set(all_keys)
    colors = [RESTRICTED_COLOR if k in highlighted else "#b0b0b0" for k in freqs]
    if len(freqs) <= BARS_MAX:
        freq_ax.bar(freqs, norms, color=colors, width=0.8)
    else:  # one line each, in one collection: a bar is a patch of its own, 3 ms each to place and draw
        freq_ax.vlines(freqs, 0, np.nan_to_num(norms), colors=colors, linewidth=0.5)
    for k in keys:
        freq_ax.annotate(str(k), (k, np.nan_to_num(norms[k - 1])), textcoords="offset points", xytext=(0, 3),
                         ha="center", fontsize=8, color=RESTRICTED_COLOR)
    freq_ax.set_xlabel("frequency k")
    freq_ax.set_ylabel("norm of W_E's Fourier components")
    freq_ax.set_title(f"W_E by frequency, epoch {int(norms_record['epoch']):,} "
                      f"(key: {', '.join(map(str, keys)) or 'none'}{more})")
    freq_ax.grid(True, axis="y", alpha=0.3)
    _spectrogram_panel(axes["spectrum"], fig, records, len(norms), keys, events, log_x)
    fig.suptitle(wrap_title(f"progress measures \u2014 {title}", fig))
    return fig


def _spectrogram_panel(ax: Axes, fig: Figure, records: list[Record], n_freqs: int, keys: list[int],
                       events: list[Event], log_x: bool) -> None:
    """W_E's Fourier norm per frequency (rows) at every measurement (columns), the final key
    frequencies named on the left: the circuit's frequencies appearing and the others fading."""
    measured = sorted((r for r in records if isinstance(r.get("embed_freq_norms"), list)
                       and len(r["embed_freq_norms"]) == n_freqs), key=lambda r: int(r["epoch"]))  # cells left to right
    epochs = np.array([float(r["epoch"]) for r in measured])
    norms = np.array([freq_norms_of(r["embed_freq_norms"]) for r in measured], dtype=float)
    finite = norms[np.isfinite(norms)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0  # all NaN: no colour scale to find
    x = epochs + 1 if log_x else epochs
    # Cell edges half-way between measurements, so each column is centred on its epoch.
    if len(x) > 1:
        mids = (x[1:] + x[:-1]) / 2
        edges = np.concatenate(([x[0] - (mids[0] - x[0])], mids, [x[-1] + (x[-1] - mids[-1])]))
    else:
        edges = np.array([x[0] - 0.5, x[0] + 0.5])
    if log_x:
        edges = np.maximum(edges, x[0] * 0.9)  # a log axis has no place for an edge <= 0
    mesh = ax.pcolormesh(edges, np.arange(0.5, n_freqs + 1), norms.T, cmap="viridis", shading="flat", vmin=0, vmax=top)
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


def _load_run(config_or_tag: Config | str, root: Path | str | None) -> tuple[RunPaths, str, FigureLog, str]:
    """The run's paths, its figure title, its log read for a figure and its objective (grok_tui/figures/figure_log.py: thinned
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
    log = read_figure_log(paths.log, log_every=config.log_every if config is not None else None)
    if log.problem:
        raise NoDataError(log.problem)
    if not log.records:
        raise NoDataError(f"{paths.log}: no log records to plot (has run {tag!r} been trained?)")
    return paths, describe(config, tag), log, objective_text(config)


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
    paths, title, log, objective = _load_run(config_or_tag, root)
    show = show_plot and has_display()
    if show_plot and not show:
        warnings.warn("show_plot: no display here; the PNG is written instead", stacklevel=2)
    figure = None
    if show:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=size, layout="constrained")
    with styled(size):
        fig = training_figure(log.records, title, log_x=log_x,
                              figure=figure if figure is not None else Figure(figsize=size, layout="constrained"),
                              events=log.events, objective=objective)
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
    paths, title, log, objective = _load_run(config_or_tag, root)
    with styled(size):
        try:
            fig = measures_figure(log.records, title, log_x=log_x, figure=Figure(figsize=size, layout="constrained"),
                                  events=log.events, objective=objective)
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
    paths, title, log, objective = _load_run(tag, root)
    epoch = int(log.records[-1]["epoch"])
    curves = paths.log_dir / f"{paths.curves_png.stem}-epoch{epoch}.png"
    with styled(CURVES_SIZE):
        save_figure(training_figure(log.records, title, log_x=log_x, events=log.events, objective=objective,
                                    figure=Figure(figsize=CURVES_SIZE, layout="constrained")), curves)
    written = [curves]
    with styled(MEASURES_SIZE):
        try:
            figure = measures_figure(log.records, title, log_x=log_x, events=log.events, objective=objective,
                                     figure=Figure(figsize=MEASURES_SIZE, layout="constrained"))
        except NoDataError:
            return written  # a run without measures (measure_every=0) has only the curves
        written.append(save_figure(figure, paths.log_dir / f"{paths.measures_png.stem}-epoch{epoch}.png"))
    return written


# ---------------------------------------------------------------- comparison of runs


