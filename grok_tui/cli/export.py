"""`grok-tui export TAG [--epoch E] --format transformerlens|state-dict|npz --out FILE`.

The formats are grok_tui/measures/export.py's; this file checks the request (a missing run or epoch, an --out that is
not a regular file, whose folder does not exist, or that lies in a folder grok-tui owns under the root: one line,
exit 2) before anything is written. Results are deleted by `--fresh` alone: an export never replaces a file of any
run, nor a sweep's definition, checked on the path with every symlink resolved.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from grok_tui.cli.common import add_root
from grok_tui.core.config import ConfigError
from grok_tui.measures.export import FORMATS


def add_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export", help="write a run's weights (checkpoint or snapshot) for TransformerLens, torch or numpy",
        description="Write the weights of run TAG (its checkpoint, or the snapshot at --epoch) to --out: "
                    "transformerlens (a HookedTransformerConfig's keyword arguments and a HookedTransformer state "
                    "dict, for transformer-lens>=2.16,<4), state-dict (grok-tui's own) or npz (numpy arrays named "
                    "as in the paper's code). The write is atomic; the run is only read.")
    export.add_argument("tag", metavar="TAG", help="the run")
    export.add_argument("--epoch", type=int, default=None, metavar="E",
                        help="a snapshot's epoch (default: the checkpoint)")
    export.add_argument("--format", choices=FORMATS, default="transformerlens", help="default transformerlens")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the file to write")
    add_root(export)


OWNED_FOLDERS = ("logs", "models", "sweeps")  # under a root: every run's files and every sweep's


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    from grok_tui.core.atomic import check_target
    from grok_tui.measures.export import export_weights
    from grok_tui.measures.loaded_run import run_config, run_weights
    from grok_tui.run.paths import RunPaths

    paths = RunPaths.of(args.tag, args.root)
    config = run_config(paths)
    check_target(args.out)  # a folder, FIFO, device or dangling link there: refused before any work
    owned = [Path(args.root) / name for name in OWNED_FOLDERS]
    if any(_inside(args.out, folder) for folder in owned):
        raise ConfigError([f"out: {args.out} is inside {', '.join(map(str, owned))}, where grok-tui keeps runs "
                           "and sweeps; export to a file outside them"])
    if not os.path.isdir(args.out.parent):  # a missing folder, or a link to none: never created on the way
        raise ConfigError([f"out: the folder {args.out.parent} does not exist (got {args.out}); create it first"])
    if args.epoch is not None and args.epoch < 0:
        raise ConfigError([f"epoch: must be a whole number >= 0 (got {args.epoch})"])
    epoch, weights, source = run_weights(paths, config, args.epoch)
    export_weights(weights, config, epoch, args.format, args.out)
    print(f"run {args.tag!r} at epoch {epoch:,} (from {source}) written as {args.format} to {args.out}")
    return 0
