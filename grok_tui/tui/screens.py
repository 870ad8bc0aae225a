"""Small screens: the help screen with every key, the runs list, and the delete confirmation.

The runs list shows a column for each config field that differs between the runs (grok_tui/figures/groups.py),
sorts by any column, filters by text, and selects runs to compare. It asks the app for work (open,
resume, export, compare) with messages, so it needs no reference to the app's class.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from grok_tui.core.errors import RunLockedError
from grok_tui.core.text import format_percent
from grok_tui.figures.groups import differing_fields, format_value
from grok_tui.run.lock import delete_run
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import RunSummary, RunSummaryCache
from grok_tui.tui.keys import FIRST_KEYS

# At most 67 characters a line and 21 lines: the box (border and padding: 4 columns, 2 rows) shows it
# unwrapped and unscrolled in 80x24.
HELP = """[b]grok-tui keys[/b]                                  Escape or ? closes
 [b]s[/b]  start the run set up in the form
 [b]x[/b]  stop training after this epoch, with a checkpoint
 [b]r[/b]  resume the run from its checkpoint (runs list: the selected)
 [b]e[/b]  export the run's PNGs (while it trains: named by the epoch)
 [b]n[/b]  the form; from a run's view, with its settings (train longer)
 [b]g[/b]  the runs list   [b]Escape[/b]  back   [b]q[/b]  quit (stops training first)
 [b]?[/b]  this help       [b]ctrl+p[/b]  the command palette: every action

[b]run view[/b]  [b]l[/b] log x  [b]m[/b] measures ([b]f[/b] spectrum/bars)  [b]p[/b] status panel
 [b]c[/b] cursor ([b]← →[/b] a column, [b]shift[/b] a log line, [b]Home End[/b])  [b]k[/b] legends
 [b]+[/b] or [b]=[/b] zoom in, [b]-[/b] out, [b]0[/b] all epochs   [b]s[/b] smoothing (EMA 0.6, 0.9)

[b]form[/b]     Tab or Enter: next field; Escape leaves the fields
[b]runs[/b]     Enter opens, space selects, c compares, s / S sort,
         / filters, D deletes (after a confirmation)
[b]compare[/b]  l log x, t single runs or seed groups, e export

Phase lines: memorized (gray), circuit formation (blue), grokked
(green). `grok-tui watch TAG` shows a run another process trains."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)


FIXED_COLUMNS = ("epoch", "memorized", "grokked", "test acc", "status", "started")  # started last: cut first
HEADERS = {"memorized": "memo@", "grokked": "grok@", "weight_decay": "wd", "frac_train": "frac",
           "num_heads": "heads", "operation": "op", "num_epochs": "epochs", "log_every": "log every",
           "checkpoint_every": "ckpt every", "measure_every": "measure every", "warmup_steps": "warmup"}
_NUMBER = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?")


def summary_cells(s: RunSummary, fields: list[str]) -> tuple[str, ...]:
    """The row of the runs list after the mark: tag, the differing fields, then FIXED_COLUMNS."""
    def epoch(value: int | None) -> str:
        return f"{value:,}" if value is not None else "-"

    started = s.started or "-"
    if started.startswith(time.strftime("%Y-", time.gmtime())):
        started = started[5:]  # this year's runs: month, day and time
    return (s.tag, *(format_value(s.config, name) for name in fields), s.epoch_text, epoch(s.memorized_epoch),
            epoch(s.grokked_epoch), format_percent(s.final_test_acc), s.status_text, started)


def sort_value(cell: str) -> tuple[int, float, str]:
    """Numbers sort as numbers ('1,290' after '200', '100/200' by its 100), text as text, '-' last."""
    if cell in ("-", "?", ""):
        return (2, 0.0, "")
    match = _NUMBER.match(cell)
    if match and re.fullmatch(r"[0-9,.\-]+(%|/[0-9,?]+)?", cell):
        return (0, float(match.group().replace(",", "")), cell)
    return (1, 0.0, cell.lower())


class ConfirmDelete(ModalScreen[bool]):
    """'Delete run X?' (the runs list) or 'Replace run X?' (the form's replace box) with y / n, naming the
    run, how far it trained and the folders that go; anything but y keeps the run."""

    BINDINGS = [Binding("y", "answer(True)", "Yes, delete"), Binding("n,escape", "answer(False)", "No, keep it")]

    def __init__(self, tag: str, paths: RunPaths, replace: bool = False, epoch: int | None = None) -> None:
        super().__init__()
        self.tag = tag
        self.paths = paths
        self.replace = replace
        self.epoch = epoch

    def compose(self) -> ComposeResult:
        at = f" (trained to epoch {self.epoch:,})" if self.epoch is not None else ""
        question = (f"Replace run $tag{at} with a new run from epoch 0?" if self.replace else f"Delete run $tag{at}?")
        with Vertical(id="confirm"):
            what = ("This deletes its checkpoint, log, config and figures in $logs and $models." if self.replace
                    else "This removes $logs and $models: its log, config, checkpoint and figures.")
            yield Static(Content.from_markup(f"[b]{question}[/b]\n\n{what}\n\n[b]y[/b] delete   [b]n[/b] keep it",
                                             tag=repr(self.tag), logs=str(self.paths.log_dir),
                                             models=str(self.paths.model_dir)))

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TagMessage(Message):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag


class RunsScreen(Screen[None]):
    """Every run under <root>/logs; Enter watches the selected one, r resumes it, e exports it."""

    BINDINGS = [
        *FIRST_KEYS,
        Binding("enter", "open_selected", "Open"),
        Binding("space", "toggle_selected", "Select"),
        Binding("c", "compare", "Compare"),
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("r", "resume_selected", "Resume"),
        Binding("e", "export_selected", "Export", show=False),
        Binding("D", "delete_selected", "Delete"),
        Binding("n", "app.new_run", "New run", show=False),
        Binding("escape", "back", "Back"),
    ]

    class OpenRun(TagMessage):
        """Open the run's live view."""

    class ResumeRun(TagMessage):
        """Resume training the run."""

    class ExportRun(TagMessage):
        """Export the run's figures."""

    class CompareRuns(Message):
        def __init__(self, tags: list[str]) -> None:
            super().__init__()
            self.tags = tags

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.summaries = RunSummaryCache()
        self.selected: list[str] = []  # in the order they were selected
        self.sort_column = 0  # index into self.columns
        self.sort_descending = False
        self.filter_text = ""
        self.columns: list[str] = []
        self.known: dict[str, RunSummary] = {}

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]runs under $logs[/b]", logs=str(self.root / "logs")), id="runs-title")
        yield Input(placeholder="filter: text in any column (Enter keeps it, Escape clears it)", id="runs-filter")
        yield DataTable(id="runs", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-filter").display = False
        self.query_one(DataTable).focus()  # not the hidden filter box, which would take the keys
        self.reload()
        self.set_interval(2.0, self.reload)

    # ---- the table
    def reload(self) -> None:
        summaries = self.summaries.summaries(self.root)
        self.known = {s.tag: s for s in summaries}
        self.selected = [tag for tag in self.selected if tag in self.known]
        fields = differing_fields([s.config for s in summaries])
        columns = ["tag", *fields, *FIXED_COLUMNS]
        rows = [summary_cells(s, fields) for s in summaries]
        if self.filter_text:
            needle = self.filter_text.lower()
            rows = [row for row in rows if any(needle in cell.lower() for cell in row)]
        self.sort_column = min(self.sort_column, len(columns) - 1)
        rows.sort(key=lambda row: sort_value(row[self.sort_column]), reverse=self.sort_descending)
        if self.sort_descending:  # missing values last either way
            rows.sort(key=lambda row: sort_value(row[self.sort_column])[0] == 2)
        table = self.query_one(DataTable)
        current = self.selected_tag()
        arrow = " ▼" if self.sort_descending else " ▲"
        labels = ["", *(HEADERS.get(name, name) + (arrow if i == self.sort_column else "")
                        for i, name in enumerate(columns))]
        if labels != self.columns:
            table.clear(columns=True)
            table.add_columns(*map(Text, labels))
            self.columns = labels
        else:
            table.clear()
        for row in rows:
            # Text, not markup: tags, config values and states come from files anyone may have written.
            table.add_row("●" if row[0] in self.selected else " ", *map(Text, row), key=row[0])
        if table.row_count:
            tags = [row[0] for row in rows]
            table.move_cursor(row=tags.index(current) if current in tags else min(table.cursor_row,
                                                                                  table.row_count - 1))

    def selected_tag(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.get_row_at(table.cursor_row)[1])

    # ---- keys
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # The table takes Enter itself (it selects the row); opening the run follows from that.
        self.action_open_selected()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.column_index == 0:
            return
        if event.column_index - 1 == self.sort_column:
            self.sort_descending = not self.sort_descending
        else:
            self.sort_column, self.sort_descending = event.column_index - 1, False
        self.reload()

    def action_open_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.post_message(self.OpenRun(tag))

    def action_resume_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.post_message(self.ResumeRun(tag))

    def action_export_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.post_message(self.ExportRun(tag))

    def action_toggle_selected(self) -> None:
        tag = self.selected_tag()
        if tag is None:
            return
        if tag in self.selected:
            self.selected.remove(tag)
        else:
            self.selected.append(tag)
        table = self.query_one(DataTable)
        table.update_cell_at(Coordinate(table.cursor_row, 0), "●" if tag in self.selected else " ")
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_compare(self) -> None:
        tags = list(self.selected)
        if len(tags) < 2:
            self.notify("select two or more runs with space, then c", severity="warning")
            return
        self.post_message(self.CompareRuns(tags))

    def action_sort_next(self) -> None:
        self.sort_column = (self.sort_column + 1) % max(1, len(self.columns) - 1)
        self.sort_descending = False
        self.reload()

    def action_sort_reverse(self) -> None:
        self.sort_descending = not self.sort_descending
        self.reload()

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()
        if not self.filter_text:
            event.input.display = False

    async def action_back(self) -> None:
        box = self.query_one("#runs-filter", Input)
        if box.display:  # Escape first clears the filter, then leaves
            box.value = ""
            box.display = False
            self.filter_text = ""
            self.query_one(DataTable).focus()
            self.reload()
            return
        await self.app.run_action("app.go_back")

    def action_delete_selected(self) -> None:
        tag = self.selected_tag()
        if tag is None:
            return
        summary = self.known.get(tag)
        if summary is not None and summary.status == "running":
            self.notify(f"{tag!r} is training: stop it before deleting it", severity="warning")
            return
        paths = RunPaths.of(tag, self.root)

        def answered(delete: bool | None) -> None:
            if not delete:
                self.notify(f"kept {tag!r}")
                return
            try:
                delete_run(paths)
            except RunLockedError:
                self.notify(f"{tag!r} is training: stop it before deleting it", severity="warning")
                return
            except OSError as err:
                self.notify(f"deleting {tag!r} failed: {err}", severity="error", markup=False)
                return
            self.notify(f"deleted {tag!r}")
            self.reload()

        epoch = int(summary.last["epoch"]) if summary is not None and summary.last is not None else None
        self.app.push_screen(ConfirmDelete(tag, paths, epoch=epoch), answered)
