"""The figure of a sweep: epochs to grok against the swept values (Power et al. 2022, Fig. 1's shape) for
one axis, or a phase diagram (median epochs to grok over seeds, as a heatmap) for two; beside it, the
fraction of each cell's seeds that grokked by each epoch (a Kaplan–Meier curve).

Seeds are never an axis of the figure: they give each point its median. A member that has not grokked by
its last logged epoch E counts as censored at E (grok_tui/figures/survival.py): it is drawn as a grey
triangle at E, never as a number it did not reach, and it is in the median, which is "> E" (a hollow
triangle at E) when half or more of the seeds had not grokked by then. Each value's "k/n grokked" is under
its tick, so no note is drawn over the data or the axes. Everything is read from the members' own files
(grok_tui/sweeps/results.py); headless (Agg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from grok_tui.core.config import ConfigError
from grok_tui.figures.survival import Censored
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import (
    value_text,
)
from grok_tui.sweeps.results import MemberResult, grok_curve, grok_summary, member_results

NOT_GROKKED_COLOR = "#bbbbbb"
MEDIAN_COLOR = "#0072B2"
SWEEP_SIZE = (11.0, 4.4)  # the epochs-to-grok panel and the fraction-grokked panel side by side
NARROW = 7.5  # inches: narrower than this, the two panels are stacked
LOG_AXIS_MODES = ("auto", "on", "off")
LOG_FIELDS = ("lr", "weight_decay", "adam_eps")  # swept over decades: a log axis when they span one or more


def use_log_axis(field: str, values: list[Any], mode: str = "auto") -> bool:
    """Whether the swept field's axis is logarithmic: `on`, `off`, or `auto` (lr, weight decay and adam_eps
    whose values span a decade or more). ConfigError for `on` with a value a log axis cannot show."""
    if mode not in LOG_AXIS_MODES:
        raise ConfigError([f"log_axis: must be one of {', '.join(LOG_AXIS_MODES)} (got {mode!r})"])
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    positive = len(numbers) == len(values) and bool(numbers) and min(numbers) > 0
    if mode == "on" and not positive:
        raise ConfigError([f"log_axis: on needs every {field} positive "
                           f"(got {', '.join(value_text(v) for v in values)})"])
    if mode == "off" or not positive:
        return False
    return mode == "on" or (field in LOG_FIELDS and max(numbers) / min(numbers) >= 10)


@dataclass(frozen=True)
class SweepPoint:
    """What the epochs-to-grok panel draws at one swept value: its seeds and their censored median."""

    value: Any
    x: float  # where on the axis (the value, or its index for text values)
    summary: Censored
    grokked: list[int]  # each grokked seed's epoch
    censored: list[int]  # each other seed's last logged epoch (0: not started)

    @property
    def tick(self) -> str:
        return f"{value_text(self.value)}\n{self.summary.happened}/{self.summary.runs}"


def sweep_points(field: str, values: list[Any], results: list[MemberResult]) -> list[SweepPoint]:
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    order = sorted(values) if numeric else list(values)
    points = []
    for index, value in enumerate(order):
        group = [r for r in results if r.member.values.get(field) == value]
        points.append(SweepPoint(value, float(value) if numeric else float(index), grok_summary(group),
                                 [r.grokked for r in group if r.grokked is not None],
                                 [r.epoch for r in group if r.grokked is None]))
    return points


def sweep_figure(name: str, axes: dict[str, list[Any]], results: list[MemberResult],
                 size: tuple[float, float] = SWEEP_SIZE, log_axis: str = "auto") -> Figure:
    varied = [field for field in axes if field != "seed"]
    if len(varied) > 2:
        raise ConfigError([f"sweep: the figure draws one or two swept fields besides seed "
                           f"(this sweep has {len(varied)}: {', '.join(varied)})"])
    fig = Figure(figsize=size, layout="constrained")
    narrow = size[0] < NARROW
    main_ax, km_ax = fig.subplots(2, 1) if narrow else fig.subplots(1, 2, width_ratios=[1.15, 1])
    seeds = len(axes.get("seed", [None]))
    over = f" over {seeds} seed{'s' if seeds != 1 else ''}"
    if len(varied) == 2:
        cells = _heatmap(fig, main_ax, varied, axes, results)
        main_ax.set_title(f"median epochs to 99% test accuracy{over}\n(k/n: seeds that grokked; grey: half or more did not)")
    else:
        field = varied[0] if varied else "seed"
        cells = _line(main_ax, field, axes[field], results, log_axis)
        main_ax.set_title(f"epochs to 99% test accuracy: median{over}\n(seeds that did not grok counted, not dropped)")
    _fraction_panel(km_ax, cells)
    fig.suptitle(f"sweep {name}")
    return fig


def _line(ax: Any, field: str, values: list[Any], results: list[MemberResult],
          log_axis: str) -> list[tuple[str, list[MemberResult]]]:
    points = sweep_points(field, values, results)
    ceiling = max([1, *(e for p in points for e in p.grokked + p.censored)])
    for point in points:  # only what is there: the legend names no kind of mark the figure lacks
        if point.grokked:
            ax.scatter([point.x] * len(point.grokked), point.grokked, s=14, color=MEDIAN_COLOR, alpha=0.45,
                       zorder=2, label="a seed: grokked")
        if point.censored:
            ax.scatter([point.x] * len(point.censored), point.censored, marker="^", s=30, color=NOT_GROKKED_COLOR,
                       zorder=2, label="a seed: not grokked by its last epoch")
        if point.summary.median is None and point.summary.runs:
            ax.scatter([point.x], [point.summary.beyond], marker="^", s=70, facecolors="none",
                       edgecolors=MEDIAN_COLOR, linewidths=1.4, zorder=3, label="median not reached (> that epoch)")
    reached = [(p.x, p.summary.median) for p in points if p.summary.median is not None]
    if reached:
        ax.plot(*zip(*reached), color=MEDIAN_COLOR, linewidth=1.2, marker="o", zorder=3,
                label="median, not-grokked seeds counted")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric and use_log_axis(field, values, log_axis):
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks([p.x for p in points], [p.tick for p in points])  # the value and k/n grokked under it
    ax.set_xlabel(f"{field} (k/n: seeds that grokked)")
    ax.set_ylabel("epochs to 99% test accuracy")
    ax.set_ylim(0, ceiling * 1.08)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))  # one entry per kind, in the order drawn
    ax.legend(unique.values(), unique.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2,
              fontsize="small", frameon=False)
    return [(f"{field}={value_text(p.value)}", [r for r in results if r.member.values.get(field) == p.value])
            for p in points]


def heatmap_label(summary: Censored) -> str:
    """A phase-diagram cell: '1,500\\n2/3', or '> 3,000\\n0/3' when half or more had not grokked."""
    number = f"{summary.median:,.0f}" if summary.median is not None else f"> {summary.beyond or 0:,.0f}"
    return f"{number}\n{summary.happened}/{summary.runs}"


def _heatmap(fig: Figure, ax: Any, varied: list[str], axes: dict[str, list[Any]],
             results: list[MemberResult]) -> list[tuple[str, list[MemberResult]]]:
    x_field, y_field = varied
    x_values = sorted(axes[x_field]) if all(isinstance(v, (int, float)) for v in axes[x_field]) else axes[x_field]
    y_values = sorted(axes[y_field]) if all(isinstance(v, (int, float)) for v in axes[y_field]) else axes[y_field]
    grid = np.full((len(y_values), len(x_values)), np.nan)
    labels = {}
    cells = []
    for i, y in enumerate(y_values):
        for j, x in enumerate(x_values):
            group = [r for r in results if r.member.values.get(x_field) == x and r.member.values.get(y_field) == y]
            summary = grok_summary(group)
            if summary.median is not None:
                grid[i, j] = summary.median
            labels[i, j] = heatmap_label(summary) if group else "-"
            cells.append((f"{x_field}={value_text(x)}, {y_field}={value_text(y)}", group))
    finite = grid[np.isfinite(grid)]
    norm = LogNorm(vmin=max(1.0, float(finite.min())), vmax=max(2.0, float(finite.max()))) if finite.size else None
    ax.set_facecolor(NOT_GROKKED_COLOR)  # cells whose median was not reached show the background
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis_r", norm=norm, origin="lower", aspect="auto")
    for (i, j), text in labels.items():
        dark = False
        if math.isfinite(grid[i, j]) and norm is not None:
            red, green, blue, _ = image.cmap(float(norm(grid[i, j])))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # white text on a dark cell
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(len(x_values)), [value_text(v) for v in x_values])
    ax.set_yticks(range(len(y_values)), [value_text(v) for v in y_values])
    ax.set_xlabel(x_field)
    ax.set_ylabel(y_field)
    if finite.size:
        fig.colorbar(image, ax=ax, label="median epochs to grok")
    return cells


def _fraction_panel(ax: Any, cells: list[tuple[str, list[MemberResult]]]) -> None:
    """Each cell's fraction of seeds grokked by each epoch: a Kaplan–Meier step curve, a tick where a seed
    stopped being watched without grokking."""
    colors = colormaps["viridis"](np.linspace(0, 0.85, max(1, len(cells))))
    for (label, group), color in zip(cells, colors):
        curve = grok_curve(group)
        if not curve.times.size:
            continue
        summary = grok_summary(group)
        ax.step(curve.times, 100 * curve.fraction, where="post", color=color, linewidth=1.4,
                label=f"{label} ({summary.happened}/{summary.runs})")
        ax.scatter(curve.censored_times, 100 * curve.censored_fraction, marker="|", s=60, color=color, zorder=3)
    ax.set_ylim(-3, 103)
    ax.set_xlim(left=0)
    ax.set_xlabel("epoch (|: a seed not grokked by its last epoch)")
    ax.set_ylabel("seeds grokked (%)")
    ax.set_title("fraction of seeds grokked by each epoch (Kaplan–Meier)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2 if len(cells) > 3 else 1,
                  fontsize="small", frameon=False)


def plot_sweep(name: str, out: Path | str | None = None, root: Path | str = ".", dpi: int = 150,
               size: tuple[float, float] | None = None, log_axis: str = "auto") -> list[Path]:
    """The sweep's figure (default ROOT/sweeps/NAME.png) and, beside it as NAME-curves.<suffix>, the grouped
    comparison of its members' curves (seed groups as median and band, grok_tui/plotting.py)."""
    import warnings

    from grok_tui.core.errors import NoDataError
    from grok_tui.figures.comparison import plot_comparison
    from grok_tui.figures.style import save_figure, styled

    axes, results = member_results(name, root)
    size = size or SWEEP_SIZE
    with styled(size):
        fig = sweep_figure(name, axes, results, size, log_axis)
        target = Path(out) if out is not None else Path(root) / "sweeps" / f"{name}.png"
        written = [save_figure(fig, target, dpi=dpi)]
    started = [r.member.tag for r in results if r.epoch > 0 or RunPaths.of(r.member.tag, root).log.exists()]
    curves = target.with_name(f"{target.stem}-curves{target.suffix}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # members not started yet are simply not drawn
            plot_comparison(started, out=curves, root=root, dpi=dpi)
        written.append(curves)
    except NoDataError:
        pass  # no member has a log line yet: the sweep figure alone
    return written


__all__ = ["LOG_AXIS_MODES", "MemberResult", "SWEEP_SIZE", "SweepPoint", "heatmap_label", "member_results",
           "plot_sweep", "sweep_figure", "sweep_points", "use_log_axis"]
