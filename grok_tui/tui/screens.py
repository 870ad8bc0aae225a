"""Small screens: the help screen with every key, and the runs list."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from grok_tui.progress import format_percent
from grok_tui.runs import RunSummary, RunSummaryCache

if TYPE_CHECKING:
    from grok_tui.tui.app import GrokApp

HELP = """[b]grok-tui keys[/b]

  s   start the run set up in the form
  x   stop training after the current epoch (a checkpoint is saved)
  r   resume the current run (or the selected one in the runs list) from its checkpoint
  e   export PNGs: logs/<tag>/training_curves.png and progress_measures.png (works while training)
  l   switch the epoch axis between linear and log scale
  m   switch between the loss/accuracy charts and the progress measures (restricted and
      excluded loss, Gini, weight norm, the embedding's Fourier norms and key frequencies)
  n   set up a new run (the form)
  g   the list of runs under this root
  q   quit (a run in training is stopped with a checkpoint first)
  ?   this help

In the runs list, Enter opens the selected run's live view.
Vertical lines mark the phases: memorized (gray), circuit formation (blue), grokked (green).
Charts read logs/<tag>/training_log.jsonl; `grok-tui watch TAG` shows a run that another
process is training. Press Escape or ? to close this help."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)


def summary_row(s: RunSummary) -> tuple[str, ...]:
    config = s.config
    return (s.tag, str(config.p) if config else "?", config.operation if config else "?", s.epoch_text,
            format_percent(s.best_test_acc), s.status_text)


class RunsScreen(Screen[None]):
    """Every run under <root>/logs; Enter watches the selected one, r resumes it, e exports it."""

    BINDINGS = [
        Binding("enter", "open_selected", "Open"),
        Binding("r", "resume_selected", "Resume"),
        Binding("e", "export_selected", "Export PNG"),
        Binding("n", "app.new_run", "New run"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.summaries = RunSummaryCache()

    def compose(self) -> ComposeResult:
        yield Static(f"[b]runs under {self.root / 'logs'}[/b]", id="runs-title")
        yield DataTable(id="runs", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("tag", "p", "op", "epoch", "best test", "status")
        self.reload()
        self.set_interval(2.0, self.reload)

    def reload(self) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for summary in self.summaries.summaries(self.root):
            table.add_row(*summary_row(summary), key=summary.tag)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    @property
    def grok_app(self) -> GrokApp:
        return cast("GrokApp", self.app)

    def selected_tag(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.get_row_at(table.cursor_row)[0])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # The table takes Enter itself (it selects the row); opening the run follows from that.
        self.action_open_selected()

    def action_open_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.grok_app.open_run(tag)

    def action_resume_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.grok_app.resume_tag(tag)

    def action_export_selected(self) -> None:
        tag = self.selected_tag()
        if tag is not None:
            self.grok_app.export_tag(tag)
