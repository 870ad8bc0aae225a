"""`grok-tui sweep NAME [config flags]`: define (or grow) a sweep, check every member, then train them.

Any config flag takes a comma list or, for whole numbers, a range (`--seed 0-4 --weight-decay 0.1,0.3,1`);
a flag with one value sets it for every member. Every member is validated, and checked against an existing
run of its tag, before anything is written: one bad value is a one-line error and exit 2. `--dry-run`
lists the members, what each would do and an estimate of the time. Ctrl-C, SIGTERM or an SSH drop
(SIGHUP) stop every member after its current epoch with a checkpoint; run the command again to go on.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from grok_tui.cli.common import EXIT_SIGNAL, add_root
from grok_tui.cli.train import preset_values
from grok_tui.core.config import PRESETS, Config, ConfigError, preset
from grok_tui.core.flags import CONFIG_FLAGS


def add_parser(commands: Any) -> None:
    from grok_tui.sweeps.grid import default_workers

    sweep = commands.add_parser(
        "sweep", help="train a grid of runs (comma lists and ranges of config values), resumable",
        description="Train the Cartesian product of the values given: each member is an ordinary run "
                    "tagged NAME.<values> (e.g. NAME.wd0.3.s1). Running it again resumes unfinished members, "
                    "skips finished ones and adds the members of a larger grid; nothing is deleted.")
    sweep.add_argument("name", help="the sweep's name: members are tagged NAME.<values>; its definition is "
                                    "ROOT/sweeps/NAME.json")
    group = sweep.add_argument_group("config values (a value, a comma list, or a range such as 0-4)")
    group.add_argument("--preset", choices=sorted(PRESETS), default=argparse.SUPPRESS,
                       help="start from a named config: paper or quick")
    for flag, name, _, text in CONFIG_FLAGS:
        if name != "tag":
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=text)
    group.add_argument("--betas", dest="betas", type=float, nargs=2, metavar=("B1", "B2"),
                       default=argparse.SUPPRESS, help="AdamW betas, for every member")
    group.add_argument("--orthograd", dest="orthograd", nargs="?", const="on", default=argparse.SUPPRESS,
                       metavar="on,off", help="⊥Grad for every member (alone), or on,off to compare")
    sweep.add_argument("--workers", type=int, default=default_workers(),
                       help=f"members trained at once, one torch thread each (default: the cores, "
                            f"{default_workers()} here)")
    sweep.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                       help="run the members as tasks on an existing Ray cluster (ADDRESS, or auto: the one this "
                            "machine belongs to); ROOT must be a folder every node sees (NFS)")
    sweep.add_argument("--gpus-per-run", type=float, default=0.0, metavar="F",
                       help="with --ray: the fraction of a GPU each member asks for (e.g. 0.25: four share one)")
    sweep.add_argument("--dry-run", action="store_true", help="list the members and the estimated time; "
                                                               "write and train nothing")
    sweep.add_argument("--headless", action="store_true",
                       help="a progress line instead of the sweep view (the default off a terminal)")
    add_root(sweep)


def sweep_from_args(args: argparse.Namespace) -> Any:
    """The sweep these flags define, grown by its saved definition, every member validated."""
    from grok_tui.sweeps.grid import (
        definition_path,
        expand,
        load_definition,
        merge_axes,
        parse_values,
        saved_members,
    )

    path = definition_path(args.root, args.name)
    saved = load_definition(path)
    given = [name for name in [*(name for _, name, _, _ in CONFIG_FLAGS), "orthograd"]
             if name != "tag" and hasattr(args, name)]
    # As `train` does on a run: the given flags are layered on the saved definition (a preset's values
    # too, so a preset of other settings is refused like any other experiment change), else on a preset.
    if saved is not None:
        base = _saved_base(saved, path)
        if hasattr(args, "preset"):
            base = dataclasses.replace(base, **preset_values(args.preset))
    else:
        base = preset(getattr(args, "preset", "paper"), threads=1)  # one thread per member: see executor.py
    saved_axes = saved.get("axes", {}) if saved is not None else {}
    axes: dict[str, list[Any]] = {}
    for name in given:
        values = parse_values(name, getattr(args, name))
        if len(values) == 1 and name not in saved_axes:
            base = dataclasses.replace(base, **{name: values[0]})
        else:  # a value of a saved axis grows that axis
            axes[name] = values
    if hasattr(args, "betas"):
        base = dataclasses.replace(base, betas=tuple(args.betas))
    sweep = expand(args.name, base, merge_axes(saved, axes), saved_members(saved, path))
    _refuse_other_experiments(sweep.members, Path(args.root))
    return sweep


def _saved_base(saved: dict[str, Any], path: Path) -> Config:
    try:
        return Config.from_dict(saved["base"])
    except (ConfigError, TypeError, KeyError) as err:
        raise ConfigError([f"{path}: cannot be read as a sweep definition ({err}); move it away to start over"]) from None


def _refuse_other_experiments(members: list[Any], root: Path) -> None:
    """A member's tag that names a run of another experiment is refused before anything starts."""
    from grok_tui.run.paths import RunPaths

    for member in members:
        paths = RunPaths.of(member.tag, root)
        if not paths.config.exists():
            continue
        try:
            stored = Config.load(paths.config)
        except ConfigError as err:
            raise ConfigError([f"member {member.tag}: {err}"]) from None
        changed = member.config.experiment_differences(stored)
        if changed:
            raise ConfigError([f"member {member.tag}: run exists with other settings ({', '.join(changed)}); "
                               "run the sweep with its own flags, or give it another name"])


def run(args: argparse.Namespace) -> int:
    from grok_tui.sweeps.grid import save_definition
    from grok_tui.sweeps.local_executor import STOP_STATUSES, LocalExecutor, member_state

    if args.workers < 1 or args.workers > 1024:
        raise ConfigError([f"workers: must be between 1 and 1,024 (got {args.workers})"])
    if not 0 <= args.gpus_per_run <= 64 or (args.gpus_per_run and args.ray is None):
        raise ConfigError([f"gpus_per_run: must be between 0 and 64, and is for --ray only (got {args.gpus_per_run:g})"])
    if args.ray is not None:
        from grok_tui.sweeps.ray_executor import require_ray

        require_ray()  # before anything is written
    # Resolved once, here: every executor, member and message then names the same folder, wherever the
    # members run (a relative root given to a child in another working folder would land elsewhere).
    args.root = os.path.abspath(args.root)
    root = Path(args.root)
    sweep = sweep_from_args(args)
    if args.ray is None:  # a Ray cluster's nodes may have devices this machine lacks
        _check_devices(sweep.members)
    states = {m.tag: member_state(m, root) for m in sweep.members}
    todo = [m for m in sweep.members if states[m.tag].state in ("new", "resume")]
    elsewhere = [m for m in sweep.members if states[m.tag].state.startswith("training")]
    if args.dry_run:
        print_plan(sweep, states, todo, args.workers)
        return 0
    ray_executor: Any = None
    if args.ray is not None:
        # Joined before anything is written, and on the main thread before the sweep view takes the terminal:
        # Ray's init needs real file descriptors, and a wrong address must be one line, not a frozen view.
        from grok_tui.sweeps.grid import definition_path
        from grok_tui.sweeps.ray_executor import RayExecutor

        stop_path = definition_path(root, sweep.name).parent / f".{sweep.name}.stop"
        ray_executor = RayExecutor(root, args.ray, stop_path, threading.Event(), args.gpus_per_run)
        ray_executor.connect()
    path = save_definition(root, sweep)
    axes = ", ".join(f"{field} x{len(values)}" for field, values in sweep.axes.items()) or "no axis"
    where = f"on the Ray cluster at {args.ray}" if args.ray is not None else f"{args.workers} at a time"
    print(f"grok-tui: sweep {sweep.name!r}: {len(sweep.members)} members ({axes}), {len(todo)} to train, "
          f"{where}; definition in {path}", flush=True)
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not received:
            print(f"\n{signal.Signals(signum).name}: stopping every member after its epoch, with a checkpoint...",
                  file=sys.stderr, flush=True)
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in EXIT_SIGNAL}
    view = not args.headless and sys.stdin.isatty() and sys.stdout.isatty()
    progress = SweepProgress(sweep.name, len(todo), root, quiet=view)
    executor: Any
    if ray_executor is not None:
        ray_executor.stop, ray_executor.on_progress = stop, progress.update
        executor = ray_executor
    else:
        executor = LocalExecutor(root, args.workers, stop, progress.update)
    try:
        if view:
            outcomes, status = run_in_view(executor, todo, sweep.name, root, stop)
            if status in (128 + signal.SIGTERM, 128 + signal.SIGHUP):  # the app got it and stopped the members
                received.append(status - 128)
            elif status:  # the view failed (its error is on the screen): the members were stopped
                print(f"grok-tui: the sweep view ended with status {status}", file=sys.stderr)
                return status
        else:
            outcomes = executor.run(todo)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    progress.end()
    # The view closed (q) with members left: they stopped with a checkpoint, and the user asked for it.
    closed_early = view and stop.is_set() and not received and (
        len(outcomes) < len(todo) or any(o.returncode in STOP_STATUSES for o in outcomes))
    failed = [o for o in outcomes if o.returncode not in STOP_STATUSES + (0,)]
    for outcome in failed:
        print(f"grok-tui: member {outcome.tag} failed: {outcome.error or f'exit status {outcome.returncode}'}",
              file=sys.stderr)
    print_members(sweep, root)
    again = f"run `grok-tui sweep {sweep.name} --root {root}` to go on"
    if received or closed_early:
        print(f"grok-tui: stopped; {again}", file=sys.stderr)
        return EXIT_SIGNAL.get(signal.Signals(received[0]), 130) if received else 0
    # Stopped by a signal the sweep did not send (an admin's kill, `timeout`): not finished, so not a success.
    outside = [o.tag for o in outcomes if o.stopped_from_outside]
    if outside:
        print(f"grok-tui: stopped from outside (a signal this sweep did not send), each after its epoch with a "
              f"checkpoint: {', '.join(outside)}; {again}", file=sys.stderr)
    # Members another process was training when this one started (another sweep, or members orphaned by a
    # sweep killed outright, stopping after their epoch): not trained here, not finished.
    if elsewhere:
        print(f"grok-tui: being trained by another process, so not trained here: "
              f"{', '.join(f'{m.tag} ({states[m.tag].state})' for m in elsewhere)}; {again} once they end",
              file=sys.stderr)
    return 1 if failed or outside or elsewhere else 0


def _check_devices(members: list[Any]) -> None:
    """A device no member can have here (`--device cuda` on a CPU machine) is a ConfigError before anything
    is written, not one failure per member."""
    from grok_tui.training.trainer import resolve_device

    for device in sorted({m.config.device for m in members}):
        resolve_device(device)


@dataclass
class SweepWork:
    """The executor running beside the sweep view: the app stops it and waits for it on every way out."""

    stop: threading.Event
    finished: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Any] = field(default_factory=list)
    error: BaseException | None = None


def run_in_view(executor: Any, todo: list[Any], name: str, root: Path, stop: threading.Event) -> tuple[list[Any], int]:
    """Train the members in a thread while the sweep view runs in this one (it reads the members' files,
    as `watch --sweep` does). Closing the view (q) stops every member after its epoch, with a checkpoint,
    and so do SIGTERM and SIGHUP (the app handles those); returns the outcomes and the app's exit status."""
    from grok_tui.tui.app import GrokApp

    work = SweepWork(stop)
    app = GrokApp(root=root, sweep=name, background=work)

    def train() -> None:
        try:
            work.outcomes = executor.run(todo)
        except BaseException as err:  # shown after the view closes, never lost in a thread
            work.error = err
        finally:
            work.finished.set()
        if app.is_running and (stop.is_set() or work.error is not None):
            app.call_from_thread(app.exit)
        elif app.is_running:
            app.call_from_thread(app.notify, f"sweep {name}: every member is done (q leaves)", timeout=30)

    thread = threading.Thread(target=train, name="sweep-executor", daemon=True)
    thread.start()
    try:
        status = app.run() or 0
    finally:
        stop.set()  # a no-op when every member is done
        thread.join()
    if work.error is not None:
        raise work.error
    return work.outcomes, status


class SweepProgress:
    """One line: done/total, the members training and their epochs; in place on a terminal. Quiet while
    the sweep view shows the same."""

    def __init__(self, name: str, total: int, root: Path, quiet: bool = False) -> None:
        self.name, self.total, self.root, self.quiet = name, total, root, quiet
        self.interactive = sys.stdout.isatty()
        self.last_print = 0.0

    def update(self, running: list[Any], outcomes: list[Any], queued: list[Any]) -> None:
        from grok_tui.sweeps.local_executor import member_epoch

        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last_print < (1.0 if self.interactive else 10.0):
            return
        self.last_print = now
        parts = [f"{m.tag.removeprefix(self.name + '.')} {member_epoch(m, self.root):,}/{m.config.num_epochs:,}"
                 for m in running]
        line = (f"sweep {self.name}: {len(outcomes)}/{self.total} done, {len(queued)} queued"
                + (f" | {', '.join(parts)}" if parts else ""))
        if self.interactive:
            import shutil

            width = shutil.get_terminal_size().columns - 1
            print("\r" + line[:width].ljust(width), end="", flush=True)
        else:
            print(line, flush=True)

    def end(self) -> None:
        if self.interactive and self.last_print:
            print()


def print_members(sweep: Any, root: Path) -> None:
    from grok_tui.core.text import table_lines
    from grok_tui.sweeps.grid import value_text
    from grok_tui.sweeps.local_executor import member_state

    rows = [("MEMBER", *(field.upper() for field in sweep.axes), "STATE", "EPOCH", "GROKKED")]
    for member in sweep.members:
        state = member_state(member, root)
        rows.append((member.tag, *(value_text(member.values[field]) for field in sweep.axes), state.state,
                     f"{state.epoch:,}", f"{state.grokked:,}" if state.grokked is not None else "-"))
    print("\n".join(table_lines(rows)))


def print_plan(sweep: Any, states: dict[str, Any], todo: list[Any], workers: int) -> None:
    from grok_tui.core.text import format_duration, table_lines
    from grok_tui.sweeps.grid import value_text
    from grok_tui.sweeps.local_executor import epoch_seconds

    rows = [("MEMBER", *(field.upper() for field in sweep.axes), "WOULD", "EPOCHS LEFT")]
    seconds = 0.0
    cost: dict[tuple[Any, ...], float] = {}
    for member in sweep.members:
        state = states[member.tag]
        left = max(0, member.config.num_epochs - state.epoch) if member in todo else 0
        action = {"new": "start", "resume": f"resume from {state.epoch:,}"}.get(state.state, f"skip: {state.state}")
        rows.append((member.tag, *(value_text(member.values[field]) for field in sweep.axes), action, f"{left:,}"))
        if left:
            shape = _shape(member.config)
            if shape not in cost:
                cost[shape] = epoch_seconds(member.config)
            seconds += left * cost[shape]
    print("\n".join(table_lines(rows)))
    parallel = min(workers, max(1, len(todo)))
    early = any(m.config.stop_after_grok is not None for m in todo)
    print(f"{len(sweep.members)} members, {len(todo)} to train on {workers} workers: about "
          f"{format_duration(seconds / parallel)} at one thread per member"
          + (" (at most: --stop-after-grok ends members earlier)" if early else "")
          + "; nothing written (--dry-run)")


def _shape(config: Config) -> tuple[Any, ...]:
    return (config.p, config.operation, config.frac_train, config.d_model, config.num_heads, config.mlp_width,
            config.log_every, config.measure_every)

