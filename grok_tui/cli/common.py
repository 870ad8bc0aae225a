"""What every `grok-tui` command shares: exit statuses, the one-line usage error, and the parser pieces.

Exit status: 0 success, 1 the run failed or is busy, 2 bad input (one line `grok-tui: error: ...` on
stderr, never a traceback), 130 after Ctrl-C, 143 after SIGTERM and 129 after SIGHUP.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from grok_tui.core.config import PRESETS
from grok_tui.core.flags import CONFIG_FLAGS

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}  # 128 + the signal's number


class Interrupted(KeyboardInterrupt):
    """A second stop signal to `train`: leave now (the checkpoint on disk is complete), exit 128 + signum."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors raised as UsageError (one line, exit 2) instead of printed with the usage."""

    def error(self, message: str) -> NoReturn:
        if "required: TAG" in message:  # argparse reads a tag such as -x as an option
            message += "; a tag that starts with '-' goes after '--' (grok-tui plot -- -x)"
        elif message.startswith("unrecognized arguments: -") and not message.startswith("unrecognized arguments: --"):
            message += " (a tag that starts with '-' goes after '--': grok-tui plot -- -x)"
        raise UsageError(message)


def typed(kind: Callable[[str], Any], rule: str) -> Callable[[str], Any]:
    """An argparse type that says the rule: 'must be a whole number (got 'x')'."""
    def convert(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule} (got {text!r})") from None

    return convert


INT = typed(int, "a whole number")
FLOAT = typed(float, "a number")
_RULES: dict[type, Callable[[str], Any]] = {int: INT, float: FLOAT, str: str}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per Config field (grok_tui/core/flags.py), plus --preset, --betas and --orthograd."""
    group = parser.add_argument_group("experiment (defaults: the paper's run, or the run's own config on resume)")
    group.add_argument("--preset", choices=sorted(PRESETS), default=argparse.SUPPRESS,
                       help="start from a named config: paper or quick")
    for flag, name, kind, text in CONFIG_FLAGS:
        group.add_argument(flag, dest=name, type=_RULES[kind], default=argparse.SUPPRESS, help=text)
    group.add_argument("--betas", dest="betas", type=FLOAT, nargs=2, metavar=("B1", "B2"),
                       default=argparse.SUPPRESS, help="AdamW betas (paper: 0.9 0.98)")
    group.add_argument("--orthograd", dest="orthograd", action=argparse.BooleanOptionalAction,
                       default=argparse.SUPPRESS,
                       help="⊥Grad (Prieto et al. 2025): step along the gradient's part orthogonal to the weights")


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="folder holding logs/ and models/ (default: the current folder)")


def config_names() -> list[str]:
    """Every Config field a flag can set."""
    return [name for _, name, _, _ in CONFIG_FLAGS] + ["betas", "orthograd"]


def require_runs(tags: Sequence[str], root: Path) -> None:
    """UsageError naming the first tag that has no run under root."""
    from grok_tui.run.paths import RunPaths

    for tag in tags:
        paths = RunPaths.of(tag, root)
        if not paths.exists():
            raise UsageError(f"tag: no run {tag!r} under {paths.root.resolve() / 'logs'}")
