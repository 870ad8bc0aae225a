"""`grok-tui measures TAG [--keys final|live|K,K,...]`: the paper's progress measures over a run's snapshots.

The work is grok_tui/measures/offline.py; this file is the subcommand's flags, progress bar and messages.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from grok_tui.cli.common import add_root
from grok_tui.core.text import format_duration


def add_parser(commands: Any) -> None:
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


def run(args: argparse.Namespace) -> int:
    from grok_tui.measures.offline import measure_run, parse_keys

    keys = parse_keys(args.keys)
    result = measure_run(args.tag, keys, root=Path(args.root), progress=ProgressBar(sys.stderr))
    for problem in result.skipped:
        print(f"grok-tui: warning: skipped: {' '.join(problem.split())}", file=sys.stderr)
    used = "each snapshot's own" if result.keys == "live" else ", ".join(map(str, result.keys))
    print(f"{len(result.records)} snapshots measured with key frequencies {used} (from {result.keys_from})")
    print(result.path)
    return 0


class ProgressBar:
    """`[#####-----] 12/101 snapshots, epoch 2,400, ETA 30s` redrawn in place on a terminal; a line per
    tenth of the work into a file or pipe."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30):
        self.stream, self.width = stream, width
        self.interactive = stream.isatty()
        self.started = time.perf_counter()
        self.shown_tenth = -1

    def __call__(self, done: int, total: int, epoch: int) -> None:
        elapsed = time.perf_counter() - self.started
        eta = format_duration(elapsed / done * (total - done)) if done else "--"
        filled = self.width * done // max(1, total)
        line = (f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{total} snapshots, "
                f"epoch {epoch:,}, ETA {eta}")
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
        elif math.floor(10 * done / total) > self.shown_tenth:
            self.shown_tenth = math.floor(10 * done / total)
            self.stream.write(line + "\n")
        self.stream.flush()
