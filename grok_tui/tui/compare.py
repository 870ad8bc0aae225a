"""The compare view: several runs overlaid, seed groups as median line and min-max band, live.

One chart per metric (test accuracy on top, beside it the fraction of each group's runs grokked by each
epoch; train and test loss, log scale, below), every group (or, on `t`, every run) in its own colour. The
legend sits outside the charts: it is the summary table under them, one row per group or run with its
colour, when it memorized, formed the circuit and grokked (censored medians over seeds with k/n,
grok_tui/figures/groups.py), its final accuracies and its training time to grok. Each run's log is tailed by byte offset (RunLogReader, RunSeries) twice a second, as the live
view does, and the charts are rebuilt only when a log gained records, the size or the axes changed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual_plotext import PlotextPlot

from grok_tui.core.config import Config, ConfigError
from grok_tui.core.text import format_duration, format_percent
from grok_tui.figures.axes import spaced_labels
from grok_tui.figures.groups import (
    Group,
    GroupStats,
    Member,
    band,
    grokked_curve,
    group_runs,
    group_stats,
    loss_axis_text,
    objectives,
    single_groups,
    tags_text,
)
from grok_tui.figures.series import (
    RunSeries,
    downsample_minmax,
    linear_ticks,
    log10_safe,
    log_ticks,
)
from grok_tui.figures.style import COMPARE_COLORS
from grok_tui.run.log import RunLogReader
from grok_tui.run.paths import RunPaths
from grok_tui.tui.charts import epoch_axis
from grok_tui.tui.keys import FIRST_KEYS

REFRESH_S = 0.5
UI_CHUNK = 1024 * 1024  # bytes of log parsed per run and slice on the UI thread
TITLES = {"test_acc": "test accuracy (%)", "train_loss": "train loss (log)", "test_loss": "test loss (log)"}
RGB = tuple[int, int, int]


def rgb(hex_color: str) -> RGB:
    """The figure's colours on screen too, as RGB (drawn as given, not through the theme's ANSI map)."""
    value = hex_color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


PALETTE: tuple[RGB, ...] = tuple(rgb(c) if c != "#000000" else (230, 230, 230) for c in COMPARE_COLORS)


def dim(color: RGB) -> RGB:
    return (color[0] // 2, color[1] // 2, color[2] // 2)


class CompareChart(PlotextPlot):
    """One metric of every group: the median line and, dimmer, the band's min and max lines."""

    def __init__(self, key: str, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self.key = key
        self._drawn_key: tuple[object, ...] | None = None

    def draw(self, groups: list[Group], version: tuple[int, ...], log_x: bool, force: bool = False) -> bool:
        key = (version, tuple(g.label for g in groups), log_x, self.size.width, self.size.height)
        if key == self._drawn_key and not force:
            return False
        self._drawn_key = key
        self.plt.clear_data()
        self.plt.clear_figure()
        self.build(groups, log_x)
        self.refresh()
        return True

    def _transform(self, values: np.ndarray) -> np.ndarray:
        return 100.0 * np.asarray(values, dtype=np.float64) if self.key == "test_acc" else log10_safe(values)

    def build(self, groups: list[Group], log_x: bool) -> None:
        plt = self.plt
        configs = [m.config for g in groups for m in g.members]
        plt.title(TITLES[self.key] if self.key == "test_acc" else loss_axis_text(TITLES[self.key], configs, short=True))
        buckets = max(16, self.size.width - 10)
        lows, highs, x_lo, x_hi = [], [], math.inf, -math.inf
        for index, group in enumerate(groups):
            color = PALETTE[index % len(PALETTE)]
            series = [m.series for m in group.members if len(m.series)]
            if not series:
                continue
            lines: list[tuple[np.ndarray, np.ndarray, RGB]]
            if len(series) > 1:
                stats = band(series, self.key, max_points=4 * buckets)  # thinned: a chart is ~100 cells wide
                # band() returns losses, not their logs: the transform takes the log as for a single run
                lines = [(stats.epochs, stats.low, dim(color)), (stats.epochs, stats.high, dim(color)),
                         (stats.epochs, stats.median, color)]
            else:
                lines = [(series[0].epochs, series[0].values(self.key), color)]
            for epochs, values, line_color in lines:
                y_all = self._transform(values)
                x_all = epoch_axis(np.asarray(epochs), log_x)
                present = np.isfinite(y_all)
                x, y = downsample_minmax(x_all[present], y_all[present], buckets)
                if not y.size:
                    continue
                plt.plot(x.tolist(), y.tolist(), color=line_color, marker="braille")
                lows.append(float(np.min(y)))
                highs.append(float(np.max(y)))
                x_lo, x_hi = min(x_lo, float(x[0])), max(x_hi, float(x[-1]))
        plt.xlabel("epoch + 1 (log)" if log_x else "epoch")
        y_labels: list[str] = []
        if self.key == "test_acc":
            plt.ylim(0, 100)
            y_labels = ["0", "50", "100"]
            plt.yticks([0, 50, 100], y_labels)
        elif lows:
            low, high = min(lows), max(highs)
            if high - low < 1e-9:  # one value everywhere (runs with one log line): plotext divides by the range
                low, high = low - 0.5, high + 0.5
            ticks, y_labels = log_ticks(low, high, max_ticks=4)
            plt.yticks(ticks, y_labels)
            plt.ylim(math.floor(low) if high - low < 1 else low, high)
        self.epoch_ticks(x_lo, x_hi, log_x, y_labels)

    def epoch_ticks(self, x_lo: float, x_hi: float, log_x: bool, y_labels: list[str]) -> None:
        """The epoch axis's limits and labels (nothing when no point was drawn)."""
        if math.isfinite(x_lo):
            if x_hi <= x_lo:
                x_hi = x_lo + 1.0
            self.plt.xlim(x_lo, x_hi)
            # Labels that cannot collide: which of two colliding ones plotext keeps depends on the hash seed.
            y_label_width = max((len(label) for label in y_labels), default=0)
            x_ticks = (log_ticks if log_x else linear_ticks)(x_lo, x_hi)
            self.plt.xticks(*spaced_labels(x_ticks, x_lo, x_hi, self.size.width, y_label_width))


class GrokFractionChart(CompareChart):
    """The fraction of each group's runs that grokked by each epoch: a Kaplan–Meier step curve per group
    (grok_tui/figures/survival.py), runs that have not grokked counted until their last epoch."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__("grokked", id=id)

    def build(self, groups: list[Group], log_x: bool) -> None:
        plt = self.plt
        plt.title("grokked (% of runs)")
        x_lo, x_hi = math.inf, -math.inf
        for index, group in enumerate(groups):
            curve = grokked_curve(group)
            if not curve.times.size:
                continue
            epochs, fraction = curve.corners()
            x = epoch_axis(epochs, log_x)
            plt.plot(x.tolist(), (100.0 * fraction).tolist(), color=PALETTE[index % len(PALETTE)], marker="braille")
            x_lo, x_hi = min(x_lo, float(x[0])), max(x_hi, float(x[-1]))
        plt.xlabel("epoch + 1 (log)" if log_x else "epoch")
        plt.ylim(0, 100)
        plt.yticks([0, 50, 100], ["0", "50", "100"])
        self.epoch_ticks(x_lo, x_hi, log_x, ["0", "50", "100"])


# Short headers: the table must fit 80 columns for a few groups (ranges make the cells wide).
SUMMARY_COLUMNS = ("", "group / run", "runs", "memo@", "circuit@", "grok@", "test acc", "grok time")


def summary_cells(index: int, stats: GroupStats) -> tuple[Text | str, ...]:
    """A group's row. The epochs (and time) to an event are censored medians: a run without it counts as
    "not by its last epoch" ('> 3,000' when half or more had not), with k/n beside every grok number."""
    color = PALETTE[index % len(PALETTE)]
    swatch = Text("━━", style=f"rgb({color[0]},{color[1]},{color[2]})")
    # Text, not markup: labels and tags come from the runs' files.
    return (swatch, Text(stats.label), Text(tags_text(stats.tags)), stats.memorized.text(_epochs, count=False),
            stats.circuit.text(_epochs, count=False), stats.grokked.text(_epochs),
            stats.final_test_acc.text(format_percent), stats.grok_time_s.text(format_duration, count=False))


def _epochs(value: float) -> str:
    return f"{value:,.0f}"


class CompareScreen(Screen[None]):
    BINDINGS = [
        *FIRST_KEYS,
        Binding("l", "toggle_log_x", "Log x"),
        Binding("t", "toggle_grouping", "Runs/groups"),
        Binding("e", "export", "Export"),
        Binding("g", "app.show_runs", "Runs"),
        Binding("escape", "app.go_back", "Back"),
    ]

    def __init__(self, root: Path, tags: list[str]) -> None:
        super().__init__()
        self.root = root
        self.tags = list(dict.fromkeys(tags))
        self.paths = [RunPaths.of(tag, root) for tag in self.tags]
        self.members = [Member(tag, None, RunSeries()) for tag in self.tags]
        self.readers = [RunLogReader(paths.log) for paths in self.paths]
        self.log_x = False
        self.grouped = True
        self.groups: list[Group] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-charts"):
            with Horizontal(id="compare-top"):
                yield CompareChart("test_acc", id="compare-test-acc")
                yield GrokFractionChart(id="compare-grokked")
            with Horizontal(id="compare-losses"):
                yield CompareChart("train_loss", id="compare-train-loss")
                yield CompareChart("test_loss", id="compare-test-loss")
        yield Static("", id="compare-title")
        yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*SUMMARY_COLUMNS)
        self.poll()
        self.set_interval(REFRESH_S, self.poll)

    # ---- data
    def _load_config(self, index: int) -> None:
        member = self.members[index]
        try:
            member.config, member.problem = Config.load(self.paths[index].config), ""
        except ConfigError as err:
            member.config, member.problem = None, str(err)

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(m.series.version for m in self.members)

    def poll(self) -> None:
        """Read what each log gained; regroup and redraw only if something changed."""
        changed = not self.groups
        more = False
        for index, (member, reader) in enumerate(zip(self.members, self.readers)):
            update = reader.poll(max_bytes=UI_CHUNK)
            if member.config is None or update.reset:  # before the records: their events need its log_every
                self._load_config(index)
                member.series.set_log_every(member.config.log_every if member.config is not None else None)
            changed = member.series.apply(update) or changed
            more = more or reader.has_more()
        if more:
            self.set_timer(0.01, self.poll)  # a long log loads in slices between which keys get their turn
        if changed:
            self.regroup()

    def regroup(self) -> None:
        self.groups = group_runs(self.members) if self.grouped else single_groups(self.members)
        self.redraw()
        self.update_table()

    def redraw(self, force: bool = False) -> None:
        for chart in self.query(CompareChart):
            chart.draw(self.groups, self.version, self.log_x, force=force)

    def update_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for index, group in enumerate(self.groups):
            table.add_row(*summary_cells(index, group_stats(group)), key=str(index))
        problems = [f"{m.tag}: {m.problem}" for m in self.members if m.problem]
        mode = "seed groups: median and min-max band" if self.grouped else "single runs"
        title = f"[b]{len(self.members)} runs[/b], {mode}"
        found = objectives([m.config for m in self.members])
        if len(found) > 1:  # one loss chart holds different quantities: said where it cannot be missed
            title += "  [yellow]losses: $mixed mixed[/yellow]"
        title += "  [red]$problem[/red]" if problems else ""
        self.query_one("#compare-title", Static).update(Content.from_markup(
            title, mixed=" and ".join(found), problem=problems[0] if problems else ""))

    def on_resize(self) -> None:
        self.redraw()

    # ---- keys
    def action_toggle_log_x(self) -> None:
        self.log_x = not self.log_x
        self.redraw(force=True)

    def action_toggle_grouping(self) -> None:
        self.grouped = not self.grouped
        self.regroup()

    def action_export(self) -> None:
        self.export_figure(self.log_x, self.grouped)

    @work(thread=True, exit_on_error=False, group="export")
    def export_figure(self, log_x: bool, grouped: bool) -> None:
        """The same comparison as a matplotlib figure, with the view's axes and grouping."""
        from grok_tui.figures.comparison import default_comparison_path, plot_comparison

        out = default_comparison_path(self.tags, self.root)
        try:
            plot_comparison(self.tags, out=out, root=self.root, log_x=log_x, grouped=grouped, warn=False)
        except Exception as err:  # reported to the user; the view stays usable
            self.app.call_from_thread(self.notify, f"export failed: {err}", severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, f"exported {out}")
