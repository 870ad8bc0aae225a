"""The `grok-tui` command: its parser and the dispatch to one module per command.

    (none)    cli/interactive.py   the TUI's form, pre-filled from the config flags
    train     cli/train.py         headless training with a progress line (cli/progress.py)
    plot      cli/plot.py          figures: a run, a comparison, a sweep
    list      cli/listing.py       the runs under ROOT/logs
    watch, compare  cli/interactive.py   the live views of runs trained elsewhere
    sweep     cli/sweep.py         a grid of runs on local workers or a Ray cluster
    measures  cli/measures.py      the progress measures over a run's snapshots
    export    cli/export.py        a run's weights for TransformerLens, torch or numpy

Every error a user can cause is one line and exit 2 (cli/common.py); the command modules import
their heavy work (torch, matplotlib, textual) inside their run functions, so `list` and `plot` stay light.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

from grok_tui.cli import export, interactive, listing, measures, plot, sweep, train
from grok_tui.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_SIGNAL,
    Interrupted,
    Parser,
    UsageError,
    add_config_flags,
    add_root,
)
from grok_tui.core.config import ConfigError
from grok_tui.core.errors import (
    CheckpointError,
    NoDataError,
    RunLockedError,
    TrainingError,
    UnsafeTargetError,
)

HANDLERS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: interactive.cmd_tui, "train": train.run, "plot": plot.run, "list": listing.run,
    "watch": interactive.cmd_watch, "compare": interactive.cmd_compare, "sweep": sweep.run,
    "measures": measures.run, "export": export.run,
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="grok-tui",
        description="Train, watch and plot grokking runs (Nanda et al. 2023) from the terminal.",
        epilog="Run `grok-tui COMMAND --help` for a command's options.",
    )
    from grok_tui import __version__

    parser.add_argument("--version", action="version", version=f"grok-tui {__version__}")
    add_config_flags(parser)  # bare `grok-tui [flags]`: the TUI's form, pre-filled
    add_root(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    train.add_parser(commands)
    plot.add_parser(commands)
    interactive.add_parsers(commands)
    listing.add_parser(commands)
    sweep.add_parser(commands)
    measures.add_parser(commands)
    export.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # PYTHONIOENCODING=ascii and a root named "/tmp/ü": \xfc, not a traceback
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return HANDLERS[args.command](args)
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
