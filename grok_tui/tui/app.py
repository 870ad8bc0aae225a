"""GrokApp: the form, the live view, the runs list, and the trainer in a thread worker.

The trainer runs in a Textual thread worker with a threading.Event as its stop signal. The worker
never touches widgets: the live view reads the run log from disk, and the worker's end reaches the
UI as a worker state change (success, error or cancel), handled on the UI thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from grok_tui.config import Config, ConfigError
from grok_tui.environment import Session, default_threads
from grok_tui.runs import RunPaths
from grok_tui.trainer import TrainResult, resolve_device, train_grokking
from grok_tui.tui.compare import CompareScreen
from grok_tui.tui.form import FormScreen, unique_tag
from grok_tui.tui.live import LiveScreen
from grok_tui.tui.screens import HelpScreen, RunsScreen
from grok_tui.tui.sweep_view import SweepScreen

T = TypeVar("T")


def run_in_fresh_thread(job: Callable[[], T]) -> T:
    """Run job on a new thread that ends with it, and return its result (or raise its error).

    Torch's OpenMP (libgomp) keeps a thread pool for every thread that has run torch code, for as long
    as that thread lives. Textual's thread workers come from a pool whose threads outlive the work, so
    after an export or a second run two OpenMP pools compete for 2 cores and training runs 2-3x
    slower (measured: 82 -> 39 epochs/s). A thread per run takes its OpenMP pool with it.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = job()
        except BaseException as err:  # handed to the waiting worker, which reports it
            outcome["error"] = err

    thread = threading.Thread(target=target, name="grok-tui-trainer")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["result"])


@dataclass
class Training:
    """The run this app is training, if any."""

    config: Config
    stop: threading.Event
    device: str
    worker: Worker[TrainResult] | None = None
    finished: threading.Event = field(default_factory=threading.Event)  # set when train_grokking returned


class GrokApp(App[int]):
    CSS_PATH = "grok.tcss"
    TITLE = "grok-tui"
    BINDINGS = [
        Binding("q", "quit_app", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, config: Config | None = None, root: Path | str = ".", watch: str | None = None,
                 config_given: bool = False, compare: list[str] | None = None, sweep: str | None = None) -> None:
        super().__init__()
        self.root = Path(root)
        self.initial = config if config is not None else Config()
        if config is None or not config_given:
            self.initial.tag = unique_tag(self.root, self.initial)
        self.watch_tag = watch
        self.compare_tags = compare
        self.sweep_name = sweep
        self.training: Training | None = None
        self.quit_when_stopped = False
        self.errors: dict[str, str] = {}  # tag -> the last training error, shown in its status panel

    def on_mount(self) -> None:
        self._stop_on_hangup()
        if self.sweep_name is not None:
            self.push_screen(SweepScreen(self.root, self.sweep_name))
        elif self.compare_tags:
            self.push_screen(CompareScreen(self.root, self.compare_tags))
        elif self.watch_tag is not None:
            self.push_screen(LiveScreen(RunPaths.of(self.watch_tag, self.root), read_only=True))
        else:
            self.push_screen(FormScreen(self.initial, self.root))

    def _stop_on_hangup(self) -> None:
        """An SSH drop (SIGHUP) or SIGTERM stops a run cleanly, with a checkpoint, instead of killing it."""
        loop = asyncio.get_running_loop()
        for sig, handler in ((signal.SIGHUP, self._on_hangup), (signal.SIGTERM, self.action_quit_app)):
            try:
                loop.add_signal_handler(sig, handler)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not on this platform, or not the main thread (e.g. some test runners)

    def _on_hangup(self) -> None:
        """The terminal is gone: stop training, wait for its checkpoint, and leave without drawing.

        Textual's normal shutdown writes to the terminal to restore it, and with the terminal gone that
        write blocks forever (seen with textual 8.2.8), so the process exits directly once the trainer
        has written its checkpoint and released the run's lock.
        """
        training = self.training
        if training is not None:
            training.stop.set()

        def leave_when_done() -> None:
            if training is not None:
                training.finished.wait()
            os._exit(128 + signal.SIGHUP)

        threading.Thread(target=leave_when_done, name="grok-tui-hangup", daemon=True).start()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Gate keys by state: None shows a key greyed out in the footer and the palette."""
        if action == "stop_training":
            return True if self.training is not None else None
        if action == "resume_run":
            return True if self.training is None else None
        return True

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers the same actions as the keys, gated the same way."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, FormScreen):
            yield SystemCommand("Start (s)", "Start the run set up in the form", screen.action_start)
        if isinstance(screen, LiveScreen):
            if self.training is not None:
                yield SystemCommand("Stop (x)", "Stop training after this epoch, with a checkpoint",
                                    self.action_stop_training)
            else:
                yield SystemCommand("Resume (r)", "Resume this run from its checkpoint", self.action_resume_run)
            yield SystemCommand("Export PNG (e)", "Write logs/<tag>/training_curves.png and progress_measures.png",
                                self.action_export_png)
            yield SystemCommand("Log x (l)", "Switch the epoch axis between linear and log",
                                screen.action_toggle_log_x)
            yield SystemCommand("Progress measures (m)", "Switch between loss/accuracy and the progress measures",
                                screen.action_toggle_measures)
        if isinstance(screen, RunsScreen):
            yield SystemCommand("Compare (c)", "Compare the runs selected with space", screen.action_compare)
            yield SystemCommand("Sort (s)", "Sort by the next column (S reverses)", screen.action_sort_next)
            yield SystemCommand("Filter (/)", "Show only the runs with some text", screen.action_filter)
            yield SystemCommand("Delete (D)", "Delete the run under the cursor, after a confirmation",
                                screen.action_delete_selected)
        if isinstance(screen, CompareScreen):
            yield SystemCommand("Runs / groups (t)", "Single runs, or seed groups as median and band",
                                screen.action_toggle_grouping)
            yield SystemCommand("Log x (l)", "Switch the epoch axis between linear and log", screen.action_toggle_log_x)
            yield SystemCommand("Export (e)", "Write the comparison figure with the view's axes", screen.action_export)
        yield SystemCommand("Runs (g)", "Every run under this root", self.action_show_runs)
        yield SystemCommand("New run (n)", "Set up a new run in the form", self.action_new_run)
        yield SystemCommand("Help (?)", "All keys", self.action_help)

    # ---- queries used by the live view
    def is_training(self, tag: str) -> bool:
        return self.training is not None and self.training.config.tag == tag

    def error_of(self, tag: str) -> str | None:
        return self.errors.get(tag)

    def device_of(self, tag: str) -> str | None:
        return self.training.device if self.is_training(tag) and self.training else None

    # ---- starting and stopping
    def on_form_screen_start_requested(self, message: FormScreen.StartRequested) -> None:
        self.start_training(message.config, resume=not message.fresh)

    def start_training(self, config: Config, resume: bool) -> None:
        if self.training is not None:
            self.notify(f"already training {self.training.config.tag!r}; stop it first (x)", severity="warning")
            return
        try:
            device = str(resolve_device(config.check().device))
        except ConfigError as err:
            self.notify(str(err), severity="error")
            return
        self.errors.pop(config.tag, None)
        self.training = Training(config, threading.Event(), device)
        self.refresh_bindings()
        resuming = resume and RunPaths(self.root, config.tag).checkpoint.exists()  # before the trainer writes
        self.training.worker = self._train(config, resume, self.training.stop, self.training.finished)
        self.open_run(config.tag)
        threads = config.threads or default_threads()
        self.notify(f"{'resuming' if resuming else 'starting'} {config.tag!r} on {device}, "
                    f"{threads} thread{'s' if threads != 1 else ''}")

    @work(thread=True, exit_on_error=False, name="trainer", group="trainer")
    def _train(self, config: Config, resume: bool, stop: threading.Event, finished: threading.Event) -> TrainResult:
        try:
            return run_in_fresh_thread(lambda: train_grokking(config, resume=resume, stop_event=stop,
                                                              root=self.root, on_session=self._on_session))
        finally:
            finished.set()

    def _on_session(self, session: Session) -> None:
        """On the trainer's thread, as a session starts: say where it runs, and warn of a new environment."""
        warning = session.warning()
        if warning:
            self.call_from_thread(self.notify, warning, severity="warning", timeout=15)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "trainer" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        tag = self.training.config.tag if self.training else "?"
        self.training = None
        self.refresh_bindings()
        if event.state == WorkerState.SUCCESS and event.worker.result is not None:
            result = event.worker.result
            if result.status == "stopped":
                self.notify(f"stopped {tag!r} at epoch {result.epoch:,}; checkpoint saved")
            elif result.status == "early_stopped":
                self.notify(f"{tag!r} done at epoch {result.epoch:,}, after grokking (stop after grok); "
                            "checkpoint saved")
            else:
                self.notify(f"{tag!r} finished at epoch {result.epoch:,}; curves in {result.paths.curves_png}")
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            message = " ".join(str(error).split()) or type(error).__name__
            self.notify(f"training {tag!r} failed: {message}", severity="error", timeout=15)
            self.errors[tag] = message
        self.refresh_live_views()
        if self.quit_when_stopped:
            self.exit(0)

    def refresh_live_views(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen):
                screen.poll()

    def action_stop_training(self) -> None:
        if self.training is None:
            self.notify("nothing is training", severity="warning")
            return
        self.training.stop.set()
        self.notify(f"stopping {self.training.config.tag!r} after this epoch...")

    def current_tag(self) -> str | None:
        screen = self.screen
        return screen.paths.tag if isinstance(screen, LiveScreen) else None

    def action_resume_run(self) -> None:
        tag = self.current_tag()
        if tag is not None:
            self.resume_tag(tag)

    def resume_tag(self, tag: str) -> None:
        paths = RunPaths.of(tag, self.root)
        if self.is_training(tag):
            self.notify(f"{tag!r} is already training", severity="warning")
            return
        if not paths.checkpoint.exists():
            self.notify(f"{tag!r} has no checkpoint to resume from", severity="warning")
            return
        try:
            config = Config.load(paths.config)
        except ConfigError as err:
            self.notify(str(err), severity="error")
            return
        self.start_training(config, resume=True)

    # ---- export
    def action_export_png(self) -> None:
        screen = self.screen
        if isinstance(screen, LiveScreen):
            self.export_tag(screen.paths.tag, log_x=screen.log_x)  # the file's axes are the view's

    @work(thread=True, exit_on_error=False, group="export")
    def export_tag(self, tag: str, log_x: bool = False) -> None:
        from grok_tui.plotting import export_run

        try:
            written = export_run(tag, root=self.root, log_x=log_x)
        except Exception as err:  # reported to the user; the app stays usable
            self.call_from_thread(self.notify, f"export failed: {err}", severity="error")
            return
        self.call_from_thread(self.notify, "exported " + " and ".join(str(path) for path in written))

    # ---- navigation
    def open_run(self, tag: str) -> None:
        live = LiveScreen(RunPaths.of(tag, self.root), read_only=not self.is_training(tag))
        if isinstance(self.screen, (LiveScreen, RunsScreen, CompareScreen)):
            self.switch_screen(live)
        else:
            self.push_screen(live)

    def compare_runs(self, tags: list[str]) -> None:
        view = CompareScreen(self.root, tags)
        if isinstance(self.screen, (LiveScreen, RunsScreen, CompareScreen)):
            self.switch_screen(view)
        else:
            self.push_screen(view)

    # ---- requests from the runs list
    def on_runs_screen_open_run(self, message: RunsScreen.OpenRun) -> None:
        self.open_run(message.tag)

    def on_runs_screen_resume_run(self, message: RunsScreen.ResumeRun) -> None:
        self.resume_tag(message.tag)

    def on_runs_screen_export_run(self, message: RunsScreen.ExportRun) -> None:
        self.export_tag(message.tag)

    def on_runs_screen_compare_runs(self, message: RunsScreen.CompareRuns) -> None:
        self.compare_runs(message.tags)

    # ---- requests from the sweep view: its members open above it, so Escape comes back to it
    def on_sweep_screen_open_run(self, message: SweepScreen.OpenRun) -> None:
        self.push_screen(LiveScreen(RunPaths.of(message.tag, self.root), read_only=not self.is_training(message.tag),
                                    can_go_back=True))

    def on_sweep_screen_compare_runs(self, message: SweepScreen.CompareRuns) -> None:
        self.push_screen(CompareScreen(self.root, message.tags))

    def action_new_run(self) -> None:
        fresh_tag = unique_tag(self.root, self.initial)
        self.push_screen(FormScreen(dataclasses.replace(self.initial, tag=fresh_tag), self.root))

    def action_show_runs(self) -> None:
        self.push_screen(RunsScreen(self.root))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit_app(self) -> None:
        if self.training is None:
            self.exit(0)
            return
        self.quit_when_stopped = True
        self.training.stop.set()
        self.notify(f"stopping {self.training.config.tag!r} and saving a checkpoint before quitting...")
