"""Epochs to grok over several runs, counting the runs that did not grok: censored statistics.

A run that has not grokked by its last logged epoch E is *censored* at E: it groks after E, if ever.
Leaving such runs out biases every summary towards early grokking (a cell where one seed grokked at 1,230
and the other never did by 1,500 read "1,230"), and counting them at E biases it the other way. Survival
analysis has the answer: the Kaplan–Meier estimate of the fraction of runs that have grokked by each
epoch, which uses a censored run for as long as it was watched and no longer, and its median.

  fraction_grokked  the Kaplan–Meier curve, a step function: at each epoch t where d runs grokked out of
                    the n still watched (grokked at t or later, or censored at t or later), the fraction
                    not yet grokked is multiplied by 1 - d/n. With nothing censored it is the plain
                    fraction of runs that grokked by t.
  summarize         the median epoch of that curve with "k/n grokked": the first epoch where more than half
                    have grokked, or halfway between two epochs when exactly half had grokked up to the
                    first and more after it (so that with nothing censored it is the ordinary median).
                    When half or more never grok within the epochs watched, there is no median to give:
                    it is reported as "> E", E the last epoch watched.

Events and censoring times are plain numbers, so the same functions serve the training time to grok
(censored at the run's elapsed time). Exact fractions decide "half", so ties and even counts are exact.
Headless on purpose: numpy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

HALF = Fraction(1, 2)


@dataclass(frozen=True)
class Outcome:
    """One run: the time its event happened, or (happened=False) the last time it was seen without it."""

    time: float
    happened: bool

    @classmethod
    def of(cls, event: float | None, last_seen: float | None) -> "Outcome":
        """A run that had the event at `event`, or else was watched until `last_seen` (None: never, 0)."""
        if event is not None:
            return cls(float(event), True)
        return cls(float(last_seen) if last_seen is not None else 0.0, False)


@dataclass(frozen=True)
class Curve:
    """The Kaplan–Meier fraction of runs that had the event by each time, to draw as a post-step function."""

    times: np.ndarray  # float64 [k + 2]: 0, each distinct event time, then the end (the last time watched)
    fraction: np.ndarray  # float64 [k + 2]: the fraction by then (the last value repeats to the end)
    censored_times: np.ndarray  # float64 [c]: when each censored run was last seen (tick marks)
    censored_fraction: np.ndarray  # float64 [c]: the curve's value there

    def corners(self) -> tuple[np.ndarray, np.ndarray]:
        """The step function as a polyline (for a chart that draws lines between points): each rise drawn
        as a vertical segment at its time."""
        if not self.times.size:
            return self.times, self.fraction
        times = np.repeat(self.times, 2)[1:]
        fraction = np.repeat(self.fraction, 2)[:-1]
        return times, fraction


def _steps(outcomes: Sequence[Outcome]) -> list[tuple[float, Fraction]]:
    """(time, fraction with the event by then) at each distinct event time, exactly."""
    steps: list[tuple[float, Fraction]] = []
    left = Fraction(1)  # fraction without the event yet
    for time in sorted({o.time for o in outcomes if o.happened}):
        at_risk = sum(1 for o in outcomes if o.time >= time)  # censored at `time`: still watched then
        happened = sum(1 for o in outcomes if o.happened and o.time == time)
        left *= 1 - Fraction(happened, at_risk)
        steps.append((time, 1 - left))
    return steps


def fraction_grokked(outcomes: Sequence[Outcome], until: float | None = None) -> Curve:
    """The Kaplan–Meier curve of `outcomes` (empty arrays for none), drawn on to `until` when that is later
    than every outcome (the last epoch any of the runs was watched, grokked or not)."""
    if not outcomes:
        empty = np.zeros(0)
        return Curve(empty, empty, empty, empty)
    steps = _steps(outcomes)
    end = max([o.time for o in outcomes] + ([until] if until is not None else []))
    times = [0.0] + [t for t, _ in steps] + [end]
    fraction = [0.0] + [float(f) for _, f in steps]
    fraction.append(fraction[-1])
    censored = sorted(o.time for o in outcomes if not o.happened)
    at = [max((float(f) for t, f in steps if t <= time), default=0.0) for time in censored]
    return Curve(np.array(times), np.array(fraction), np.array(censored, dtype=np.float64),
                 np.array(at, dtype=np.float64))


@dataclass(frozen=True)
class Censored:
    """A censored summary over runs: the Kaplan–Meier median, or, when it is not reached, the bound."""

    median: float | None  # None: not reached (half or more had not grokked by `beyond`), or no runs
    beyond: float | None  # when the median is not reached: the last time watched ("> beyond")
    low: float | None  # earliest and latest event among the runs that had it
    high: float | None
    happened: int  # k runs had the event ...
    runs: int  # ... of n

    def text(self, fmt: Callable[[float], str], count: bool = True) -> str:
        """'1,290 (600-2,190) 3/3', '> 1,500 1/2'; '-' for no runs. count=False (a column where the event is
        secondary, such as circuit formation without progress measures) leaves out 'k/n' when all had the
        event and says '-' when none had it."""
        if self.runs == 0 or (not count and self.happened == 0):
            return "-"
        if self.median is None:
            text = f"> {fmt(self.beyond or 0.0)}"
        else:
            text = fmt(self.median)
            if self.happened > 1 and self.low is not None and self.high is not None and self.low != self.high:
                text += f" ({fmt(self.low)}-{fmt(self.high)})"
        if count or self.happened < self.runs:
            text += f" {self.happened}/{self.runs}"
        return text


def summarize(outcomes: Sequence[Outcome]) -> Censored:
    """The censored median of `outcomes` (see the module's docstring), the range of the events, k/n."""
    events = [o.time for o in outcomes if o.happened]
    low, high = (min(events), max(events)) if events else (None, None)
    if not outcomes:
        return Censored(None, None, None, None, 0, 0)
    steps = _steps(outcomes)
    for index, (time, fraction) in enumerate(steps):
        if fraction > HALF:
            exactly_half_before = index > 0 and steps[index - 1][1] == HALF
            median = (steps[index - 1][0] + time) / 2 if exactly_half_before else time
            return Censored(median, None, low, high, len(events), len(outcomes))
    return Censored(None, max(o.time for o in outcomes), low, high, len(events), len(outcomes))
