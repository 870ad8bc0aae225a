"""Runs seen together: seed groups, median and min-max bands over seeds, and per-run/per-group summaries.

A grokking result is a comparison (this weight decay against that one, seeds 0-4 with a band). Runs
whose configs differ only by `seed` among the fields that define the experiment (config.EXPERIMENT_FIELDS)
form one group; a different schedule (num_epochs, log_every, measure_every) or device does not split a
group, so seeds logged at different cadences or trained to different lengths still band together.

Bands are computed on a common epoch grid: the union of the members' logged epochs. Each member is
interpolated linearly onto the grid points inside its own logged range (losses in log10, as they are
drawn), and at every grid point the median, min and max are taken over the members that cover it
(`Band.count` says how many do: past the end of a shorter run the band narrows to the others).

Labels (group_label, run_label) are the one text the comparison figure's legend and the TUI's compare table
show: every experiment field that differs among the runs shown, the seed outside seed groups, interventions
in words (interventions, optimizer_text, objective_text: also the figure titles, loss axes, the status panel
and `list`), and never a field the run does not use (is_unused: Grokfast's settings without Grokfast).

Phase epochs come from grok_tui/run/phases.py, the same detector the trainer and the live view use; the
epochs to an event over a group are censored statistics (grok_tui/figures/survival.py): a run that has not
grokked by its last epoch counts as "not by then", never drops out.
Headless on purpose: numpy and the standard library only (W&B's grouping, one line per group with a
band for its members, is the model).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grok_tui.core.config import EXPERIMENT_FIELDS, Config
from grok_tui.figures.series import RunSeries, log10_safe
from grok_tui.figures.survival import Censored, Curve, Outcome, fraction_grokked, summarize
from grok_tui.run.log import RunLogReader
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import read_config

LOG_KEYS = frozenset({"train_loss", "test_loss", "restricted_loss", "excluded_loss"})  # banded in log10
# The fields of the interventions (grok_tui/experiment/interventions.py, losses.py): a label says them in words.
INTERVENTION_FIELDS = ("grokfast", "grokfast_alpha", "grokfast_lamb", "grokfast_window", "orthograd", "loss",
                       "softmax_precision", "adam_eps")
SHORT_NAMES = {"weight_decay": "wd", "frac_train": "frac", "num_heads": "heads", "operation": "op",
               "num_epochs": "epochs", "warmup_steps": "warmup", "batch_size": "batch"}


@dataclass
class Member:
    """One run to compare: its config (None when config.json is broken), its series, and what is wrong."""

    tag: str
    config: Config | None
    series: RunSeries = field(default_factory=RunSeries)
    problem: str = ""


def load_member(paths: RunPaths) -> Member:
    """A run read from disk; a broken config or log shows as a problem, never as an exception."""
    config, problem = read_config(paths)
    series = RunSeries(log_every=config.log_every if config is not None else None)
    reader = RunLogReader(paths.log)
    for update in reader.updates():  # one chunk at a time: the series' arrays, never a list of every record
        series.apply(update)
    problem = "; ".join(text for text in (problem, reader.problem) if text)
    if not len(series) and not problem:
        problem = f"{paths.log}: no log records yet"
    return Member(paths.tag, config, series, problem)


# ---------------------------------------------------------------- config differences


def config_fields() -> list[str]:
    """Every Config field but the tag, in the dataclass's order."""
    return [f.name for f in dataclasses.fields(Config) if f.name != "tag"]


def is_unused(config: Config, name: str) -> bool:
    """Whether a field changes nothing in this run (Config.is_unused): a setting of a Grokfast filter the run
    does not use, Adam's betas under SGD, SGD's momentum under Adam."""
    return config.is_unused(name)


def differing_fields(configs: Sequence[Config | None]) -> list[str]:
    """The config fields (tag excluded) whose values are not the same in all of `configs` (None skipped).
    A field counts only among the runs that use it: grokfast_alpha of an ema run beside a run without
    Grokfast is not a difference (grokfast is), two ema runs with other alphas are."""
    known = [c for c in configs if c is not None]
    return [name for name in config_fields()
            if len({repr(c.resolved(name)) for c in known if not is_unused(c, name)}) > 1]


def format_value(config: Config | None, name: str) -> str:
    """A config value for a table cell: 0.001 as 0.001, 1.0 as 1, betas as 0.9,0.98, d_mlp resolved;
    '-' for a field the run does not use (or leaves unset, as stop_after_grok)."""
    if config is None:
        return "?"
    value = config.resolved(name)
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def fields_text(config: Config | None, names: Sequence[str]) -> str:
    """'wd=0.3 seed=1': the named fields of one run, short names, a field the run does not use left out."""
    if config is None:
        return ""
    return " ".join(f"{SHORT_NAMES.get(name, name)}={format_value(config, name)}" for name in names
                    if not is_unused(config, name))


def interventions(config: Config) -> list[str]:
    """What the run adds to the paper's AdamW run, one item each: 'Grokfast-EMA (α=0.98, λ=2)', '⊥Grad',
    'StableMax CE', 'float32 softmax', 'adam_eps=1e-30'; [] for the paper's own setup."""
    parts = []
    if config.grokfast == "ema":
        parts.append(f"Grokfast-EMA (\u03b1={config.grokfast_alpha:g}, \u03bb={config.grokfast_strength:g})")
    elif config.grokfast == "ma":
        parts.append(f"Grokfast-MA (window={config.grokfast_window}, \u03bb={config.grokfast_strength:g})")
    if config.orthograd:
        parts.append("\u22a5Grad")
    if config.loss == "stablemax":
        parts.append("StableMax CE")
    if config.softmax_precision != Config.softmax_precision:
        parts.append(f"{config.softmax_precision} {'StableMax' if config.loss == 'stablemax' else 'softmax'}")
    if config.adam_eps != Config.adam_eps and not config.is_unused("adam_eps"):
        parts.append(f"adam_eps={config.adam_eps:g}")
    return parts


def interventions_text(config: Config) -> str:
    """The run's interventions in one phrase ('Grokfast-EMA (α=0.98, λ=2), ⊥Grad'); '' for none."""
    return ", ".join(interventions(config))


OPTIMIZER_NAMES = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}


def optimizer_text(config: Config) -> str:
    """The optimizer as it steps: 'AdamW lr=0.001 wd=1', '⊥Grad-AdamW ...' with ⊥Grad, betas when not
    the paper's; 'Adam lr=0.005 L2=0.005' (Adam's weight decay is a coupled L2 term), 'SGD lr=0.1 wd=0
    momentum=0.9'; ' batch=512' with minibatches."""
    name = OPTIMIZER_NAMES.get(config.optimizer, str(config.optimizer))
    name = f"\u22a5Grad-{name}" if config.orthograd else name
    decay = "L2" if config.optimizer == "adam" else "wd"
    text = f"{name} lr={config.lr:g} {decay}={config.weight_decay:g}"
    if config.optimizer == "sgd":
        text += f" momentum={config.momentum:g}"
    elif tuple(config.betas) != Config.betas:
        text += f" betas={format_value(config, 'betas')}"
    if config.batch_size:
        text += f" batch={config.batch_size}"
    return text


def objective_text(config: Config | None, short: bool = False) -> str:
    """The loss the run minimizes, for a loss axis: 'softmax cross-entropy', 'StableMax cross-entropy'
    ('softmax CE' short)."""
    kind = "" if config is None else "StableMax " if config.loss == "stablemax" else "softmax "
    return f"{kind}{'CE' if short and kind else 'cross-entropy'}"


def objectives(configs: Sequence[Config | None], short: bool = False) -> list[str]:
    """The distinct objectives (objective_text) of `configs`, in order; a broken config is not one."""
    return list(dict.fromkeys(objective_text(c, short) for c in configs if c is not None))


def loss_axis_text(name: str, configs: Sequence[Config | None], short: bool = False) -> str:
    """A loss chart's title in the PNG and the TUI alike: 'train loss, softmax cross-entropy', or with
    several objectives 'train loss: softmax cross-entropy and StableMax cross-entropy mixed' (not one
    quantity: the legend says which run minimizes which). short: 'CE' (a terminal chart's title)."""
    found = objectives(configs, short)
    if len(found) > 1:
        return f"{name}: {' and '.join(found)} mixed"
    return f"{name}, {found[0]}" if found else name


def shared_text(configs: Sequence[Config | None]) -> str:
    """What every run shown shares, for a comparison's title: the optimizer and the interventions when
    they are the same for all ('AdamW lr=0.003 wd=1; ⊥Grad, StableMax CE'); '' when nothing is shared."""
    known = [c for c in configs if c is not None]
    if not known:
        return ""
    parts = []
    for describe in (optimizer_text, interventions_text):
        texts = {describe(c) for c in known}
        if len(texts) == 1:
            parts.append(texts.pop())
    return "; ".join(part for part in parts if part)


def run_label(config: Config | None, tag: str, fields: Sequence[str]) -> str:
    """A single run among others: its tag and the `fields` that set it apart ('q wd=1 seed=0')."""
    text = label_text(config, fields)
    return f"{tag} {text}" if text else tag


def group_key(member: Member) -> tuple[Any, ...]:
    """Members with equal keys differ only by seed (or schedule); a broken config is its own group."""
    if member.config is None:
        return ("broken", member.tag)
    return tuple(repr(member.config.resolved(name)) for name in EXPERIMENT_FIELDS if name != "seed")


# ---------------------------------------------------------------- groups


@dataclass
class Group:
    key: tuple[Any, ...]
    members: list[Member]
    label: str = ""

    @property
    def tags(self) -> list[str]:
        return [m.tag for m in self.members]

    @property
    def seeds(self) -> list[int]:
        return [m.config.seed for m in self.members if m.config is not None]


def group_runs(members: Sequence[Member]) -> list[Group]:
    """Seed groups in order of first appearance, each labelled by group_label."""
    groups: dict[tuple[Any, ...], Group] = {}
    for member in members:
        groups.setdefault(group_key(member), Group(group_key(member), [])).members.append(member)
    result = list(groups.values())
    apart = experiment_differences([m.config for m in members])
    for group in result:
        group.label = group_label(group, apart)
    return result


def experiment_differences(configs: Sequence[Config | None]) -> list[str]:
    """The experiment's fields (seed included) that differ among `configs`: what a label must name."""
    return [name for name in differing_fields(configs) if name in EXPERIMENT_FIELDS]


def group_label(group: Group, apart: Sequence[str]) -> str:
    """The one label text of a group, in the PNG's legend and the TUI's table alike: the fields in `apart`
    (seed too, unless the group is a seed group), interventions in words ('wd=0.3 seed=1',
    'lr=0.001 Grokfast-EMA (α=0.98, λ=2) (3 seeds)'), or the tags when nothing sets it apart."""
    config = group.members[0].config
    names = [name for name in apart if name != "seed" or len(group.members) == 1]
    text = label_text(config, names)
    if not text:
        text = group.members[0].tag if len(group.members) == 1 or config is None else \
            _common_prefix(group.tags) or group.members[0].tag
    if len(group.members) > 1:  # the same seed twice (a rerun) is not two seeds
        seeds = group.seeds
        kind = "seeds" if len(set(seeds)) == len(seeds) == len(group.members) else "runs"
        text += f" ({len(group.members)} {kind})"
    return text


def label_text(config: Config | None, names: Sequence[str]) -> str:
    """The `names` of one run as a label: 'wd=0.3 seed=1'; the intervention fields among them said once, in
    words (interventions_text, or 'no intervention'); a field the run does not use left out."""
    if config is None:
        return ""
    plain = [name for name in names if name not in INTERVENTION_FIELDS and name != "seed"]
    parts = [fields_text(config, plain)]
    if any(name in INTERVENTION_FIELDS for name in names):
        parts.append(interventions_text(config) or "no intervention")
    if "seed" in names:  # last: the seed tells apart runs of one experiment, the rest the experiments
        parts.append(fields_text(config, ["seed"]))
    return " ".join(part for part in parts if part)


def tags_text(tags: list[str]) -> str:
    """The group's runs in few characters: quick-wd1-s0, quick-wd1-s1 -> 'quick-wd1-s{0,1}'."""
    if len(tags) == 1:
        return tags[0]
    prefix = tags[0]
    for tag in tags[1:]:
        while not tag.startswith(prefix):
            prefix = prefix[:-1]
    if len(prefix) < 2:
        return ",".join(tags)
    return prefix + "{" + ",".join(tag[len(prefix):] for tag in tags) + "}"


def _common_prefix(tags: list[str]) -> str:
    """The tags' common start, cut back to a whole segment: wd03-s0, wd03-s1 -> wd03."""
    prefix = tags[0]
    for tag in tags[1:]:
        while not tag.startswith(prefix):
            prefix = prefix[:-1]
    if any(len(tag) > len(prefix) and tag[len(prefix)] not in "-_." for tag in tags):
        cut = max(prefix.rfind(c) for c in "-_.")
        prefix = prefix[:cut] if cut > 0 else prefix
    return prefix.rstrip("-_.")


# ---------------------------------------------------------------- bands


@dataclass(frozen=True)
class Band:
    """Median and min-max over members at each grid epoch; NaN where no member covers it."""

    epochs: np.ndarray  # int64 [grid]
    median: np.ndarray  # float64 [grid]
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray  # int64 [grid]: members that cover the epoch


def _column(series: RunSeries, key: str) -> np.ndarray:
    values = series.values(key)
    return log10_safe(values) if key in LOG_KEYS else np.asarray(values, dtype=np.float64)


def _sorted_union(arrays: list[np.ndarray]) -> np.ndarray:
    # A sort and a neighbour test: numpy 2's np.unique hashes, ~10x slower on 600,000 epochs.
    if not arrays:
        return np.zeros(0, dtype=np.int64)
    values = np.sort(np.concatenate(arrays), kind="stable")
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


def band(series: Sequence[RunSeries], key: str, max_points: int | None = None) -> Band:
    """The band of `key` over `series` on the union of their epochs (losses computed in log10, returned
    as losses). Each series counts only inside its own range of finite values.

    max_points (for a chart a few hundred cells wide): a union grid larger than this is thinned to that
    many evenly spaced grid epochs, first and last kept, so a redraw of 100,000-epoch logs stays cheap;
    values at the kept epochs are the same as on the full grid.
    """
    grids = [s.epochs for s in series if len(s)]
    grid = _sorted_union(grids)
    if max_points is not None and grid.size > max(2, max_points):
        grid = grid[_sorted_union([np.linspace(0, grid.size - 1, max(2, max_points)).round().astype(np.int64)])]
    rows = np.full((len(series), grid.size), np.nan)
    for i, one in enumerate(series):
        if not len(one):
            continue
        y = _column(one, key)
        finite = np.isfinite(y)
        x, y = one.epochs[finite], y[finite]
        if not x.size:
            continue
        inside = (grid >= x[0]) & (grid <= x[-1])
        rows[i, inside] = np.interp(grid[inside], x, y)
    covered = np.isfinite(rows)
    count = covered.sum(axis=0).astype(np.int64)
    median = np.full(grid.size, np.nan)
    low, high = median.copy(), median.copy()
    some = count > 0
    if some.any():
        part = rows[:, some]
        median[some] = np.nanmedian(part, axis=0)
        low[some] = np.nanmin(part, axis=0)
        high[some] = np.nanmax(part, axis=0)
    if key in LOG_KEYS:
        median, low, high = (np.power(10.0, a) for a in (median, low, high))
    return Band(grid, median, low, high, count)


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class RunStats:
    tag: str
    memorized: int | None
    circuit: int | None
    grokked: int | None
    final_train_acc: float | None
    final_test_acc: float | None
    grok_time_s: float | None  # training seconds (elapsed_s) at the grokking epoch
    last_epoch: int | None
    last_elapsed_s: float | None = None  # training seconds at the last logged epoch


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def run_stats(member: Member) -> RunStats:
    series = member.series
    last = series.last or {}
    grokked = series.grokked_epoch
    grok_time = None
    if grokked is not None:
        index = int(np.searchsorted(series.epochs, grokked))
        if index < len(series) and series.epochs[index] == grokked:
            grok_time = _finite(float(series.values("elapsed_s")[index]))
    return RunStats(member.tag, series.memorized_epoch, series.circuit_epoch, grokked,
                    _finite(last.get("train_acc")), _finite(last.get("test_acc")), grok_time,
                    int(last["epoch"]) if last else None, _finite(last.get("elapsed_s")))


@dataclass(frozen=True)
class Spread:
    """A value over a group's members: median, min and max of those that have it, n of them out of `of`."""

    median: float | None
    low: float | None
    high: float | None
    n: int
    of: int

    @classmethod
    def of_values(cls, values: Sequence[float | None]) -> "Spread":
        known = [v for v in values if v is not None]
        if not known:
            return cls(None, None, None, 0, len(values))
        return cls(float(np.median(known)), min(known), max(known), len(known), len(values))

    def text(self, fmt: Callable[[float], str]) -> str:
        """'1,290', '1,290 (1,160-1,630)', with ' 2/3' when only some members have a value; '-' for none."""
        if self.median is None or self.low is None or self.high is None:
            return "-"
        text = fmt(self.median)
        if self.n > 1 and self.low != self.high:
            text += f" ({fmt(self.low)}-{fmt(self.high)})"
        if self.n < self.of:
            text += f" {self.n}/{self.of}"
        return text


@dataclass(frozen=True)
class GroupStats:
    """A group's summary. The epochs (and time) to an event count the runs without it as censored at their
    last logged epoch (grok_tui/figures/survival.py), never leave them out; the accuracies are plain spreads."""

    label: str
    tags: list[str]
    memorized: Censored
    circuit: Censored
    grokked: Censored
    final_train_acc: Spread
    final_test_acc: Spread
    grok_time_s: Censored


def outcomes(stats: Sequence[RunStats], pick: Callable[[RunStats], float | None],
             last_seen: Callable[[RunStats], float | None] = lambda s: s.last_epoch) -> list[Outcome]:
    """Each run's event (epoch or time) or, without it, the last epoch (time) it was watched: censored."""
    return [Outcome.of(pick(s), last_seen(s)) for s in stats]


def group_stats(group: Group) -> GroupStats:
    stats = [run_stats(m) for m in group.members]

    def censored(pick: Callable[[RunStats], float | None]) -> Censored:
        return summarize(outcomes(stats, pick))

    return GroupStats(group.label, group.tags, censored(lambda s: s.memorized), censored(lambda s: s.circuit),
                      censored(lambda s: s.grokked),
                      Spread.of_values([s.final_train_acc for s in stats]),
                      Spread.of_values([s.final_test_acc for s in stats]),
                      summarize(outcomes(stats, lambda s: s.grok_time_s, lambda s: s.last_elapsed_s)))


def grokked_curve(group: Group) -> Curve:
    """The fraction of the group's runs that grokked by each epoch (Kaplan–Meier; grok_tui/figures/survival.py)."""
    stats = [run_stats(m) for m in group.members]
    return fraction_grokked(outcomes(stats, lambda s: s.grokked),
                            until=max((s.last_epoch for s in stats if s.last_epoch is not None), default=None))


def single_groups(members: Sequence[Member]) -> list[Group]:
    """Every member as a group of its own, labelled by its tag and what sets it apart (the 'single runs'
    view): 'q wd=1 seed=0'."""
    apart = experiment_differences([m.config for m in members])
    return [Group(("run", m.tag), [m], run_label(m.config, m.tag, apart)) for m in members]


def load_members(tags: Sequence[str], root: Path | str | None = None) -> list[Member]:
    return [load_member(RunPaths.of(tag, root)) for tag in tags]
