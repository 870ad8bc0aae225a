"""A sweep's results, read from its members' files: each member's swept values, state, epoch it grokked and
final accuracy, and the epochs-to-grok statistics per cell that the sweep view and figure show."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grok_tui.core.config import ConfigError, is_valid_tag
from grok_tui.run.log import last_record
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import EVENT_LABELS, load_events
from grok_tui.sweeps.grid import (
    Member,
    definition_path,
    load_definition,
    saved_members,
)


@dataclass
class MemberResult:
    member: Member
    grokked: int | None  # the epoch test accuracy first reached 99%, None if not (yet)
    epoch: int  # the last logged epoch
    test_acc: float | None
    phase: str = "no data yet"  # the last phase event's name, as the runs list says it


def member_results(name: str, root: Path | str) -> tuple[dict[str, list[Any]], list[MemberResult]]:
    if not is_valid_tag(name):
        raise ConfigError([f"sweep: the name must be a valid tag (got {name!r})"])
    path = definition_path(root, name)
    saved = load_definition(path)
    if saved is None:
        raise ConfigError([f"sweep: no sweep {name!r} under {Path(root).resolve() / 'sweeps'}"])
    results = []
    for member in saved_members(saved, path):
        paths = RunPaths.of(member.tag, root)
        events = load_events(paths.events)
        grokked = next((e.epoch for e in events if e.name == "grokked"), None)
        last = last_record(paths.log) or {}
        epoch, acc = last.get("epoch"), last.get("test_acc")
        phase = EVENT_LABELS.get(events[-1].name, events[-1].name) if events else "memorizing" if last else "no data yet"
        results.append(MemberResult(member, grokked, epoch if isinstance(epoch, int) else 0,
                                    acc if isinstance(acc, (int, float)) else None, phase))
    axes = {field: values for field, values in saved["axes"].items() if isinstance(values, list)}
    return axes, results


def grok_stats(results: list[MemberResult]) -> tuple[float | None, int | None, int | None, int]:
    """(median, min, max) epochs to grok over the grokked seeds, and how many grokked."""
    epochs = [r.grokked for r in results if r.grokked is not None]
    if not epochs:
        return None, None, None, 0
    return statistics.median(epochs), min(epochs), max(epochs), len(epochs)


def members_at(results: list[MemberResult], **values: Any) -> list[MemberResult]:
    """The members whose swept values include `values` (e.g. every seed of one grid cell)."""
    return [r for r in results if all(r.member.values.get(field) == value for field, value in values.items())]


def grid_axes(axes: dict[str, list[Any]]) -> list[tuple[str, list[Any]]]:
    """The swept fields a figure or view draws (all but seed), each with its values sorted when numeric."""
    return [(field, sorted(values) if all(isinstance(v, (int, float)) for v in values) else list(values))
            for field, values in axes.items() if field != "seed"]
