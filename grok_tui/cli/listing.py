"""`grok-tui list`: every run under ROOT/logs, with the config fields that differ, progress and status.

Tags sort naturally (s2 before s10); `--sort FIELD`, `--filter TEXT` and `--sweep NAME` choose and order the
rows; `--format csv|json` writes every config field and result of each run for a script to read.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grok_tui.cli.common import EXIT_OK, add_root
from grok_tui.core.config import ConfigError

if TYPE_CHECKING:
    from grok_tui.run.paths import RunPaths
    from grok_tui.run.snapshots import Snapshot
    from grok_tui.run.summary import RunSummary

# Result columns --sort takes besides the config fields (and their short names: wd, frac, ...).
RESULT_KEYS = ("tag", "epoch", "memorized", "circuit", "grokked", "test_acc", "phase", "status", "started")


def add_parser(commands: Any) -> None:
    runs = commands.add_parser("list", help="list the runs under ROOT/logs",
                               description="Every run under ROOT/logs with its progress and status.")
    runs.add_argument("--long", action="store_true",
                      help="also each run's last training session: device, threads, versions, host, start")
    runs.add_argument("--sort", default="tag", metavar="FIELD",
                      help=f"order by a config field (lr, wd, seed, ...) or one of {', '.join(RESULT_KEYS)} "
                           "(default: tag, naturally: s2 before s10); runs without a value last")
    runs.add_argument("--filter", action="append", default=[], metavar="TEXT",
                      help="only runs whose tag contains TEXT, or FIELD=VALUE as the table shows it (wd=0.3, "
                           "grokfast=ema); repeat to require several")
    runs.add_argument("--sweep", metavar="NAME", help="only the members of sweep NAME")
    runs.add_argument("--format", choices=("table", "csv", "json"), default="table",
                      help="table (the default), or csv / json with every config field and result of each run")
    add_root(runs)


def run(args: argparse.Namespace) -> int:
    from grok_tui.core.text import table_lines
    from grok_tui.run.paths import RunPaths
    from grok_tui.run.summary import list_runs

    sort_key = sort_field(args.sort)
    summaries = list_runs(args.root)
    if args.sweep is not None:
        members = sweep_tags(Path(args.root), args.sweep)
        summaries = [s for s in summaries if s.tag in members]
    for text in args.filter:
        summaries = [s for s in summaries if matches(s, text)]
    summaries = sort_runs(summaries, sort_key)
    if args.format != "table":
        write_records(summaries, args.format)
    elif not summaries:
        chosen = " matching the options" if args.sweep is not None or args.filter else ""
        print(f"no runs{chosen} under {Path(args.root).resolve() / 'logs'}")
    else:
        from grok_tui.run.snapshots import list_snapshots

        snapshots = {s.tag: list_snapshots(RunPaths.of(s.tag, args.root)) for s in summaries}
        lines = table_lines(list_table(summaries, snapshots))
        sessions = ([""] + [session_line(RunPaths.of(s.tag, args.root)) for s in summaries] if args.long
                    else [""] * len(lines))
        for line, session in zip(lines, sessions):
            print(line)
            if session:
                print(f"    {session}")
    for s in summaries:
        if s.problem:
            print(f"warning: {s.tag}: {s.problem}", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------- choosing and ordering the rows


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """'s10' after 's2': digit runs compare as numbers, the rest as text."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _field_name(name: str) -> str | None:
    """A config field from its name or its short name (wd, frac, ...), in dash- or snake-case; None if not one."""
    from grok_tui.figures.groups import SHORT_NAMES, config_fields

    name = name.replace("-", "_")
    full = {short: field for field, short in SHORT_NAMES.items()}.get(name, name)
    return full if full in config_fields() else None


def sort_field(name: str) -> str:
    """The key --sort names, or a ConfigError listing what it takes."""
    if name in RESULT_KEYS or _field_name(name) is not None:
        return name if name in RESULT_KEYS else str(_field_name(name))
    raise ConfigError([f"sort: must be a config field or one of {', '.join(RESULT_KEYS)} (got {name!r})"])


def result_values(s: RunSummary) -> dict[str, Any]:
    """A run's results by --sort's names (None where it has none)."""
    return {"tag": s.tag, "epoch": s.last["epoch"] if s.last else None, "memorized": s.memorized_epoch,
            "circuit": s.circuit_epoch, "grokked": s.grokked_epoch, "test_acc": s.final_test_acc,
            "phase": s.phase, "status": s.status, "started": s.started}


def sort_runs(summaries: list[RunSummary], key: str) -> list[RunSummary]:
    """By `key` (ties and the tag itself in natural order); runs without a value (None, a broken config) last."""
    def order(s: RunSummary) -> tuple[Any, ...]:
        if key in RESULT_KEYS:
            value = result_values(s)[key]
        else:
            value = s.config.resolved(key) if s.config is not None else None
        if value is None:
            return (1, (), natural_key(s.tag))
        if isinstance(value, str):
            return (0, natural_key(value), natural_key(s.tag))
        if isinstance(value, tuple):
            return (0, tuple((0, v) for v in value), natural_key(s.tag))
        return (0, ((0, float(value)),), natural_key(s.tag))

    return sorted(summaries, key=order)


def matches(s: RunSummary, text: str) -> bool:
    """--filter: FIELD=VALUE compares the field as the table shows it; anything else is part of the tag."""
    from grok_tui.figures.groups import format_value

    name, sep, wanted = text.partition("=")
    if sep:
        field = _field_name(name.strip())
        if field is None:
            raise ConfigError([f"filter: {name.strip()!r} is not a config field (got {text!r})"])
        return s.config is not None and format_value(s.config, field) == wanted.strip()
    return text in s.tag


def sweep_tags(root: Path, name: str) -> set[str]:
    """The tags of sweep `name`'s members: its saved definition (ROOT/sweeps/NAME.json), or a ConfigError."""
    from grok_tui.sweeps.grid import definition_path, load_definition

    saved = load_definition(definition_path(root, name))
    if saved is None:
        raise ConfigError([f"sweep: no sweep {name!r} under {root.resolve() / 'sweeps'}"])
    return {str(member["tag"]) for member in saved["members"]}


# ---------------------------------------------------------------- output


def list_table(summaries: list[RunSummary],
               snapshots: dict[str, list[Snapshot]] | None = None) -> list[tuple[str, ...]]:
    """`list`'s header and rows: a column for each config field that differs between the runs, and only
    those, the intervention fields said once in words (SETUP: 'Grokfast-EMA (alpha 0.98, lamb 2), ⊥Grad');
    a SNAPSHOTS column (how many, and their size on disk) when any run has weight snapshots."""
    from grok_tui.core.text import format_percent
    from grok_tui.figures.groups import INTERVENTION_FIELDS, differing_fields, format_value, interventions_text

    differing = differing_fields([s.config for s in summaries])
    fields = [name for name in differing if name not in INTERVENTION_FIELDS]
    # Interventions are named whenever a run has one, not only when they differ: a table of ⊥Grad runs says so.
    setup = any(name in INTERVENTION_FIELDS for name in differing) or any(
        s.config is not None and interventions_text(s.config) for s in summaries)
    header = ("TAG", *(name.upper() for name in fields), *(("SETUP",) if setup else ()), "EPOCH", "MEMORIZED",
              "GROKKED", "TEST ACC", "PHASE", "STATUS", "STARTED")
    rows: list[tuple[str, ...]] = [header]
    for s in summaries:
        shown = ((interventions_text(s.config) or "none") if s.config is not None else "?",) if setup else ()
        rows.append((s.tag, *(format_value(s.config, name) for name in fields), *shown, s.epoch_text,
                     _epoch_cell(s.memorized_epoch), _epoch_cell(s.grokked_epoch), format_percent(s.final_test_acc),
                     s.phase, s.status_text, s.started or "-"))
    if snapshots and any(snapshots.values()):
        from grok_tui.run.snapshots import disk_usage, format_bytes

        def cell(found: list[Snapshot]) -> str:
            return f"{len(found)} ({format_bytes(disk_usage(found))})" if found else "-"

        rows = [row + (cell(snapshots.get(s.tag, [])),) for row, s in zip(rows[1:], summaries)]
        rows.insert(0, header + ("SNAPSHOTS",))
    return rows


def run_record(s: RunSummary) -> dict[str, Any]:
    """One run for csv and json: its results, every config field (null for one it does not use) and
    its setup in words."""
    from grok_tui.figures.groups import config_fields, interventions_text, is_unused

    record = result_values(s)
    for name in config_fields():
        value = None if s.config is None or is_unused(s.config, name) else s.config.resolved(name)
        record[name] = list(value) if isinstance(value, tuple) else value
    record["setup"] = (interventions_text(s.config) or "none") if s.config is not None else None
    record["problem"] = s.problem or None
    return record


def write_records(summaries: list[RunSummary], fmt: str) -> None:
    records = [run_record(s) for s in summaries]
    if fmt == "json":
        print(json.dumps(records, indent=2))
        return
    from grok_tui.figures.groups import config_fields

    columns = [*RESULT_KEYS, *config_fields(), "setup", "problem"]
    writer = csv.DictWriter(sys.stdout, fieldnames=list(dict.fromkeys(columns)), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: "" if value is None else (",".join(map(str, value)) if isinstance(value, list)
                                                          else value) for key, value in record.items()})


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
