"""`grok-tui list`: every run under ROOT/logs, with the config fields that differ, progress and status."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grok_tui.cli.common import EXIT_OK, add_root

if TYPE_CHECKING:
    from grok_tui.run.paths import RunPaths
    from grok_tui.run.snapshots import Snapshot
    from grok_tui.run.summary import RunSummary


def add_parser(commands: Any) -> None:
    runs = commands.add_parser("list", help="list the runs under ROOT/logs",
                               description="Every run under ROOT/logs with its progress and status.")
    runs.add_argument("--long", action="store_true",
                      help="also each run's last training session: device, threads, versions, host, start")
    add_root(runs)


def run(args: argparse.Namespace) -> int:
    from grok_tui.core.text import table_lines
    from grok_tui.run.paths import RunPaths
    from grok_tui.run.summary import list_runs

    summaries = list_runs(args.root)
    if not summaries:
        print(f"no runs under {Path(args.root).resolve() / 'logs'}")
        return EXIT_OK
    from grok_tui.run.snapshots import list_snapshots

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
    from grok_tui.core.text import format_percent
    from grok_tui.figures.groups import differing_fields, format_value
    from grok_tui.run.snapshots import disk_usage, format_bytes

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
    from grok_tui.run.sessions import describe, environment_changes, read_sessions

    sessions = read_sessions(paths.sessions)
    if not sessions:
        return "last session: not recorded"
    line = f"last session: {describe(sessions[-1])}"
    changes = environment_changes(sessions[-2], sessions[-1]) if len(sessions) > 1 else []
    return line + (f" [environment changed: {'; '.join(changes)}]" if changes else "")
