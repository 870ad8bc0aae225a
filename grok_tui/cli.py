"""The `grok-tui` command: the TUI (bare command, or `watch`), and headless train, plot and list.

Config flags mirror the Config fields in dash-case. Exit status: 0 success, 1 the run failed or is busy,
2 bad input (one line `grok-tui: error: ...` on stderr, never a traceback), 130 after Ctrl-C, 143
after SIGTERM and 129 after SIGHUP (each stops after the current epoch and saves a checkpoint first),
whenever the signal arrives, also during the figures written after the last epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from grok_tui.config import OPERATIONS, PRESETS, Config, ConfigError, is_valid_tag, preset
from grok_tui.errors import CheckpointError, NoDataError, RunLockedError, TrainingError, UnsafeTargetError

if TYPE_CHECKING:
    from grok_tui.runs import RunPaths, RunSummary
    from grok_tui.snapshots import Snapshot

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}  # 128 + the signal's number


class Interrupted(KeyboardInterrupt):
    """A second stop signal to `train`: leave now (the checkpoint on disk is complete), exit 128 + signum."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if "required: TAG" in message:  # argparse reads a tag such as -x as an option
            message += "; a tag that starts with '-' goes after '--' (grok-tui plot -- -x)"
        elif message.startswith("unrecognized arguments: -") and not message.startswith("unrecognized arguments: --"):
            message += " (a tag that starts with '-' goes after '--': grok-tui plot -- -x)"
        raise UsageError(message)


def _typed(kind: Callable[[str], Any], rule: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule} (got {text!r})") from None

    return convert


INT = _typed(int, "a whole number")
FLOAT = _typed(float, "a number")

# (flag, Config field, type, help)
CONFIG_FLAGS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--tag", "tag", str, "run name: logs/TAG and models/TAG"),
    ("--p", "p", INT, "prime modulus (paper: 113)"),
    ("--operation", "operation", str, "one of " + ", ".join(OPERATIONS)),
    ("--frac-train", "frac_train", FLOAT, "fraction of the pairs used for training (paper: 0.3)"),
    ("--seed", "seed", INT, "seed of the split, the init and the rand table"),
    ("--d-model", "d_model", INT, "residual width (paper: 128)"),
    ("--num-heads", "num_heads", INT, "attention heads (paper: 4)"),
    ("--d-mlp", "d_mlp", INT, "MLP width (default 4 * d_model)"),
    ("--lr", "lr", FLOAT, "AdamW learning rate (paper: 1e-3)"),
    ("--weight-decay", "weight_decay", FLOAT, "AdamW weight decay (paper: 1.0)"),
    ("--warmup-steps", "warmup_steps", INT, "linear warmup steps (paper: 10)"),
    ("--adam-eps", "adam_eps", FLOAT, "AdamW's epsilon (default 1e-8, torch's; Prieto et al. 2025 use 1e-30)"),
    ("--grokfast", "grokfast", str, "none (default), ema or ma: Grokfast's gradient filter (Lee et al. 2024)"),
    ("--grokfast-alpha", "grokfast_alpha", FLOAT, "Grokfast-EMA's momentum alpha (default 0.98)"),
    ("--grokfast-lamb", "grokfast_lamb", FLOAT, "Grokfast's amplification lamb (default 2 for ema, 5 for ma)"),
    ("--grokfast-window", "grokfast_window", INT, "Grokfast-MA's window of gradients (default 100)"),
    ("--loss", "loss", str, "softmax (default) or stablemax (Prieto et al. 2025): the cross-entropy's probabilities"),
    ("--softmax-precision", "softmax_precision", str,
     "float64 (default, the paper's intent) or float32 (what its released code computes)"),
    ("--num-epochs", "num_epochs", INT, "full-batch steps in total (paper code: 50000)"),
    ("--log-every", "log_every", INT, "epochs between log lines (default 100)"),
    ("--checkpoint-every", "checkpoint_every", INT, "epochs between checkpoints (default 1000)"),
    ("--measure-every", "measure_every", INT,
     "epochs between progress measures (taken on log lines); 0 = off (default 500)"),
    ("--snapshot-every", "snapshot_every", INT,
     "keep the weights every N epochs (epoch 0 too) in models/TAG/snapshots for offline analysis; 0 = off "
     "(default)"),
    ("--device", "device", str, "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"),
    ("--stop-after-grok", "stop_after_grok", INT, "end the run N epochs after it grokks (test accuracy >= 99%%), "
     "with a checkpoint; default: train to num_epochs"),
    ("--threads", "threads", INT, "torch threads for training; 0 = the machine's cores (default); "
     "results do not depend on it on the CPU"),
]


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("experiment (defaults: the paper's run, or the run's own config on resume)")
    group.add_argument("--preset", choices=sorted(PRESETS), default=argparse.SUPPRESS,
                       help="start from a named config: paper or quick")
    for flag, name, kind, text in CONFIG_FLAGS:
        group.add_argument(flag, dest=name, type=kind, default=argparse.SUPPRESS, help=text)
    group.add_argument("--betas", dest="betas", type=FLOAT, nargs=2, metavar=("B1", "B2"),
                       default=argparse.SUPPRESS, help="AdamW betas (paper: 0.9 0.98)")
    group.add_argument("--orthograd", dest="orthograd", action=argparse.BooleanOptionalAction,
                       default=argparse.SUPPRESS,
                       help="⊥Grad (Prieto et al. 2025): step along the gradient's part orthogonal to the weights")


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="folder holding logs/ and models/ (default: the current folder)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="grok-tui",
        description="Train, watch and plot grokking runs (Nanda et al. 2023) from the terminal.",
        epilog="Run `grok-tui COMMAND --help` for a command's options.",
    )
    from grok_tui import __version__

    parser.add_argument("--version", action="version", version=f"grok-tui {__version__}")
    _add_config_flags(parser)  # bare `grok-tui [flags]`: the TUI's form, pre-filled
    _add_root(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a run headless, resuming it if it exists",
                                description="Train a run headless with a progress line. An existing run "
                                "resumes from its checkpoint; flags not given keep the run's values.")
    _add_config_flags(train)
    _add_root(train)
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--resume", dest="fresh", action="store_false", default=False,
                      help="continue the run from its checkpoint (the default)")
    mode.add_argument("--fresh", dest="fresh", action="store_true",
                      help="delete the run's log and checkpoint and start over")

    plot = commands.add_parser("plot", help="write a run's curves, its progress measures, or a comparison of runs",
                               description="Write logs/TAG/training_curves.png, or with --measures "
                                           "logs/TAG/progress_measures.png, from the run's log; with two or more "
                                           "tags, the comparison (test accuracy, train and test loss; seed groups "
                                           "as median and min-max band) to logs/compare-TAG+TAG.png. --out names "
                                           "another file: .png, .pdf or .svg.")
    plot.add_argument("tags", nargs="*", metavar="TAG", help="the run to plot, or several runs to compare")
    plot.add_argument("--sweep", metavar="NAME", default=None,
                      help="the sweep's figure: epochs to grok against one swept field, or a phase diagram "
                           "of two (default ROOT/sweeps/NAME.png)")
    plot.add_argument("--measures", action="store_true",
                      help="the progress-measures figure (restricted/excluded loss, Gini, weight norm, frequencies)")
    plot.add_argument("--offline", action="store_true",
                      help="with --measures: the measures of `grok-tui measures TAG` (one key set over the snapshots) "
                           "to logs/TAG/progress_measures_offline.png")
    plot.add_argument("--out", type=Path, default=None,
                      help="the file to write, .png, .pdf or .svg (default under logs/)")
    plot.add_argument("--log-x", action="store_true", help="log-scale epoch axis")
    plot.add_argument("--dpi", type=INT, default=150, help="resolution of a PNG (default 150)")
    plot.add_argument("--width", type=FLOAT, default=None, metavar="INCHES",
                      help="figure width in inches, e.g. 3.5 for a paper column, 7 for two (fonts follow)")
    plot.add_argument("--height", type=FLOAT, default=None, metavar="INCHES", help="figure height in inches")
    plot.add_argument("--runs", dest="show_runs", action="store_true",
                      help="comparison: draw each seed's own line too, thin, over its group's band")
    _add_root(plot)

    compare = commands.add_parser("compare", help="live comparison of runs in the TUI",
                                  description="Open the compare view: test accuracy, train and test loss of every "
                                  "run, seed groups as median and band, updating while any of them trains.")
    compare.add_argument("tags", nargs="+", metavar="TAG", help="the runs to compare")
    _add_root(compare)

    watch = commands.add_parser("watch", help="live charts of a run another process is training",
                                description="Attach the live view to logs/TAG (read-only): it follows the log "
                                "as it grows and as it is cut back on resume.")
    watch.add_argument("tag", nargs="?", default=None, help="the run to watch")
    watch.add_argument("--sweep", metavar="NAME", default=None,
                       help="the sweep view instead: its members, their states and the phase grid, live")
    _add_root(watch)

    runs = commands.add_parser("list", help="list the runs under ROOT/logs",
                               description="Every run under ROOT/logs with its progress and status.")
    runs.add_argument("--long", action="store_true",
                      help="also each run's last training session: device, threads, versions, host, start")
    _add_root(runs)

    from grok_tui.sweep_cli import add_sweep_parser

    add_sweep_parser(commands, CONFIG_FLAGS, _add_root)
    from grok_tui.export_cli import add_export_parser
    from grok_tui.measures_cli import add_measures_parser

    add_measures_parser(commands, _add_root)
    add_export_parser(commands, _add_root)
    return parser


# ---------------------------------------------------------------- train


def config_from_args(args: argparse.Namespace, check: bool = True) -> Config:
    """The run's stored config (unless --fresh), else a preset, with the flags given on top."""
    from grok_tui.runs import RunPaths

    given = {name: getattr(args, name) for name in _config_names() if hasattr(args, name)}
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    overrides = {**PRESETS.get(getattr(args, "preset", ""), {}), **given}
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


def _config_names() -> list[str]:
    return [name for _, name, _, _ in CONFIG_FLAGS] + ["betas", "orthograd"]


def cmd_train(args: argparse.Namespace) -> int:
    from grok_tui import stopclock
    from grok_tui.environment import Session
    from grok_tui.progress import ProgressPrinter
    from grok_tui.trainer import train_grokking

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
    print(f"grok-tui: training {config.tag!r} in {Path(args.root).resolve()} "
          f"(p={config.p}, {config.operation}, {config.num_epochs:,} epochs)", flush=True)

    def warn(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        # A warning (e.g. the PNG at the end of the run could not be written: a full disk) is one line,
        # like the errors, instead of Python's two lines with a source path.
        end_progress_line = "\n" if printer.interactive else ""
        print(f"{end_progress_line}grok-tui: warning: {' '.join(str(message).split())}", file=sys.stderr,
              flush=True)

    def on_session(session: Session) -> None:
        print(f"grok-tui: {session.summary()}", flush=True)
        warning = session.warning()
        if warning:
            print(f"grok-tui: warning: {warning}", file=sys.stderr, flush=True)

    try:
        with warnings.catch_warnings(), stopclock.watch():  # elapsed_s leaves out time stopped by Ctrl-Z
            warnings.showwarning = warn
            result = train_grokking(config, resume=not args.fresh, stop_event=stop, on_log=printer,
                                    root=args.root, on_event=lambda event: printer.event(f"grok-tui: {event.text}"),
                                    on_session=on_session)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:  # also when it came after the last epoch (during the figures): the signal's status
        done = "stopped" if result.status == "stopped" else "ended"
        printer.finish(f"{done} at epoch {result.epoch:,} by {signal.Signals(received[0]).name}; checkpoint saved "
                       f"to {result.paths.checkpoint}")
        return EXIT_SIGNAL[signal.Signals(received[0])]
    if result.status == "stopped":
        printer.finish(f"stopped at epoch {result.epoch:,}; checkpoint saved to {result.paths.checkpoint}")
        return EXIT_OK
    if result.status == "early_stopped":
        printer.finish(f"done at epoch {result.epoch:,}: at least {config.stop_after_grok:,} epochs after grokking "
                       f"(--stop-after-grok); checkpoint saved, curves in {result.paths.curves_png}")
        return EXIT_OK
    printer.finish(f"finished at epoch {result.epoch:,}; curves in {result.paths.curves_png}")
    return EXIT_OK


# ---------------------------------------------------------------- plot and list


def _existing_runs(tags: Sequence[str], root: Path) -> None:
    from grok_tui.runs import RunPaths

    for tag in tags:
        paths = RunPaths.of(tag, root)
        if not paths.exists():
            raise UsageError(f"tag: no run {tag!r} under {paths.root.resolve() / 'logs'}")


def cmd_plot(args: argparse.Namespace) -> int:
    from grok_tui import plotting
    from grok_tui.runs import RunPaths

    if bool(args.tags) == bool(args.sweep):
        raise UsageError("plot: give one or more run tags, or --sweep NAME")
    if args.dpi < 50 or args.dpi > 1200:
        raise UsageError(f"argument --dpi: must be between 50 and 1200 (got {args.dpi})")
    if args.out is not None:
        try:
            plotting.figure_format(args.out)
        except plotting.FigureFormatError as err:
            raise UsageError(f"argument --out: {err}") from None
    if args.sweep:
        from grok_tui.sweep_plot import plot_sweep

        size = (args.width or 6.4, args.height or 4.4)
        try:
            plotting.check_size(*size, dpi=args.dpi)
        except ValueError as err:
            raise UsageError(f"argument --width/--height: {err}") from None
        for written in plot_sweep(args.sweep, out=args.out, root=args.root, dpi=args.dpi, size=size):
            print(written)
        return EXIT_OK
    _existing_runs(args.tags, args.root)
    comparing = len(args.tags) > 1
    if comparing and args.measures:
        raise UsageError("argument --measures: takes one tag (the progress measures of one run)")
    if args.offline and not args.measures:
        raise UsageError("argument --offline: goes with --measures (grok-tui plot TAG --measures --offline)")
    default = (plotting.COMPARE_SIZE if comparing else plotting.MEASURES_SIZE if args.measures
               else plotting.CURVES_SIZE)
    size = (args.width if args.width is not None else default[0],
            args.height if args.height is not None else default[1])
    try:
        plotting.check_size(*size, dpi=args.dpi)
    except ValueError as err:
        raise UsageError(f"argument --width/--height: {err}") from None
    if comparing:
        out = args.out if args.out is not None else plotting.default_comparison_path(args.tags, args.root)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plotting.plot_comparison(args.tags, out=out, root=args.root, log_x=args.log_x, dpi=args.dpi, size=size,
                                     show_runs=args.show_runs)
        for warning in caught:
            print(f"grok-tui: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
        print(out)
        return EXIT_OK
    paths = RunPaths.of(args.tags[0], args.root)
    with warnings.catch_warnings(record=True) as caught:  # a broken config.json: one line, the figure still drawn
        warnings.simplefilter("always")
        if args.offline:
            from grok_tui.offline_measures import plot_offline_measures

            out = plot_offline_measures(args.tags[0], out=args.out, root=args.root, log_x=args.log_x, dpi=args.dpi,
                                        size=size)
        elif args.measures:
            out = args.out if args.out is not None else paths.measures_png
            plotting.plot_progress_measures(args.tags[0], out=out, root=args.root, log_x=args.log_x, dpi=args.dpi,
                                            size=size)
        else:
            out = args.out if args.out is not None else paths.curves_png
            plotting.plot_training_curves(args.tags[0], out=out, root=args.root, log_x=args.log_x, dpi=args.dpi,
                                          size=size)
    for warning in caught:
        print(f"grok-tui: warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
    print(out)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from grok_tui.progress import table_lines
    from grok_tui.runs import RunPaths, list_runs

    summaries = list_runs(args.root)
    if not summaries:
        print(f"no runs under {Path(args.root).resolve() / 'logs'}")
        return EXIT_OK
    from grok_tui.snapshots import list_snapshots

    snapshots = {s.tag: list_snapshots(RunPaths.of(s.tag, args.root)) for s in summaries}
    lines = table_lines(list_table(summaries, snapshots))
    sessions = [""] + [session_line(RunPaths.of(s.tag, args.root)) for s in summaries] if args.long else [""] * len(lines)
    for line, session in zip(lines, sessions):
        print(line)
        if session:
            print(f"    {session}")
    for s in summaries:
        if s.problem:
            print(f"warning: {s.tag}: {s.problem}", file=sys.stderr)
    return EXIT_OK


def list_table(summaries: list[RunSummary],
               snapshots: dict[str, list[Snapshot]] | None = None) -> list[tuple[str, ...]]:
    """`list`'s header and rows: a column for each config field that differs between the runs, and only those;
    a SNAPSHOTS column (how many, and their size on disk) when any run has weight snapshots."""
    from grok_tui.groups import differing_fields, format_value
    from grok_tui.progress import format_percent
    from grok_tui.snapshots import disk_usage, format_bytes

    fields = differing_fields([s.config for s in summaries])
    header = ("TAG", *(name.upper() for name in fields), "EPOCH", "MEMORIZED", "GROKKED", "TEST ACC", "PHASE",
              "STATUS", "STARTED")
    rows: list[tuple[str, ...]] = [header]
    for s in summaries:
        rows.append((s.tag, *(format_value(s.config, name) for name in fields), s.epoch_text,
                     _epoch_cell(s.memorized_epoch), _epoch_cell(s.grokked_epoch), format_percent(s.final_test_acc),
                     s.phase, s.status_text, s.started or "-"))
    if snapshots and any(snapshots.values()):
        def cell(found: list[Snapshot]) -> str:
            return f"{len(found)} ({format_bytes(disk_usage(found))})" if found else "-"

        rows = [row + (cell(snapshots.get(s.tag, [])),) for row, s in zip(rows[1:], summaries)]
        rows.insert(0, header + ("SNAPSHOTS",))
    return rows


def _epoch_cell(epoch: int | None) -> str:
    return f"{epoch:,}" if epoch is not None else "-"


def session_line(paths: RunPaths) -> str:
    """`list --long`: the run's last training session, and whether it ran somewhere new."""
    from grok_tui.environment import describe, environment_changes, read_sessions

    sessions = read_sessions(paths.sessions)
    if not sessions:
        return "last session: not recorded"
    line = f"last session: {describe(sessions[-1])}"
    changes = environment_changes(sessions[-2], sessions[-1]) if len(sessions) > 1 else []
    return line + (f" [environment changed: {'; '.join(changes)}]" if changes else "")


# ---------------------------------------------------------------- the TUI


def cmd_tui(args: argparse.Namespace) -> int:
    from grok_tui.tui.app import GrokApp

    args.fresh = False
    config = config_from_args(args, check=False)
    return GrokApp(config, root=args.root, config_given=hasattr(args, "tag")).run() or EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from grok_tui.runs import RunPaths
    from grok_tui.tui.app import GrokApp

    if (args.tag is None) == (args.sweep is None):
        raise UsageError("watch: give a run's tag, or --sweep NAME")
    if args.sweep is not None:
        from grok_tui.sweep_plot import member_results

        member_results(args.sweep, args.root)  # an unknown or broken sweep: one line, before the TUI opens
        return GrokApp(root=args.root, sweep=args.sweep).run() or EXIT_OK
    paths = RunPaths.of(args.tag, args.root)
    if not paths.exists():
        raise UsageError(f"tag: no run {args.tag!r} under {paths.root.resolve() / 'logs'}")
    return GrokApp(root=args.root, watch=args.tag).run() or EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from grok_tui.tui.app import GrokApp

    _existing_runs(args.tags, args.root)
    return GrokApp(root=args.root, compare=list(dict.fromkeys(args.tags))).run() or EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from grok_tui.sweep_cli import cmd_sweep as sweep

    return sweep(args, CONFIG_FLAGS)


def cmd_measures(args: argparse.Namespace) -> int:
    from grok_tui.measures_cli import cmd_measures as measures

    return measures(args)


def cmd_export(args: argparse.Namespace) -> int:
    from grok_tui.export_cli import cmd_export as export

    return export(args)


# ---------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # PYTHONIOENCODING=ascii and a root named "/tmp/ü": \xfc, not a traceback
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {None: cmd_tui, "train": cmd_train, "plot": cmd_plot, "list": cmd_list,
                   "watch": cmd_watch, "compare": cmd_compare, "sweep": cmd_sweep, "measures": cmd_measures,
                   "export": cmd_export}[args.command]
        return handler(args)
    except (UsageError, ConfigError, CheckpointError, NoDataError, UnsafeTargetError) as err:
        return _fail(str(err), EXIT_BAD_INPUT)  # UnsafeTargetError is an OSError: caught before them
    except (RunLockedError, TrainingError) as err:
        return _fail(str(err), EXIT_FAILED)
    except BrokenPipeError:  # `grok-tui list | head`: the reader left; no error to report to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        return _fail(f"{err.filename or 'file'}: {err.strerror or err}", EXIT_FAILED)
    except KeyboardInterrupt as err:
        print("grok-tui: interrupted", file=sys.stderr)
        return EXIT_SIGNAL.get(signal.Signals(err.signum), 130) if isinstance(err, Interrupted) else 130


def _fail(message: str, status: int) -> int:
    one_line = " ".join(message.split())
    print(f"grok-tui: error: {one_line}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
