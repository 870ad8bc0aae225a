"""The live view of one run: loss and accuracy charts (or, on `m`, the progress measures) and a status
panel, fed only by the run's log.

The view tails logs/<tag>/training_log.jsonl by byte offset (RunLogReader) twice a second and redraws
only when new records arrived. It never asks the trainer for numbers, so a run trained in this app,
in another terminal (`grok-tui watch`) or last week looks the same.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol, cast

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from grok_tui.core.config import Config, ConfigError
from grok_tui.core.text import finite, format_duration, format_percent, format_sci
from grok_tui.figures.chartview import (
    ChartView,
    cursor_index,
    cursor_to_end,
    move_cursor,
    show_cursor,
    zoom,
)
from grok_tui.figures.groups import interventions, optimizer_text
from grok_tui.figures.series import RunSeries
from grok_tui.figures.smoothing import next_smoothing
from grok_tui.run.lock import lock_owner
from grok_tui.run.log import RunLogReader
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import early_stop_due
from grok_tui.run.sessions import environment_changes, read_sessions
from grok_tui.tui.charts import (
    CURSOR_COLOR,
    ChartPanel,
    FrequencyChart,
    MeasureLossChart,
    MetricChart,
    SeriesChart,
    SparsityChart,
    SpectrogramChart,
    ViewChart,
    measurement_row,
    rich_color,
)
from grok_tui.tui.keys import FIRST_KEYS



class TrainingHost(Protocol):
    """What the live view asks of the app that hosts it (GrokApp in tui/app.py) about the runs it trains.
    A Protocol rather than the app's class: the app imports this screen, so the screen must not import it."""

    def is_training(self, tag: str) -> bool: ...

    def error_of(self, tag: str) -> str | None: ...

    def device_of(self, tag: str) -> str | None: ...

REFRESH_S = 0.5
UI_CHUNK = 1024 * 1024  # bytes of log parsed per slice on the UI thread (~5,000 records, ~80 ms)


EVENT_SHORT = {"memorized": "memorized", "circuit_formation": "circuit", "grokked": "grokked"}


def phase_lines(series: RunSeries) -> list[str]:
    """The phase now, then one line per event so far (grok_tui/run/phases.py)."""
    lines = [f"phase    {series.phases.phase(has_data=bool(len(series)))}"]
    lines += [f"  {EVENT_SHORT[event.name]:<10}@ {event.epoch:,}" for event in series.phases.events]
    return lines


def measure_lines(series: RunSeries, view: ChartView | None = None) -> list[str]:
    """The progress measures of the latest measurement, or of the last one at or before the cursor."""
    epochs, _ = series.freq_history
    if not len(epochs):
        return []
    row = measurement_row(series, view or ChartView())
    index = int(np.searchsorted(series.epochs, epochs[row]))
    index = min(index, len(series) - 1)

    def value(key: str) -> float | None:
        return finite(float(series.values(key)[index]))

    gini_embed, gini_unembed, weights = value("gini_embed"), value("gini_unembed"), value("weight_norm")
    keys = " ".join(str(k) for k in series.key_freqs_at(row)) or "none yet"
    return [f"measures @ {int(epochs[row]):,}",
            f"restr {format_sci(value('restricted_loss'))} excl {format_sci(value('excluded_loss'))}",
            f"Gini W_E {_fixed(gini_embed)}  W_L {_fixed(gini_unembed)}",
            f"Σw² {weights:,.0f}" if weights is not None else "Σw² -",
            f"key freqs {keys}"]


def _fixed(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def view_lines(view: ChartView) -> list[str]:
    """'zoom     500-1,000' and 'smooth   EMA 0.6' while the charts show less than everything, raw."""
    lines = []
    if view.zoom is not None:
        lines.append(f"zoom     {view.zoom[0]:,.0f}-{view.zoom[1]:,.0f}")
    if view.smoothing > 0:
        lines.append(f"smooth   EMA {view.smoothing:g}")
    return lines


def session_status_lines(sessions: list[dict[str, object]]) -> list[Content]:
    """'device   cpu, 2 threads', and a warning line when the last session ran in a new environment. The
    values come from sessions.jsonl: shown as text, never parsed as markup."""
    if not sessions:
        return []
    last = sessions[-1]
    threads = last.get("threads")
    lines = [Content.from_markup("device   $device", device=_short(last.get("device"))
                                 + (f", {threads} thread{'s' if threads != 1 else ''}" if isinstance(threads, int)
                                    else ""))]
    changes = environment_changes(sessions[-2], last) if len(sessions) > 1 else []
    if changes:
        lines.append(Content.from_markup("[yellow]env changed: $changes[/yellow]",
                                         changes=_short("; ".join(changes), 80)))
    return lines


def _short(value: object, limit: int = 24) -> str:
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StatusPanel(Static):
    """Tag, device, epoch/total, speed, ETA, latest numbers, last checkpoint and phase."""


class LiveScreen(Screen[None]):
    BINDINGS = [
        *FIRST_KEYS,
        Binding("x", "app.stop_training", "Stop"),
        Binding("r", "app.resume_run", "Resume"),
        Binding("e", "app.export_png", "Export PNG"),
        Binding("l", "toggle_log_x", "Log x"),
        Binding("m", "toggle_measures", "Measures"),
        Binding("n", "app.new_run", "New run"),
        Binding("g", "app.show_runs", "Runs"),
        Binding("c", "toggle_cursor", "Cursor"),
        Binding("left", "move_cursor(-1)", "Cursor left", show=False),
        Binding("right", "move_cursor(1)", "Cursor right", show=False),
        Binding("shift+left", "move_cursor(-1, True)", "Cursor one record left", show=False),
        Binding("shift+right", "move_cursor(1, True)", "Cursor one record right", show=False),
        Binding("home", "cursor_end(False)", "Cursor to the first epoch", show=False),
        Binding("end", "cursor_end(True)", "Cursor to the last epoch", show=False),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in"),
        Binding("minus", "zoom(2.0)", "Zoom out", show=False),
        Binding("0", "reset_zoom", "Zoom reset", show=False),
        Binding("s", "cycle_smoothing", "Smooth"),
        Binding("k", "toggle_legend", "Legend"),
        Binding("f", "toggle_frequency_panel", "Spectrum/bars"),
        Binding("p", "toggle_panel", "Panel"),
        Binding("escape", "app.go_back", "Back"),
    ]
    DEFAULT_CSS = "#freq-panel { display: none; }"

    def __init__(self, paths: RunPaths, read_only: bool = False) -> None:
        super().__init__()
        self.paths = paths
        self.read_only = read_only
        self.series = RunSeries()
        self.reader = RunLogReader(paths.log)
        self.view = ChartView()
        self.show_measures = False
        self.config: Config | None = None
        self._checkpoint_mtime: float | None = None
        self.checkpoint_epoch: int | None = None
        self._sessions_stat: tuple[float, int] | None = None
        self.session_lines: list[Content] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="live-body"):
            with Vertical(id="charts"):
                yield ChartPanel(MetricChart("loss", id="loss-chart"), id="loss-panel")
                yield ChartPanel(MetricChart("acc", id="acc-chart"), id="acc-panel")
            with Vertical(id="measures"):
                yield ChartPanel(MeasureLossChart(id="measure-loss-chart"), id="measure-loss-panel")
                with Horizontal(id="measures-bottom"):
                    yield ChartPanel(SparsityChart(id="sparsity-chart"), id="sparsity-panel")
                    yield ChartPanel(SpectrogramChart(id="spectrogram-chart"), id="spectrogram-panel")
                    yield ChartPanel(FrequencyChart(id="freq-chart"), id="freq-panel")
            with Vertical(id="side"):
                # The bar first: on a small terminal the panel's last lines (the config) are cut, not it.
                yield ProgressBar(id="progress", show_eta=False)
                yield StatusPanel(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(REFRESH_S, self.poll)

    # ---- data
    def _load_config(self) -> None:
        try:
            self.config = Config.load(self.paths.config)
        except ConfigError:
            self.config = None

    def _update_checkpoint_epoch(self) -> None:
        """Read the checkpoint's epoch when the file changed (a rename every checkpoint_every epochs)."""
        try:
            mtime = self.paths.checkpoint.stat().st_mtime
        except FileNotFoundError:
            self._checkpoint_mtime, self.checkpoint_epoch = None, None
            return
        if mtime == self._checkpoint_mtime:
            return
        self._checkpoint_mtime = mtime
        from grok_tui.core.errors import CheckpointError
        from grok_tui.run.checkpoint import load_checkpoint

        try:
            self.checkpoint_epoch = int(load_checkpoint(self.paths.checkpoint)["epoch"])
        except CheckpointError:
            self.checkpoint_epoch = None

    def _update_session(self) -> None:
        """The device and threads of the run's last training session (sessions.jsonl), when it changed.

        From the file, not from the app: a run watched from another terminal, or finished, shows the
        device it really used ('cpu', not the config's 'auto').
        """
        try:
            stat = self.paths.sessions.stat()
            key: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
        except OSError:
            key = None
        if key == self._sessions_stat:
            return
        self._sessions_stat = key
        self.session_lines = session_status_lines(read_sessions(self.paths.sessions)) if key else []

    def poll(self) -> None:
        """Read what the log gained since the last call; redraw only if something changed."""
        update = self.reader.poll(max_bytes=UI_CHUNK)
        if self.config is None or update.reset:
            # A resume (which may raise num_epochs) rewrites config.json and cuts the log back: a reset.
            # Read before the records: the phase events of an old log's lines need its log_every.
            self._load_config()
            self.series.set_log_every(self.config.log_every if self.config is not None else None)
        changed = self.series.apply(update)
        if self.reader.has_more():
            # A long log loads in slices between which keys and repaints get their turn.
            self.set_timer(0.01, self.poll)
        self._update_checkpoint_epoch()
        self._update_session()
        if changed:
            self.redraw()
        self.update_status()

    @property
    def log_x(self) -> bool:
        return self.view.log_x

    def visible_charts(self) -> list[ViewChart]:
        view = self.query_one("#measures" if self.show_measures else "#charts")
        return [cast(ViewChart, panel.chart) for panel in view.query(ChartPanel) if panel.display]

    def redraw(self, force: bool = False) -> None:
        # Only the view on screen: the hidden one catches up (its charts see a changed key) when shown.
        charts = self.visible_charts()
        for chart in charts:
            chart.draw(self.series, self.view, force=force)  # type: ignore[attr-defined]
        # Charts over the same epochs start their plots in the same column: pad every chart's y labels
        # to the widest (a loss label "1e-6" is wider than an accuracy label "75").
        stacked = [c for c in charts if isinstance(c, SeriesChart) and not isinstance(c, FrequencyChart)]
        width = max((c.used_label_width for c in stacked), default=0)
        for chart in stacked:
            if chart.label_width != width:
                chart.label_width = width
                chart.draw(self.series, self.view)

    def on_resize(self) -> None:
        self.redraw()

    def on_series_chart_resized(self, message: SeriesChart.Resized) -> None:
        message.stop()
        self.redraw()

    def set_view(self, view: ChartView) -> None:
        if view != self.view:
            self.view = view
            self.redraw()
            self.update_status()

    def plot_cols(self) -> int:
        charts = [c for c in self.visible_charts() if isinstance(c, SeriesChart)]
        return charts[0].plot_cols if charts else 40

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_frequency_panel":
            return self.show_measures
        return True

    def action_toggle_panel(self) -> None:
        """The status panel off and on: at 60 columns it takes half the width from the charts."""
        side = self.query_one("#side")
        side.display = not side.display
        self.call_after_refresh(self.redraw)

    def action_toggle_log_x(self) -> None:
        self.set_view(replace(self.view, log_x=not self.view.log_x))

    def action_toggle_measures(self) -> None:
        self.show_measures = not self.show_measures
        # Draw from the data already loaded before the view is shown, so its first frame has the curves
        # (not empty boxes); after layout the charts redraw once more at their real size.
        self.redraw()
        self.query_one("#charts").display = not self.show_measures
        self.query_one("#measures").display = self.show_measures
        self.call_after_refresh(self.redraw)

    def action_toggle_cursor(self) -> None:
        on = self.view.cursor is None
        self.set_view(show_cursor(self.series.epochs, self.view) if on else replace(self.view, cursor=None))

    def action_move_cursor(self, steps: int, by_record: bool = False) -> None:
        self.set_view(move_cursor(self.series.epochs, self.view, steps, self.plot_cols(), by_record=by_record))

    def action_cursor_end(self, last: bool) -> None:
        self.set_view(cursor_to_end(self.series.epochs, self.view, last))

    def action_zoom(self, factor: float) -> None:
        self.set_view(zoom(self.series.epochs, self.view, factor))

    def action_reset_zoom(self) -> None:
        self.set_view(replace(self.view, zoom=None))

    def action_cycle_smoothing(self) -> None:
        self.set_view(replace(self.view, smoothing=next_smoothing(self.view.smoothing)))

    def action_toggle_legend(self) -> None:
        self.set_view(replace(self.view, legend=not self.view.legend))

    def action_toggle_frequency_panel(self) -> None:
        spectrogram, bars = self.query_one("#spectrogram-panel"), self.query_one("#freq-panel")
        spectrogram.display, bars.display = not spectrogram.display, spectrogram.display
        self.redraw()
        self.call_after_refresh(self.redraw)

    # ---- status
    def update_status(self) -> None:
        config, last = self.config, self.series.last
        total = config.num_epochs if config else None
        epoch = int(last["epoch"]) if last else 0
        owner = lock_owner(self.paths)
        training = self.app_training() or owner is not None
        speed = self.series.epochs_per_second() if training else None
        done = bool(total and epoch >= total) or bool(
            config and early_stop_due(config, self.series.phases.epoch_of("grokked"), epoch))
        state = "training" if training else ("finished" if done else "stopped")
        if owner is not None and not self.app_training():
            state = f"trained by PID {owner['pid']}"  # another process: a state, not a failure
        eta = format_duration((total - epoch) / speed) if (speed and total and training) else "--"
        lines: list[str | Content] = [
            f"[b]{self.paths.tag}[/b]  {'(watching)' if self.read_only else ''}",
            f"state    {state}",
            *(self.session_lines or [Content(f"device   {self.app_device() or (config.device if config else '?')}")]),
            f"epoch    {epoch:,}/{total:,}" if total else f"epoch    {epoch:,}",
            f"speed    {speed:,.1f} ep/s  ETA {eta}" if speed else f"speed    --  ETA {eta}",
            "",
            *self.value_lines(),
            "",
            f"checkpoint  epoch {self.checkpoint_epoch:,}" if self.checkpoint_epoch is not None
            else "checkpoint  none yet",
            *phase_lines(self.series),
        ]
        first_blank = lines.index("")
        lines[first_blank + 1 : first_blank + 1] = view_lines(self.view)
        measures = measure_lines(self.series, self.view)
        if measures:
            lines += ["", *measures]
        error = self.app_error()
        if error:
            lines += ["", Content.from_markup("[red]error: $error[/red]", error=error)]
        if config:  # the optimizer and every intervention, so a ⊥Grad or StableMax run says what it is
            lines += ["", f"p={config.p} {config.operation}  frac={config.frac_train:g}",
                      f"d_model={config.d_model} heads={config.num_heads}  seed={config.seed}",
                      Content(optimizer_text(config)), *(Content(item) for item in interventions(config))]
        # Markup for the lines made here; Content (text) for the ones that carry strings from files.
        self.query_one(StatusPanel).update(Content("\n").join(
            Content.from_markup(line) if isinstance(line, str) else line for line in lines))
        bar = self.query_one(ProgressBar)
        bar.update(total=total or 1, progress=min(epoch, total or 1))

    def value_lines(self) -> list[str]:
        """Train and test loss and accuracy: the latest, or at the cursor's epoch (in its colour)."""
        keys = ("train_loss", "train_acc", "test_loss", "test_acc")
        index = cursor_index(self.series.epochs, self.view)
        if index is None:
            last = self.series.last or {}
            header = "set         loss     acc"
            values = {key: last.get(key) for key in keys}
        else:
            header = f"[{rich_color(CURSOR_COLOR)}]@ {int(self.series.epochs[index]):<10,}loss     acc[/]"
            values = {key: float(self.series.values(key)[index]) for key in keys}
        return [header,
                f"train  {format_sci(values['train_loss']):>9}  {format_percent(values['train_acc'])}",
                f"test   {format_sci(values['test_loss']):>9}  {format_percent(values['test_acc'])}"]

    @property
    def grok_app(self) -> TrainingHost:
        return cast(TrainingHost, self.app)

    def app_training(self) -> bool:
        return self.grok_app.is_training(self.paths.tag)

    def app_error(self) -> str | None:
        return self.grok_app.error_of(self.paths.tag)

    def app_device(self) -> str | None:
        return self.grok_app.device_of(self.paths.tag)

