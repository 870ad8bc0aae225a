"""The figure of a sweep: epochs to grok against the swept values (Power et al. 2022, Fig. 1's shape) for
one axis, or a phase diagram (median epochs to grok over seeds, as a heatmap) for two.

Seeds are never an axis of the figure: they give each point its median and min-max range. A member that
has not grokked (test accuracy < 99% so far) is drawn apart and counted, never as a number it did not
reach. Everything is read from the members' own files (events.json, the log's last line); headless (Agg).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from grok_tui.core.config import ConfigError
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import (
    value_text,
)
from grok_tui.sweeps.results import MemberResult, grok_stats, member_results

NOT_GROKKED_COLOR = "#bbbbbb"


def _log_axis(values: list[Any]) -> bool:
    numbers = [v for v in values if isinstance(v, (int, float))]
    return len(numbers) == len(values) and min(numbers) > 0 and max(numbers) / min(numbers) >= 10


def sweep_figure(name: str, axes: dict[str, list[Any]], results: list[MemberResult],
                 size: tuple[float, float] = (6.4, 4.4)) -> Figure:
    varied = [field for field in axes if field != "seed"]
    if len(varied) > 2:
        raise ConfigError([f"sweep: the figure draws one or two swept fields besides seed "
                           f"(this sweep has {len(varied)}: {', '.join(varied)})"])
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    seeds = len(axes.get("seed", [None]))
    if len(varied) == 2:
        _heatmap(fig, ax, varied, axes, results)
        fig.suptitle(f"sweep {name}: median epochs to 99% test accuracy over {seeds} seed{'s' if seeds != 1 else ''}"
                     "\n(k/n: seeds that grokked; grey: none did)")
    else:
        field = varied[0] if varied else "seed"
        _line(ax, field, axes[field], results)
        fig.suptitle(f"sweep {name}: epochs to 99% test accuracy"
                     + (f" (median, min-max over {seeds} seeds)" if varied and seeds > 1 else ""))
    return fig


def _line(ax: Any, field: str, values: list[Any], results: list[MemberResult]) -> None:
    numeric = all(isinstance(v, (int, float)) for v in values)
    order = sorted(values) if numeric else list(values)
    xs = order if numeric else list(range(len(order)))
    ceiling = max([r.member.config.num_epochs for r in results] or [1])
    for x, value in zip(xs, order):
        group = [r for r in results if r.member.values.get(field) == value]
        median, low, high, count = grok_stats(group)
        grokked = [r.grokked for r in group if r.grokked is not None]
        ax.scatter([x] * len(grokked), grokked, s=14, color="#0072B2", alpha=0.45, zorder=2)
        if median is not None and low is not None and high is not None:
            ax.errorbar([x], [median], yerr=[[median - low], [high - median]], fmt="o", color="#0072B2",
                        capsize=4, zorder=3)
        missing = len(group) - count
        if missing:
            ax.scatter([x], [ceiling], marker="^", s=40, color=NOT_GROKKED_COLOR, zorder=3)
            ax.annotate(f"{missing} not grokked\nby {ceiling:,}", (x, ceiling), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=7, color="#666666")
    medians = [(grok_stats([r for r in results if r.member.values.get(field) == v])[0], x) for x, v in zip(xs, order)]
    line = [(x, m) for m, x in medians if m is not None]
    if line:
        ax.plot(*zip(*line), color="#0072B2", linewidth=1.2, zorder=1)
    if numeric and _log_axis(order):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(xs, [value_text(v) for v in order])
    ax.set_xlabel(field)
    ax.set_ylabel("epochs to 99% test accuracy")
    ax.set_ylim(0, ceiling * 1.15)
    ax.grid(alpha=0.3)


def _heatmap(fig: Figure, ax: Any, varied: list[str], axes: dict[str, list[Any]],
             results: list[MemberResult]) -> None:
    x_field, y_field = varied
    x_values = sorted(axes[x_field]) if all(isinstance(v, (int, float)) for v in axes[x_field]) else axes[x_field]
    y_values = sorted(axes[y_field]) if all(isinstance(v, (int, float)) for v in axes[y_field]) else axes[y_field]
    grid = np.full((len(y_values), len(x_values)), np.nan)
    labels = {}
    for i, y in enumerate(y_values):
        for j, x in enumerate(x_values):
            group = [r for r in results if r.member.values.get(x_field) == x and r.member.values.get(y_field) == y]
            median, _, _, count = grok_stats(group)
            if median is not None:
                grid[i, j] = median
            labels[i, j] = (f"{median:,.0f}\n" if median is not None else "never\n") + f"{count}/{len(group)}"
    finite = grid[np.isfinite(grid)]
    norm = LogNorm(vmin=max(1.0, float(finite.min())), vmax=max(2.0, float(finite.max()))) if finite.size else None
    ax.set_facecolor(NOT_GROKKED_COLOR)  # cells that never grokked show the background
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


def plot_sweep(name: str, out: Path | str | None = None, root: Path | str = ".", dpi: int = 150,
               size: tuple[float, float] | None = None) -> list[Path]:
    """The sweep's figure (default ROOT/sweeps/NAME.png) and, beside it as NAME-curves.<suffix>, the grouped
    comparison of its members' curves (seed groups as median and band, grok_tui/plotting.py)."""
    import warnings

    from grok_tui.core.errors import NoDataError
    from grok_tui.figures.comparison import plot_comparison
    from grok_tui.figures.style import save_figure

    axes, results = member_results(name, root)
    fig = sweep_figure(name, axes, results, size or (6.4, 4.4))
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


__all__ = ["MemberResult", "grid_axes", "grok_stats", "member_results", "members_at", "plot_sweep",
           "sweep_figure"]
