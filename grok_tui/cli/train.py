"""`grok-tui train`: train a run headless with a progress line, resuming it if it exists.

Flags not given keep the run's own values (its config.json), so `grok-tui train --tag T` always continues
the same experiment. Ctrl-C, SIGTERM and SIGHUP stop after the current epoch with a checkpoint (exit 130,
143, 129), whenever the signal arrives, also during the figures written after the last epoch; a second
one leaves at once (the checkpoint on disk is complete).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from grok_tui.cli.common import (
    EXIT_OK,
    EXIT_SIGNAL,
    Interrupted,
    add_config_flags,
    add_root,
    config_names,
)
from grok_tui.core.config import EXPERIMENT_FIELDS, PRESETS, Config, ConfigError, is_valid_tag, preset


def add_parser(commands: Any) -> None:
    train = commands.add_parser("train", help="train a run headless, resuming it if it exists",
                                description="Train a run headless with a progress line. An existing run "
                                "resumes from its checkpoint; flags not given keep the run's values.")
    add_config_flags(train)
    add_root(train)
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--resume", dest="fresh", action="store_false", default=False,
                      help="continue the run from its checkpoint (the default)")
    mode.add_argument("--fresh", dest="fresh", action="store_true",
                      help="delete the run's log and checkpoint and start over")


def preset_values(name: str) -> dict[str, Any]:
    """What `--preset NAME` sets: every field that defines the experiment at the preset's value (so a
    preset given for an existing run of other settings is an experiment change, refused as one), and the
    preset's own schedule fields."""
    values = preset(name)
    return {**{field: getattr(values, field) for field in EXPERIMENT_FIELDS}, **PRESETS[name]}


def config_from_args(args: argparse.Namespace, check: bool = True) -> Config:
    """The run's stored config (unless --fresh), else a preset, with the flags given on top."""
    from grok_tui.run.paths import RunPaths

    given = {name: getattr(args, name) for name in config_names() if hasattr(args, name)}
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    chosen = getattr(args, "preset", None)
    overrides = {**(preset_values(chosen) if chosen in PRESETS else {}), **given}
    tag = overrides.get("tag", Config.tag)
    base: Config | None = None
    if not args.fresh and is_valid_tag(tag):  # a bad tag is reported below with every other problem
        paths = RunPaths.of(tag, args.root)
        if paths.config.exists():
            try:
                base = Config.load(paths.config)
            except ConfigError as err:
                if not paths.config.is_file():  # a FIFO or a folder: --fresh would refuse it too (stat only)
                    raise ConfigError([f"{err}; remove it to train run {tag!r}"]) from None
                raise ConfigError([f"{err}; use --fresh to start run {tag!r} over"]) from None
    if base is None:
        base = preset("paper")
    config = dataclasses.replace(base, **overrides)
    return config.check() if check else config


def run(args: argparse.Namespace) -> int:
    from grok_tui.cli.progress import ProgressPrinter
    from grok_tui.run import stopclock
    from grok_tui.run.log import last_record
    from grok_tui.run.paths import RunPaths
    from grok_tui.run.sessions import Session, last_session
    from grok_tui.training.trainer import train_grokking

    config = config_from_args(args)
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if received:  # a second Ctrl-C: the checkpoint on disk is complete (atomic writes), leave now
            raise Interrupted(signum)
        received.append(signum)
        stop.set()
        print(f"\n{signal.Signals(signum).name}: stopping after this epoch and saving a checkpoint...",
              file=sys.stderr, flush=True)

    # A signal the caller ignores stays ignored: `nohup grok-tui train` must survive the SSH drop's SIGHUP.
    previous = {sig: signal.signal(sig, on_signal) for sig in EXIT_SIGNAL if signal.getsignal(sig) != signal.SIG_IGN}
    printer = ProgressPrinter(config)
    paths = RunPaths.of(config.tag, args.root)
    before = None if args.fresh else last_session(paths.sessions)
    where = f"in {Path(args.root).resolve()} (p={config.p}, {config.operation}, {config.num_epochs:,} epochs)"

    def on_replace() -> None:
        # Every check has passed and the files go next: say what is lost first.
        if any(path.exists() for path in (paths.config, paths.log, paths.checkpoint)):
            last = last_record(paths.log)
            trained = f"trained to epoch {int(last['epoch']):,}" if last is not None else "no log records"
            print(f"grok-tui: --fresh: replacing run {config.tag!r} ({trained}) with a new run from epoch 0",
                  flush=True)

    def warn(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        # A warning (e.g. the PNG at the end of the run could not be written: a full disk) is one line,
        # like the errors, instead of Python's two lines with a source path.
        end_progress_line = "\n" if printer.interactive else ""
        print(f"{end_progress_line}grok-tui: warning: {' '.join(str(message).split())}", file=sys.stderr,
              flush=True)

    started: list[Session] = []

    def on_session(session: Session) -> None:
        # Called once every refusal is behind: the start line never precedes an error.
        started.append(session)
        start = int(session.record["start_epoch"])
        print(f"grok-tui: resuming {config.tag!r} at epoch {start:,} {where}" if start
              else f"grok-tui: training {config.tag!r} {where}", flush=True)
        print(f"grok-tui: {session.summary()}", flush=True)
        threads = session.record["threads"]
        if before is not None and start and before.get("threads") != threads:
            print(f"grok-tui: threads: {before.get('threads')} -> {threads} since the last session "
                  "(the results do not depend on it)", flush=True)
        warning = session.warning()
        if warning:
            print(f"grok-tui: warning: {warning}", file=sys.stderr, flush=True)

    try:
        with warnings.catch_warnings(), stopclock.watch():  # elapsed_s leaves out time stopped by Ctrl-Z
            warnings.showwarning = warn
            result = train_grokking(config, resume=not args.fresh, stop_event=stop, on_log=printer,
                                    root=args.root, on_event=lambda event: printer.event(f"grok-tui: {event.text}"),
                                    on_session=on_session, on_replace=on_replace)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:  # also when it came after the last epoch (during the figures): the signal's status
        done = "stopped" if result.status == "stopped" else "ended"
        printer.finish(f"{done} at epoch {result.epoch:,} by {signal.Signals(received[0]).name}; checkpoint saved "
                       f"to {result.paths.checkpoint}")
        return EXIT_SIGNAL[signal.Signals(received[0])]
    if not started:  # a resume with nothing to train: no session, no start line
        if result.status == "early_stopped":
            printer.finish(f"run {config.tag!r} is already done at epoch {result.epoch:,}, at least "
                           f"{config.stop_after_grok:,} epochs after grokking: nothing to train (give a larger "
                           "--stop-after-grok to train it on)")
        else:
            printer.finish(f"run {config.tag!r} is already at epoch {result.epoch:,} of {config.num_epochs:,}: "
                           "nothing to train (raise --num-epochs to train it longer)")
        return EXIT_OK
    if result.status == "stopped":
        printer.finish(f"stopped at epoch {result.epoch:,}; checkpoint saved to {result.paths.checkpoint}")
        return EXIT_OK
    if result.status == "early_stopped":
        printer.finish(f"done at epoch {result.epoch:,}: at least {config.stop_after_grok:,} epochs after grokking "
                       f"(--stop-after-grok); checkpoint saved, curves in {result.paths.curves_png}")
        return EXIT_OK
    printer.finish(f"finished at epoch {result.epoch:,}; curves in {result.paths.curves_png}")
    return EXIT_OK
