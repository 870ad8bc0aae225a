"""The comparison figure: several runs (test accuracy, train and test loss), each seed group of
grok_tui/figures/groups.py drawn as its median line and min-max band, the legend (groups' labels, and with
show_runs one entry per run) below the panels; the loss axes name the objective, or a note under the title
says the runs shown minimize different ones."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from grok_tui.core.errors import NoDataError
from grok_tui.figures.groups import (
    Group,
    band,
    group_runs,
    group_stats,
    load_members,
    loss_axis_text,
    objectives,
    run_label,
    shared_text,
    single_groups,
)
from grok_tui.figures.style import (COMPARE_COLORS, COMPARE_SIZE, NARROW_COMPARISON, figure_format, legend_columns,
                                    save_figure, styled, wrap_title)

COMPARE_PANELS = (("test_acc", "test accuracy (%)"), ("train_loss", "train loss (log)"), ("test_loss", "test loss (log)"))
RUN_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 1)))  # one per member drawn with show_runs


def _epoch_text(value: float) -> str:
    return f"{value:,.0f}"


def legend_label(group: Group) -> str:
    """The group's label (groups.group_label, the TUI's table text) and when it grokked (median and range)."""
    stats = group_stats(group)
    if not any(len(m.series) for m in group.members):
        return f"{group.label}: no data"
    grokked = stats.grokked.text(_epoch_text)
    return f"{group.label}: grokked {grokked}" if grokked != "-" else f"{group.label}: not grokked"


def panel_label(key: str, label: str, groups: Sequence[Group], narrow: bool) -> str:
    """A panel's y label; a loss panel names the objective ('train loss (log), softmax CE'). Where that
    does not fit (mixed objectives, a narrow figure's stacked panels) objective_note says it instead."""
    configs = [m.config for g in groups for m in g.members]
    if key == "test_acc" or narrow or len(objectives(configs)) > 1:
        return label
    return loss_axis_text(label, configs, short=True)


def objective_note(groups: Sequence[Group], narrow: bool) -> str:
    """A line under the title for what the loss axes cannot say: that they mix objectives (always said),
    or on a narrow figure which objective they show; '' when the axes say it themselves."""
    found = objectives([m.config for g in groups for m in g.members], short=True)
    if len(found) > 1:
        return f"losses: {' and '.join(found)} mixed (not one quantity)"
    return f"losses: {found[0]}" if narrow and found else ""


def comparison_figure(groups: Sequence[Group], title: str, log_x: bool = False, show_runs: bool = False,
                      figure: Figure | None = None, size: tuple[float, float] = COMPARE_SIZE) -> Figure:
    """Test accuracy, train and test loss of every group: median line and min-max band over its members
    (a single run is its own line); with show_runs each member is drawn too, thin, in a line style of its
    own with a legend entry (its tag and seed). Legend outside."""
    fig = figure if figure is not None else Figure(figsize=size, layout="constrained")
    narrow = size[0] < NARROW_COMPARISON
    axes = list(fig.subplots(3, 1, sharex=True) if narrow else fig.subplots(1, 3, sharex=True))
    handles = []
    for index, group in enumerate(groups):
        color = COMPARE_COLORS[index % len(COMPARE_COLORS)]
        members = [m for m in group.members if len(m.series)]
        line = None
        run_lines: list[Line2D] = []
        for ax, (key, _) in zip(axes, COMPARE_PANELS):
            scale = 100.0 if key == "test_acc" else 1.0
            if not members:
                continue
            if len(members) > 1:
                stats = band([m.series for m in members], key)
                x = stats.epochs + 1.0 if log_x else stats.epochs.astype(float)
                ax.fill_between(x, scale * stats.low, scale * stats.high, color=color, alpha=0.2, linewidth=0)
                drawn = ax.plot(x, scale * stats.median, color=color, linewidth=1.4)
            else:
                one = members[0].series
                x = one.epochs + 1.0 if log_x else one.epochs.astype(float)
                drawn = ax.plot(x, scale * _positive(one.values(key), key), color=color, linewidth=1.4)
            if show_runs and len(members) > 1:
                run_lines = []
                for number, member in enumerate(members):
                    one = member.series
                    x = one.epochs + 1.0 if log_x else one.epochs.astype(float)
                    run_lines += ax.plot(x, scale * _positive(one.values(key), key), color=color, linewidth=0.8,
                                         alpha=0.8, linestyle=RUN_STYLES[number % len(RUN_STYLES)])
            line = line or drawn[0]
        if line is None:
            line = axes[0].plot([], [], color=color, linewidth=1.4)[0]
        handles.append((line, legend_label(group)))
        for member, run_line in zip(members, run_lines):
            handles.append((run_line, f"  {run_label(member.config, member.tag, ['seed'])}"))
    for ax, (key, label) in zip(axes, COMPARE_PANELS):
        ax.set_ylabel(panel_label(key, label, groups, narrow))
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
    note = objective_note(groups, narrow)
    fig.suptitle(wrap_title(title, fig) + (f"\n{note}" if note else ""))
    return fig


def comparison_title(tags: Sequence[str], groups: Sequence[Group]) -> str:
    """'3 runs: a, b, c' (or '12 runs in 4 groups'), and what they all share: optimizer, interventions."""
    members = [m for g in groups for m in g.members]
    text = f"{len(members)} runs: {', '.join(tags)}" if len(tags) <= 6 else f"{len(members)} runs in {len(groups)} groups"
    shared = shared_text([m.config for m in members])
    return f"{text}; {shared}" if shared else text


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
    with styled(size):
        fig = comparison_figure(groups, comparison_title(tags, groups), log_x=log_x, show_runs=show_runs, size=size)
        save_figure(fig, target, dpi)
    return fig
