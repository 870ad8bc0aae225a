"""A sweep's results, read from its members' files: each member's swept values, state, epoch it grokked and
final accuracy, and the epochs-to-grok statistics per cell that the sweep view and figure show.

Each member is read as `grok-tui list` reads a run (grok_tui/run/summary.py: its phase events from its log,
the same whether or not and wherever it was stopped), and a cell's epochs to grok are censored statistics
(grok_tui/figures/survival.py): a member that has not grokked by its last logged epoch counts as "not by
then", never drops out of the median.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grok_tui.core.config import ConfigError, is_valid_tag
from grok_tui.figures.survival import Censored, Curve, Outcome, fraction_grokked, summarize
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import RunSummaryCache
from grok_tui.sweeps.grid import (
    Member,
    definition_path,
    load_definition,
    saved_members,
)


@dataclass
class MemberResult:
    member: Member
    grokked: int | None  # the epoch test accuracy first reached 99% (on the log cadence), None if not (yet)
    epoch: int  # the last logged epoch
    test_acc: float | None
    phase: str = "no data yet"  # the phase as the runs list says it
    running: bool = False  # a trainer holds the member's lock: "not grokked" means "not yet"

    @property
    def outcome(self) -> Outcome:
        """Grokked at its epoch, or censored at the last epoch logged (0: not started)."""
        return Outcome.of(self.grokked, self.epoch)


def member_results(name: str, root: Path | str,
                   cache: RunSummaryCache | None = None) -> tuple[dict[str, list[Any]], list[MemberResult]]:
    """The sweep's axes and every member's result. `cache` (a view that asks every few seconds) re-reads only
    the members whose files changed."""
    if not is_valid_tag(name):
        raise ConfigError([f"sweep: the name must be a valid tag (got {name!r})"])
    path = definition_path(root, name)
    saved = load_definition(path)
    if saved is None:
        raise ConfigError([f"sweep: no sweep {name!r} under {Path(root).resolve() / 'sweeps'}"])
    cache = cache if cache is not None else RunSummaryCache()
    results = []
    for member in saved_members(saved, path):
        summary = cache.summary(RunPaths.of(member.tag, root))
        results.append(MemberResult(member, summary.grokked_epoch, summary.last["epoch"] if summary.last else 0,
                                    summary.final_test_acc, summary.phase, summary.status == "running"))
    axes = {field: values for field, values in saved["axes"].items() if isinstance(values, list)}
    return axes, results


def grok_summary(results: list[MemberResult]) -> Censored:
    """The censored median epochs to grok of `results` (e.g. the seeds of one cell), its range and k/n."""
    return summarize([r.outcome for r in results])


def grok_curve(results: list[MemberResult]) -> Curve:
    """The fraction of `results` that grokked by each epoch (Kaplan–Meier, non-grokked members censored)."""
    return fraction_grokked([r.outcome for r in results], until=max((r.epoch for r in results), default=None))


def members_at(results: list[MemberResult], **values: Any) -> list[MemberResult]:
    """The members whose swept values include `values` (e.g. every seed of one grid cell)."""
    return [r for r in results if all(r.member.values.get(field) == value for field, value in values.items())]


def grid_axes(axes: dict[str, list[Any]]) -> list[tuple[str, list[Any]]]:
    """The swept fields a figure or view draws (all but seed), each with its values sorted when numeric."""
    return [(field, sorted(values) if all(isinstance(v, (int, float)) for v in values) else list(values))
            for field, values in axes.items() if field != "seed"]
