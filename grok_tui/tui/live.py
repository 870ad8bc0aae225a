"""The live view of one run: loss and accuracy charts (or, on `m`, the progress measures) and a status
panel, fed only by the run's log.

The view tails logs/<tag>/training_log.jsonl by byte offset (RunLogReader) twice a second and redraws
only when new records arrived. It never asks the trainer for numbers, so a run trained in this app,
in another terminal (`grok-tui watch`) or last week looks the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from grok_tui.config import Config, ConfigError
from grok_tui.environment import environment_changes, read_sessions
from grok_tui.progress import finite, format_duration, format_percent, format_sci
from grok_tui.runlog import RunLogReader
from grok_tui.runs import RunPaths, lock_owner
from grok_tui.phases import early_stop_due
from grok_tui.series import RunSeries
from grok_tui.tui.charts import FrequencyChart, MeasureLossChart, MetricChart, SeriesChart, SparsityChart

if TYPE_CHECKING:
    from grok_tui.tui.app import GrokApp

REFRESH_S = 0.5
UI_CHUNK = 1024 * 1024  # bytes of log parsed per slice on the UI thread (~5,000 records, ~80 ms)


EVENT_SHORT = {"memorized": "memorized", "circuit_formation": "circuit", "grokked": "grokked"}


def phase_lines(series: RunSeries) -> list[str]:
    """The phase now, then one line per event so far (grok_tui/phases.py)."""
    lines = [f"phase    {series.phases.phase(has_data=bool(len(series)))}"]
    lines += [f"  {EVENT_SHORT[event.name]:<10}@ {event.epoch:,}" for event in series.phases.events]
    return lines


def measure_lines(series: RunSeries) -> list[str]:
    """The latest progress measures, when the run has any."""
    measured = series.measured
    if measured is None:
        return []
    gini_embed = finite(measured.get("gini_embed"))
    keys = " ".join(str(k) for k in series.key_freqs) or "none yet"
    return [f"measures @ {series.freq_epoch:,}",
            f"restr {format_sci(measured.get('restricted_loss'))} excl {format_sci(measured.get('excluded_loss'))}",
            f"Gini W_E {gini_embed:.2f}" if gini_embed is not None else "Gini W_E -",
            f"key freqs {keys}"]


def session_status_lines(sessions: list[dict[str, object]]) -> list[str]:
    """'device   cpu, 2 threads', and a warning line when the last session ran in a new environment."""
    if not sessions:
        return []
    last = sessions[-1]
    threads = last.get("threads")
    lines = [f"device   {escape(_short(last.get('device')))}"
             + (f", {threads} thread{'s' if threads != 1 else ''}" if isinstance(threads, int) else "")]
    changes = environment_changes(sessions[-2], last) if len(sessions) > 1 else []
    if changes:
        lines.append(f"[yellow]env changed: {escape(_short('; '.join(changes), 80))}[/yellow]")
    return lines


def _short(value: object, limit: int = 24) -> str:
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StatusPanel(Static):
    """Tag, device, epoch/total, speed, ETA, latest numbers, last checkpoint and phase."""


class LiveScreen(Screen[None]):
    BINDINGS = [
        Binding("x", "app.stop_training", "Stop"),
        Binding("r", "app.resume_run", "Resume"),
        Binding("e", "app.export_png", "Export PNG"),
        Binding("l", "toggle_log_x", "Log x"),
        Binding("m", "toggle_measures", "Measures"),
        Binding("n", "app.new_run", "New run"),
        Binding("g", "app.show_runs", "Runs"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, paths: RunPaths, read_only: bool = False, can_go_back: bool = False) -> None:
        super().__init__()
        self.paths = paths
        self.read_only = read_only
        self.can_go_back = can_go_back  # opened from the sweep view: Escape returns to it
        self.series = RunSeries()
        self.reader = RunLogReader(paths.log)
        self.log_x = False
        self.show_measures = False
        self.config: Config | None = None
        self._checkpoint_mtime: float | None = None
        self.checkpoint_epoch: int | None = None
        self._sessions_stat: tuple[float, int] | None = None
        self.session_lines: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="live-body"):
            with Vertical(id="charts"):
                yield MetricChart("loss", id="loss-chart")
                yield MetricChart("acc", id="acc-chart")
            with Vertical(id="measures"):
                yield MeasureLossChart(id="measure-loss-chart")
                with Horizontal(id="measures-bottom"):
                    yield SparsityChart(id="sparsity-chart")
                    yield FrequencyChart(id="freq-chart")
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
        from grok_tui.checkpoint import load_checkpoint
        from grok_tui.errors import CheckpointError

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
        changed = self.series.apply(update)
        if self.reader.has_more():
            # A long log loads in slices between which keys and repaints get their turn.
            self.set_timer(0.01, self.poll)
        if self.config is None or update.reset:
            # A resume (which may raise num_epochs) rewrites config.json and cuts the log back: a reset.
            self._load_config()
        self._update_checkpoint_epoch()
        self._update_session()
        if changed:
            self.redraw()
        self.update_status()

    def redraw(self, force: bool = False) -> None:
        # Only the view on screen: the hidden one catches up (its charts see a changed key) when shown.
        view = self.query_one("#measures" if self.show_measures else "#charts")
        for chart in view.query(SeriesChart):
            chart.draw(self.series, self.log_x, force=force)

    def on_resize(self) -> None:
        self.redraw()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.can_go_back
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_toggle_log_x(self) -> None:
        self.log_x = not self.log_x
        self.redraw(force=True)

    def action_toggle_measures(self) -> None:
        self.show_measures = not self.show_measures
        self.query_one("#charts").display = not self.show_measures
        self.query_one("#measures").display = self.show_measures
        self.call_after_refresh(self.redraw)  # after layout, so the charts know their new size

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
        lines = [
            f"[b]{self.paths.tag}[/b]  {'(watching)' if self.read_only else ''}",
            f"state    {state}",
            *(self.session_lines or [f"device   {self.app_device() or (config.device if config else '?')}"]),
            f"epoch    {epoch:,}/{total:,}" if total else f"epoch    {epoch:,}",
            f"speed    {speed:,.1f} ep/s  ETA {eta}" if speed else f"speed    --  ETA {eta}",
            "",
            "set         loss     acc",
            f"train  {format_sci(last.get('train_loss')) if last else '-':>9}  {format_percent(last.get('train_acc')) if last else '-'}",
            f"test   {format_sci(last.get('test_loss')) if last else '-':>9}  {format_percent(last.get('test_acc')) if last else '-'}",
            "",
            f"checkpoint  epoch {self.checkpoint_epoch:,}" if self.checkpoint_epoch is not None
            else "checkpoint  none yet",
            *phase_lines(self.series),
        ]
        measures = measure_lines(self.series)
        if measures:
            lines += ["", *measures]
        error = self.app_error()
        if error:
            lines += ["", f"[red]error: {escape(error)}[/red]"]
        if config:
            lines += ["", f"p={config.p} {config.operation}  frac={config.frac_train:g}",
                      f"d_model={config.d_model} heads={config.num_heads}",
                      f"lr={config.lr:g} wd={config.weight_decay:g} seed={config.seed}"]
        self.query_one(StatusPanel).update("\n".join(lines))
        bar = self.query_one(ProgressBar)
        bar.update(total=total or 1, progress=min(epoch, total or 1))

    @property
    def grok_app(self) -> GrokApp:
        return cast("GrokApp", self.app)

    def app_training(self) -> bool:
        return self.grok_app.is_training(self.paths.tag)

    def app_error(self) -> str | None:
        return self.grok_app.error_of(self.paths.tag)

    def app_device(self) -> str | None:
        return self.grok_app.device_of(self.paths.tag)

