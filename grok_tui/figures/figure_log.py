"""A run's log read for a figure in bounded memory: streamed, and thinned while it is read.

A figure is a few thousand pixels wide, but a log can have a million lines (a million dicts are a GB of
Python objects). `read_figure_log` reads the log one chunk at a time and keeps consecutive records in
buckets: a bucket keeps its first record and, for every number a figure draws, the records holding its
lowest and highest value, so a loss spike or a dip in accuracy survives any thinning. When there are
more than MAX_BUCKETS buckets, neighbours are merged pairwise (their extremes are among the two
buckets' kept records, so merging is exact) and buckets cover twice as many lines from then on.
A log of up to MAX_BUCKETS lines is kept whole: its figure is exactly what it was without thinning.

The phase events are computed from every record as they stream by (never from the thinned ones), and the
last record with Fourier norms is always kept, so the dashed lines and the frequency panel are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from grok_tui.run.log import Record, RunLogReader
from grok_tui.run.phases import Event, PhaseTracker

MAX_BUCKETS = 8192  # a 50,000-epoch run logged every 10 epochs (5,001 lines) is kept whole
# The numbers the figures draw over epochs; each bucket keeps the records of their extremes.
FIGURE_KEYS = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "restricted_loss",
               "excluded_loss", "gini_embed", "gini_unembed")


def _value(record: Record, key: str) -> float | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class _Bucket:
    """Consecutive records reduced to the first one and those at each key's lowest and highest value."""

    def __init__(self) -> None:
        self.first: Record | None = None
        self.lines = 0
        self.low: dict[str, tuple[float, Record]] = {}
        self.high: dict[str, tuple[float, Record]] = {}

    def add(self, record: Record, lines: int = 1) -> None:
        if self.first is None:
            self.first = record
        self.lines += lines
        for key in FIGURE_KEYS:
            value = _value(record, key)
            if value is None:
                continue
            if key not in self.low or value < self.low[key][0]:  # ties keep the earlier record
                self.low[key] = (value, record)
            if key not in self.high or value > self.high[key][0]:
                self.high[key] = (value, record)

    def kept(self) -> list[Record]:
        """The bucket's records, each once, in the log's order."""
        chosen = {id(self.first): self.first} if self.first is not None else {}
        for extremes in (self.low, self.high):
            for _, record in extremes.values():
                chosen[id(record)] = record
        return sorted(chosen.values(), key=lambda record: int(record["epoch"]))


def _merged(left: _Bucket, right: _Bucket) -> _Bucket:
    bucket = _Bucket()
    for part in (left, right):
        for record in part.kept():  # the union's extremes are among each part's extremes
            bucket.add(record, lines=0)
        bucket.lines += part.lines
    return bucket


@dataclass
class FigureLog:
    records: list[Record]  # the kept records in the log's order (all of them for a short log)
    events: list[Event]  # the phase events of the whole log
    lines: int  # records read
    problem: str = ""  # why the log could not be read (a folder in its place), else ""
    thinned: bool = field(default=False)


class Thinner:
    """Feed records in order; `records()` returns the thinned list (the whole list while it is short)."""

    def __init__(self, max_buckets: int = MAX_BUCKETS):
        self.max_buckets = max(2, int(max_buckets))
        self.stride = 1  # lines per bucket
        self.buckets: list[_Bucket] = []
        self.current = _Bucket()
        self.last_measured: Record | None = None
        self.lines = 0

    def feed(self, record: Record) -> None:
        self.lines += 1
        self.current.add(record)
        if isinstance(record.get("embed_freq_norms"), list):
            self.last_measured = record
        if self.current.lines >= self.stride:
            self.buckets.append(self.current)
            self.current = _Bucket()
            if len(self.buckets) > self.max_buckets:
                self.buckets = [_merged(*self.buckets[i:i + 2]) if i + 1 < len(self.buckets) else self.buckets[i]
                                for i in range(0, len(self.buckets), 2)]
                self.stride *= 2

    @property
    def thinned(self) -> bool:
        return self.stride > 1

    def records(self) -> list[Record]:
        kept = [record for bucket in [*self.buckets, self.current] for record in bucket.kept()]
        if self.last_measured is not None and not any(record is self.last_measured for record in kept):
            kept.append(self.last_measured)
            kept.sort(key=lambda record: int(record["epoch"]))
        return kept


def read_figure_log(path: Path, max_buckets: int = MAX_BUCKETS, log_every: int | None = None) -> FigureLog:
    """The log at `path` read for a figure: thinned records, exact events, the reader's problem.
    `log_every`: the run's, for the events of lines older than the cadence mark (grok_tui/run/phases.py)."""
    reader = RunLogReader(Path(path))
    thinner, phases = Thinner(max_buckets), PhaseTracker(log_every)
    for update in reader.updates():
        if update.reset:  # replaced while we read it (a resume cut it back): the new file only
            thinner, phases = Thinner(max_buckets), PhaseTracker(log_every)
        for record in update.records:
            thinner.feed(record)
            phases.feed(record)
    return FigureLog(thinner.records(), phases.events, thinner.lines, reader.problem, thinner.thinned)
