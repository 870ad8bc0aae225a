"""`grok-tui measures TAG [--keys final|live|K,K,...]`: the paper's progress measures over a run's snapshots.

The work is grok_tui/offline_measures.py; this file is the subcommand's flags, progress bar and messages.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_measures_parser(commands: Any, add_root: Callable[[argparse.ArgumentParser], None]) -> None:
    measures = commands.add_parser(
        "measures", help="recompute the progress measures over a run's snapshots with one key set (the paper's way)",
        description="Restricted and excluded loss, the Gini coefficients and the Fourier norms of W_E at every "
                    "snapshot in models/TAG/snapshots (train with --snapshot-every N), with one fixed set of key "
                    "frequencies, into logs/TAG/offline_measures.jsonl; `grok-tui plot TAG --measures --offline` "
                    "draws them. The run's own files are only read.")
    measures.add_argument("tag", metavar="TAG", help="the run")
    measures.add_argument("--keys", default="final", metavar="final|live|K,K,...",
                          help="final (default): the key frequencies of the latest model (checkpoint, else last "
                               "snapshot), as the paper; live: each snapshot's own; or a comma list such as 14,35,41")
    add_root(measures)


def cmd_measures(args: argparse.Namespace) -> int:
    from grok_tui.offline_measures import ProgressBar, measure_run, parse_keys

    keys = parse_keys(args.keys)
    result = measure_run(args.tag, keys, root=Path(args.root), progress=ProgressBar(sys.stderr))
    used = "each snapshot's own" if result.keys == "live" else ", ".join(map(str, result.keys))
    print(f"{len(result.records)} snapshots measured with key frequencies {used} (from {result.keys_from})")
    print(result.path)
    return 0
