"""The sweep view (`grok-tui watch --sweep NAME`): a table of the members and a live phase grid.

The table has a row per member: the swept values, its state (training, done, stopped, new), epoch,
phase and the epoch it grokked. Under it, the grid: for two swept fields besides seed, the median epochs
to grok over the seeds of each cell, censored (a seed that has not grokked counts as "not by its last
epoch"; `> 3,000` when half or more had not by then, `running` while they still train), with how many
grokked; for one field a row of them; `a` shows the median final test accuracy instead. Everything is read
from the members' files every two seconds (grok_tui/sweeps/results.py, headless), so it works on a sweep
running in another terminal or on a cluster. Enter opens a member's live view, space selects, `c` compares.

Every string read from a file (tags, swept fields and values, phases, error texts) is shown as text, never
parsed as markup: a crafted definition or events.json could otherwise break the screen or make a cell run
an action.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from grok_tui.core.config import ConfigError
from grok_tui.core.text import format_percent
from grok_tui.run.lock import lock_owner
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import early_stop_due
from grok_tui.run.summary import RunSummaryCache
from grok_tui.sweeps.grid import value_text
from grok_tui.sweeps.results import (
    MemberResult,
    grid_axes,
    grok_summary,
    member_results,
    members_at,
)

REFRESH_S = 2.0


def member_status(result: MemberResult, root: Path) -> str:
    """From the files alone: training (someone holds the lock), done, stopped part-way, or new."""
    paths = RunPaths.of(result.member.tag, root)
    owner = lock_owner(paths)
    if owner is not None:
        return f"training (PID {owner.get('pid')})"
    if not paths.log.exists():
        return "new"
    config = result.member.config
    if result.epoch >= config.num_epochs or early_stop_due(config, result.grokked, result.epoch):
        return "done"
    return "stopped"


def grid_text(results: list[MemberResult], axes: dict[str, list[object]], accuracy: bool) -> Table:
    """The phase grid as a Rich table: rows are the second swept field, columns the first."""
    drawn = grid_axes(axes)
    x_field, x_values = drawn[0] if drawn else ("", [None])
    y_field, y_values = drawn[1] if len(drawn) > 1 else ("", [None])
    what = "median final test accuracy" if accuracy else "median epochs to 99% test accuracy, censored (k/n seeds grokked)"
    # min_width: the title is the widest line of a small grid; without it Rich wraps it into the first column.
    table = Table(title=what, title_justify="left", show_lines=False, box=None, padding=(0, 1),
                  min_width=len(what) + 1)
    table.add_column(Text(f"{y_field} \\ {x_field}" if y_field else (x_field or "all members")), style="bold")
    for x in x_values:
        table.add_column(Text(value_text(x)) if x_field else "", justify="right")
    for y in y_values:
        cells = []
        for x in x_values:
            where = {**({x_field: x} if x_field else {}), **({y_field: y} if y_field else {})}
            cells.append(_cell(members_at(results, **where), accuracy))
        table.add_row(Text(value_text(y)) if y_field else "", *cells)
    return table


def _cell(group: list[MemberResult], accuracy: bool) -> str:
    if not group:
        return "-"
    if accuracy:
        values = [r.test_acc for r in group if r.test_acc is not None]
        return format_percent(statistics.median(values)) if values else "-"
    return grok_cell(group)


def grok_cell(group: list[MemberResult]) -> str:
    """A cell's censored median epochs to grok and k/n grokked: '1,500 2/3'; '> 3,000 0/3' when half or
    more had not grokked by their last epoch; 'running' (never a median not reached) while they train."""
    summary = grok_summary(group)
    count = f"{summary.happened}/{summary.runs}"
    running = sum(r.running for r in group)
    if summary.median is None:
        if running:
            return f"[dim]running {count}[/dim]"
        started = any(r.epoch > 0 for r in group)
        return f"[dim]{summary.text(_epochs) if started else '… ' + count}[/dim]"
    color = "green" if summary.happened == summary.runs else "yellow"
    return f"[{color}]{_epochs(summary.median)}[/{color}] {count}" + (f" [dim]({running} running)[/dim]" if running else "")


def _epochs(value: float) -> str:
    return f"{value:,.0f}"


class SweepScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "open_selected", "Open"),
        Binding("space", "toggle_selected", "Select"),
        Binding("c", "compare", "Compare"),
        Binding("a", "toggle_accuracy", "Accuracy/epochs"),
        Binding("escape", "back", "Back"),
    ]

    class OpenRun(Message):
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag = tag

    class CompareRuns(Message):
        def __init__(self, tags: list[str]) -> None:
            super().__init__()
            self.tags = tags

    def __init__(self, root: Path, name: str) -> None:
        super().__init__()
        self.root, self.sweep_name = root, name
        self.accuracy = False
        self.selected: list[str] = []
        self.columns: list[str] = []
        self.tags: list[str] = []
        self.grid: Table | None = None  # the phase grid as drawn last
        self.summaries = RunSummaryCache()  # members re-read only when their files change

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]sweep $name[/b]", name=self.sweep_name), id="sweep-title")
        yield DataTable(id="sweep-members", cursor_type="row")
        yield Static("", id="sweep-grid")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.reload()
        self.set_interval(REFRESH_S, self.reload)

    def reload(self) -> None:
        try:
            axes, results = member_results(self.sweep_name, self.root, self.summaries)
        except ConfigError as err:
            self.query_one("#sweep-title", Static).update(Content.from_markup("[red]$err[/red]", err=str(err)))
            return
        statuses = [member_status(r, self.root) for r in results]
        done = sum(status == "done" for status in statuses)
        training = sum(status.startswith("training") for status in statuses)
        self.query_one("#sweep-title", Static).update(Content.from_markup(
            f"[b]sweep $name[/b]: {len(results)} members, {done} done, {training} training  ($path)",
            name=self.sweep_name, path=str(self.root / "sweeps" / (self.sweep_name + ".json"))))
        fields = list(axes)
        columns = ["", "member", *fields, "state", "epoch", "phase", "grokked", "test acc"]  # compared as str
        table = self.query_one(DataTable)
        current = self.tags[table.cursor_row] if self.tags and table.cursor_row < len(self.tags) else None
        if columns != self.columns:
            table.clear(columns=True)
            table.add_columns(*map(Text, columns))
            self.columns = columns
        else:
            table.clear()
        self.tags = [r.member.tag for r in results]
        for result, status in zip(results, statuses):
            cells = (result.member.tag, *(value_text(result.member.values.get(field, "")) for field in fields),
                     status, f"{result.epoch:,}/{result.member.config.num_epochs:,}", result.phase,
                     f"{result.grokked:,}" if result.grokked is not None else "-", format_percent(result.test_acc))
            table.add_row("●" if result.member.tag in self.selected else " ", *map(Text, cells),
                          key=result.member.tag)
        if current in self.tags:
            table.move_cursor(row=self.tags.index(current))
        self.grid = grid_text(results, axes, self.accuracy)
        self.query_one("#sweep-grid", Static).update(self.grid)

    def selected_tag(self) -> str | None:
        table = self.query_one(DataTable)
        return self.tags[table.cursor_row] if self.tags and 0 <= table.cursor_row < len(self.tags) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_selected()

    def action_open_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.post_message(self.OpenRun(tag))

    def action_toggle_selected(self) -> None:
        tag = self.selected_tag()
        if tag is None:
            return
        if tag in self.selected:
            self.selected.remove(tag)
        else:
            self.selected.append(tag)
        self.reload()

    def action_compare(self) -> None:
        if len(self.selected) < 2:
            self.notify("select two or more members with space, then c", severity="warning")
            return
        self.post_message(self.CompareRuns(list(self.selected)))

    def action_toggle_accuracy(self) -> None:
        self.accuracy = not self.accuracy
        self.reload()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit(0)


__all__ = ["SweepScreen", "grid_text", "grok_cell", "member_status"]
