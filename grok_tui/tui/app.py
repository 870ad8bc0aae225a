"""GrokApp: the form, the live view, the runs list, and the trainer in a thread worker.

The trainer runs in a Textual thread worker with a threading.Event as its stop signal. The worker
never touches widgets: the live view reads the run log from disk, and the worker's end reaches the
UI as a worker state change (success, error or cancel), handled on the UI thread.

However the app ends (q, ctrl+q, the palette's Quit, an exception in the UI, SIGTERM, SIGHUP), the
trainer is stopped after its epoch and has written its checkpoint and freed the run's lock before the
process exits: the trainer's thread would otherwise keep the process alive, invisibly, to num_epochs.
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
from typing import Any, Protocol, TypeVar, cast

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from grok_tui.core.config import Config, ConfigError
from grok_tui.run.lock import lock_owner
from grok_tui.run.paths import RunPaths
from grok_tui.run.sessions import Session
from grok_tui.run.summary import summarize
from grok_tui.training.loop import TrainResult
from grok_tui.training.trainer import resolve_device, train_grokking
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


class BackgroundWork(Protocol):
    """Something that stops when `stop` is set and sets `finished` when it has (threading.Events)."""

    stop: threading.Event
    finished: threading.Event


class GrokApp(App[int]):
    CSS_PATH = "grok.tcss"
    TITLE = "grok-tui"
    BINDINGS = [
        Binding("q", "quit_app", "Quit"),
        Binding("question_mark", "help", "Help"),
        # Reached only when the live view's own x or r is not offered (check_action): they say why.
        Binding("x", "explain('stop')", show=False),
        Binding("r", "explain('resume')", show=False),
    ]
    EXIT_SIGNAL_STATUS = {signal.SIGTERM: 128 + signal.SIGTERM, signal.SIGHUP: 128 + signal.SIGHUP}

    class Notice(Message):
        """A notification from another thread: post_message never blocks, call_from_thread does (and would
        deadlock with a UI thread that waits for the trainer while the app ends)."""

        def __init__(self, text: str, severity: str = "information", timeout: float = 15) -> None:
            super().__init__()
            self.text, self.severity, self.timeout = text, severity, timeout

    def __init__(self, config: Config | None = None, root: Path | str = ".", watch: str | None = None,
                 config_given: bool = False, compare: list[str] | None = None, sweep: str | None = None,
                 background: BackgroundWork | None = None) -> None:
        super().__init__()
        self.root = Path(root)
        self.initial = config if config is not None else Config()
        if config is None or not config_given:
            self.initial.tag = unique_tag(self.root, self.initial)
        self.watch_tag = watch
        self.compare_tags = compare
        self.sweep_name = sweep
        self.training: Training | None = None
        # Work this process does beside the app (a sweep's members): stopped and waited for on every way out.
        self.background = background
        self.quit_when_stopped = False
        self.quit_status = 0  # the exit status once the trainer has stopped: 143 after SIGTERM
        self.signal_status: int | None = None  # set by SIGTERM/SIGHUP; wins over every other status
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
        for sig, handler in ((signal.SIGHUP, self._on_hangup), (signal.SIGTERM, self._on_terminate)):
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
        self.signal_status = self.EXIT_SIGNAL_STATUS[signal.SIGHUP]

        def leave_when_done() -> None:
            self.stop_trainer_and_wait()
            os._exit(self.EXIT_SIGNAL_STATUS[signal.SIGHUP])

        threading.Thread(target=leave_when_done, name="grok-tui-hangup", daemon=True).start()

    def _on_terminate(self) -> None:
        """SIGTERM: stop with a checkpoint, as q does, then exit 143."""
        self.signal_status = self.EXIT_SIGNAL_STATUS[signal.SIGTERM]
        self.quit_app(self.signal_status)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only the keys that work here (False hides a key from the footer and the palette).

        In a live view, x is offered while this app trains the run and r while it does not; neither is
        offered for a run another process trains, since a viewer can stop or resume nothing there.
        Elsewhere, x stops whatever this app trains.
        """
        screen = self.screen
        live_tag = screen.paths.tag if isinstance(screen, LiveScreen) else None
        if action == "stop_training":
            if live_tag is None:
                return True if self.training is not None else False
            return self.is_training(live_tag)
        if action == "resume_run":
            return live_tag is not None and self.training is None and self.trained_elsewhere(live_tag) is None
        if action == "explain":
            return live_tag is not None
        if action == "go_back":  # a run's view opened first has nothing before it
            return len(self.screen_stack) > 2 or live_tag is None
        return True

    def trained_elsewhere(self, tag: str) -> int | str | None:
        """The PID of another process that trains the run (its lock's owner), or None."""
        if self.is_training(tag):
            return None
        owner = lock_owner(RunPaths.of(tag, self.root))
        if owner is None:
            return None
        pid = owner.get("pid", "?")
        return pid if isinstance(pid, (int, str)) else "?"

    def action_explain(self, what: str) -> None:
        """x or r where the live view does not offer it: say why, as the run's state, not as a failure."""
        tag = self.current_tag()
        if tag is None:
            return
        pid = self.trained_elsewhere(tag)
        if pid is not None:
            self.notify(f"{tag!r} is trained by PID {pid} in another process: {'stop' if what == 'stop' else 'resume'} "
                        "it there (this view only watches it)")
        elif what == "stop":
            self.notify(f"{tag!r} is not training here: {self.run_state(tag)}")
        else:
            self.notify(f"already training {self.training.config.tag!r}; stop it first (x)" if self.training
                        else f"{tag!r}: {self.run_state(tag)}")

    def run_state(self, tag: str) -> str:
        """'finished at epoch 3,000', 'stopped at epoch 1,200' or 'not trained yet', from the run's files."""
        summary = summarize(RunPaths.of(tag, self.root))
        if summary.last is None:
            return "not trained yet"
        return f"{summary.status} at epoch {int(summary.last['epoch']):,}"

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers the same actions as the keys, gated the same way."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # Textual's own Quit exits at once; ours stops the trainer first
                yield command
        yield SystemCommand("Quit (q)", "Quit; a run in training is stopped with a checkpoint first",
                            self.action_quit_app)
        if isinstance(screen, FormScreen):
            yield SystemCommand("Start (s)", "Start the run set up in the form", screen.action_start)
        if isinstance(screen, LiveScreen):
            if self.check_action("stop_training", ()):
                yield SystemCommand("Stop (x)", "Stop training after this epoch, with a checkpoint",
                                    self.action_stop_training)
            if self.check_action("resume_run", ()):
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
        yield SystemCommand("New run (n)", "The form (from a run's view: with its settings, to train it longer)",
                            self.action_new_run)
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
        threads = (f"{config.threads} thread{'s' if config.threads != 1 else ''}" if config.threads
                   else "threads: as many cores as are free")
        self.notify(f"{'resuming' if resuming else 'starting'} {config.tag!r} on {device}, {threads}")

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
            self.post_message(self.Notice(warning, severity="warning"))

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification as text, never markup (whatever a caller asks): they carry tags, paths and
        error texts from files, and markup there could break the screen or run an action (`[@click=...]`)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_grok_app_notice(self, message: Notice) -> None:
        self.notify(message.text, severity=message.severity, timeout=message.timeout)  # type: ignore[arg-type]

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
            self.exit(self.quit_status, return_code=self.quit_status)

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
        pid = self.trained_elsewhere(tag)
        if pid is not None:
            self.notify(f"{tag!r} is trained by PID {pid} in another process: resume it there once it stops")
            return
        summary = summarize(paths)
        if summary.status in ("finished", "done early") and summary.last is not None:
            epoch = int(summary.last["epoch"])
            if summary.status == "finished":
                self.notify(f"{tag!r} finished at epoch {epoch:,}: raise num_epochs in the form (n) to train longer")
            else:
                self.notify(f"{tag!r} is done at epoch {epoch:,}, after grokking (stop after grok): clear "
                            "'stop after grok' in the form (n) to train on")
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
        """The figures at their usual paths; while the run trains (here or elsewhere), figures named by
        their last epoch instead, which the automatic export at the end of the run does not replace."""
        from grok_tui.figures.curves import export_run, export_snapshot

        paths = RunPaths.of(tag, self.root)
        try:
            if self.is_training(tag) or lock_owner(paths) is not None:
                written = export_snapshot(tag, root=self.root, log_x=log_x)
            else:
                written = export_run(tag, root=self.root, log_x=log_x)
        except Exception as err:  # reported to the user; the app stays usable
            self.post_message(self.Notice(f"export failed: {err}", severity="error"))
            return
        self.post_message(self.Notice("exported " + " and ".join(str(path) for path in written), timeout=10))

    # ---- navigation: Escape goes back one screen and never lands on the form, where s starts a run
    def open_run(self, tag: str) -> None:
        screen = self.screen
        if isinstance(screen, LiveScreen) and screen.paths.tag == tag:  # resumed from its own view: keep the view
            screen.read_only = not self.is_training(tag)
            screen.poll()
            return
        self.show_over_runs(LiveScreen(RunPaths.of(tag, self.root), read_only=not self.is_training(tag)))

    def compare_runs(self, tags: list[str]) -> None:
        self.show_over_runs(CompareScreen(self.root, tags))

    def show_over_runs(self, view: Screen[None]) -> None:
        """A run or a comparison: above the runs list (Escape returns to it), else in place of the view
        or form it was asked from (a started run replaces its form: Escape never reaches a form)."""
        if isinstance(self.screen, RunsScreen) or len(self.screen_stack) < 2:
            self.push_screen(view)
        else:
            self.switch_screen(view)

    def action_go_back(self) -> None:
        """Escape: the screen before; on the first screen a comparison gives way to the runs list, and
        anywhere else Escape says how to quit (Textual's empty base screen is never shown)."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
        elif isinstance(self.screen, CompareScreen):
            self.switch_screen(RunsScreen(self.root))
        else:
            self.notify("this is the first screen: q quits")

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
        self.push_screen(LiveScreen(RunPaths.of(message.tag, self.root), read_only=not self.is_training(message.tag)))

    def on_sweep_screen_compare_runs(self, message: SweepScreen.CompareRuns) -> None:
        self.push_screen(CompareScreen(self.root, message.tags))

    def action_new_run(self) -> None:
        """The form; from a run's live view, filled in with that run's settings and tag, so that raising
        num_epochs trains it longer and a new tag makes a variant of it."""
        screen = self.screen
        if isinstance(screen, LiveScreen) and screen.config is not None:
            self.push_screen(FormScreen(dataclasses.replace(screen.config), self.root))
            return
        fresh_tag = unique_tag(self.root, self.initial)
        self.push_screen(FormScreen(dataclasses.replace(self.initial, tag=fresh_tag), self.root))

    def action_show_runs(self) -> None:
        """The runs list: the one already open, with the screens above it closed (so Escape from it
        goes where it went before), or a new one above this screen."""
        stack = self.screen_stack
        for depth, screen in enumerate(reversed(stack)):
            if isinstance(screen, RunsScreen):
                for _ in range(depth):
                    self.pop_screen()
                return
        self.push_screen(RunsScreen(self.root))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit_app(self) -> None:
        self.quit_app(0)

    async def action_quit(self) -> None:
        """ctrl+q (Textual's own quit key) does what q does."""
        self.quit_app(0)

    def action_help_quit(self) -> None:
        """ctrl+c: Textual suggests its own quit key; ours is q."""
        self.notify("press q to quit (a run in training is stopped with a checkpoint first)")

    def quit_app(self, status: int) -> None:
        """Exit with `status`, after the trainer (if any) has stopped with a checkpoint."""
        self.quit_status = status
        if self.training is None:
            self.exit(status, return_code=status)
            return
        self.quit_when_stopped = True
        self.training.stop.set()
        self.notify(f"stopping {self.training.config.tag!r} and saving a checkpoint before quitting...")

    async def on_unmount(self) -> None:
        """Every way out of the app passes here: stop the trainer and wait for its checkpoint.

        After q the trainer has already stopped; after an exception in the UI, or ctrl+q in an older
        binding, it is still training and would keep the process alive to num_epochs.
        """
        await asyncio.to_thread(self.stop_trainer_and_wait)

    def stop_trainer_and_wait(self) -> None:
        for work in (self.training, self.background):
            if work is not None:
                work.stop.set()
        for work in (self.training, self.background):
            if work is not None:
                work.finished.wait()

    def run(self, **kwargs: Any) -> int | None:
        """App.run, returning the exit status: the app's result, 1 after an exception in the UI (Textual's
        return code), 143 after SIGTERM; the trainer has stopped with a checkpoint by then."""
        result = super().run(**kwargs)
        self.stop_trainer_and_wait()  # on_unmount did it, unless the app failed before it could
        if self.signal_status is not None:
            return self.signal_status
        return self.return_code or result
