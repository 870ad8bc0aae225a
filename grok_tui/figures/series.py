"""The numbers behind the live charts: one run's series, grown incrementally from the run log.

`RunSeries` turns `RunLogReader` updates into numpy arrays (epochs, losses, accuracies, progress
measures, ...) plus the phase events of grok_tui/run/phases.py (memorized, circuit formation, grokked) and
the latest Fourier norms of the embedding. The helpers prepare those arrays for a terminal chart:
`smooth_ema` (TensorBoard's debiased moving average), `log10_safe` and `log_ticks` (we draw log axes
ourselves, because plotext's log scale is wrong in a live widget), and `downsample_minmax` (a chart a
few hundred cells wide never needs 50,000 points, but a loss spike must survive). The TUI calls these
on its UI thread up to twice a second, so everything here is O(new records) per update or vectorized
numpy over the visible series.
Headless on purpose: numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from grok_tui.run.log import LogUpdate, Record
from grok_tui.run.phases import PhaseTracker

# Progress measures are on every measure_every-th line only; the other lines read as NaN.
MEASURE_KEYS = ("restricted_loss", "excluded_loss", "gini_embed", "gini_unembed")
SERIES_KEYS = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "lr", "elapsed_s",
               *MEASURE_KEYS)
INITIAL_CAPACITY = 1024
RATE_WINDOW_S = 30.0  # epochs/s over this much training time: recent enough to follow changes, long enough to be steady


def _number(value: Any) -> float:
    # The writer turns NaN/inf into null, and older or partial lines may lack a key: both read as NaN.
    # bool is an int subclass, but `true` is not a measurement.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


# A loss, accuracy or norm a run writes is nowhere near this; past it an axis's margins overflow to inf
# (matplotlib: "Axis limits cannot be NaN or Inf") and a value over a subnormal top of a colour scale too.
PLOT_MAX = 1e100


def plottable(values: np.ndarray, log: bool = False) -> np.ndarray:
    """A copy of `values` with what no axis can show as NaN (a gap): infinities and magnitudes past PLOT_MAX,
    and on a log axis (`log`) zero, negatives and values below 1 / PLOT_MAX (their logarithm is far off
    the axis, or none). Log lines are records of valid shape whatever numbers they hold."""
    values = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        shown = (values > 1 / PLOT_MAX) if log else np.isfinite(values)
        shown &= np.abs(values) <= PLOT_MAX
    values[~shown] = np.nan
    return values


def freq_norms_of(raw: list[Any]) -> list[float]:
    """A line's embed_freq_norms as floats: a Fourier norm is a number from 0 to PLOT_MAX, anything else
    (null, NaN, inf, negative, 1e308) reads as NaN, so no chart divides by it or scales to it."""
    return [v if 0 <= v <= PLOT_MAX else math.nan for v in map(_number, raw)]


def key_freqs_of(raw: Any, n_freqs: int) -> list[int]:
    """A line's key_freqs that are frequencies of its `n_freqs` norms (1..n_freqs), each once, in order."""
    if not isinstance(raw, list):
        return []
    return list(dict.fromkeys(k for k in raw if type(k) is int and 1 <= k <= n_freqs))


def _readonly(view: np.ndarray) -> np.ndarray:
    # Callers get views of our buffers (no copy per draw); they must not be able to write into them.
    view.flags.writeable = False
    return view


class RunSeries:
    """One run's logged numbers as growing numpy columns, appended in amortized O(1) per record.

    Buffers double in capacity when full; accessors return read-only views of the filled part, so a
    chart reads 50,000 points without copying. Records must arrive with increasing epochs (the log's
    order); anything else is ignored rather than trusted.
    """

    def __init__(self, keys: Iterable[str] = SERIES_KEYS, capacity: int = INITIAL_CAPACITY,
                 log_every: int | None = None):
        self.keys: tuple[str, ...] = tuple(keys)
        # The run's log cadence, for the phase events of lines older than the trainer's cadence mark;
        # set it (set_log_every) before the records arrive when the config is read later.
        self.log_every = log_every
        if "elapsed_s" not in self.keys or "train_acc" not in self.keys or "test_acc" not in self.keys:
            raise ValueError("keys must include train_acc, test_acc and elapsed_s (events and rate use them)")
        self._initial_capacity = max(1, int(capacity))
        # Bumped on every change and never reset, so a chart can cache derived arrays keyed on it.
        self.version = 0
        self.clear()

    def clear(self) -> None:
        # Fresh buffers rather than reusing the old ones: views handed out before stay valid and unchanged.
        cap = self._initial_capacity
        self._n = 0
        self._epochs = np.zeros(cap, dtype=np.int64)
        self._columns = {key: np.full(cap, np.nan) for key in self.keys}
        self._last: Record | None = None
        self.phases = PhaseTracker(self.log_every)
        # The latest line with progress measures (grok_tui/measures/progress_measures.py writes them all on one line).
        self.measured: Record | None = None
        # Every measurement's Fourier norms of W_E and key frequencies (the spectrogram's rows).
        self._freq_epochs: list[int] = []
        self._freq_rows: list[list[float]] = []
        self._freq_keys: list[list[int]] = []
        self._freq_cache: tuple[int, np.ndarray, np.ndarray] | None = None
        # Index where elapsed_s last went backwards (rate looks only after it), and of the last NaN elapsed_s.
        self._segment_start = 0
        self._last_elapsed_nan = -1
        self._last_finite_elapsed = -math.inf
        self.version += 1

    def __len__(self) -> int:
        return self._n

    def set_log_every(self, log_every: int | None) -> None:
        """The run's log_every (from its config), for the records fed from now on (and after a reset)."""
        self.log_every = self.phases.log_every = log_every

    @property
    def memorized_epoch(self) -> int | None:
        return self.phases.epoch_of("memorized")

    @property
    def circuit_epoch(self) -> int | None:
        return self.phases.epoch_of("circuit_formation")

    @property
    def grokked_epoch(self) -> int | None:
        return self.phases.epoch_of("grokked")

    @property
    def freq_epoch(self) -> int | None:
        """Epoch of the latest measurement."""
        return int(self.measured["epoch"]) if self.measured is not None else None

    @property
    def freq_norms(self) -> list[float] | None:
        """The embedding's Fourier norm per frequency at the latest measurement (NaN where not a number)."""
        return freq_norms_of(self.measured["embed_freq_norms"]) if self.measured is not None else None

    @property
    def key_freqs(self) -> list[int]:
        if self.measured is None:
            return []
        return key_freqs_of(self.measured.get("key_freqs"), len(self.measured["embed_freq_norms"]))

    @property
    def freq_history(self) -> tuple[np.ndarray, np.ndarray]:
        """(epochs [m], norms [m, frequencies]) of every measurement so far, NaN where not a number.

        Rows are kept only while they have the first row's length: a line of another length is not
        this run's embedding.
        """
        if self._freq_cache is None or self._freq_cache[0] != len(self._freq_rows):
            width = len(self._freq_rows[0]) if self._freq_rows else 0
            norms = np.array(self._freq_rows, dtype=np.float64).reshape(len(self._freq_rows), width)
            self._freq_cache = (len(self._freq_rows), np.array(self._freq_epochs, dtype=np.int64), norms)
        return _readonly(self._freq_cache[1]), _readonly(self._freq_cache[2])

    def key_freqs_at(self, row: int) -> list[int]:
        """The key frequencies of measurement number `row` of freq_history."""
        return list(self._freq_keys[row])

    @property
    def capacity(self) -> int:
        return len(self._epochs)

    @property
    def epochs(self) -> np.ndarray:
        return _readonly(self._epochs[: self._n])

    def values(self, key: str) -> np.ndarray:
        """The column for `key` (float64, NaN where a record lacked it); KeyError for unknown keys."""
        return _readonly(self._columns[key][: self._n])

    @property
    def last(self) -> Record | None:
        return self._last

    def _reserve(self, needed: int) -> None:
        cap = self.capacity
        if needed <= cap:
            return
        # Doubling keeps appends amortized O(1): each value is copied O(1) times on average.
        new_cap = max(needed, 2 * cap)
        epochs = np.zeros(new_cap, dtype=np.int64)
        epochs[: self._n] = self._epochs[: self._n]
        self._epochs = epochs
        for key, old in self._columns.items():
            column = np.full(new_cap, np.nan)
            column[: self._n] = old[: self._n]
            self._columns[key] = column

    def extend(self, records: list[Record]) -> bool:
        """Append records whose epoch is greater than the last stored one; True if any was added."""
        last_epoch = int(self._epochs[self._n - 1]) if self._n else -1
        accepted: list[Record] = []
        epochs: list[int] = []
        for record in records:
            epoch = record.get("epoch")
            # Defensive: the reader already drops bad lines, but duplicates or a stale record after a
            # rewrite must not make the x axis go backwards. last_epoch starts at -1, so epochs are >= 0;
            # the exact type test also rejects bool.
            if type(epoch) is int and epoch > last_epoch:
                accepted.append(record)
                epochs.append(epoch)
                last_epoch = epoch
        if not accepted:
            return False
        start, count = self._n, len(accepted)
        self._reserve(start + count)
        stop = start + count
        self._epochs[start:stop] = epochs
        for key, column in self._columns.items():
            # Most values are floats already; testing the exact type first skips a call per value.
            raw = [r.get(key) for r in accepted]
            column[start:stop] = [v if type(v) is float else _number(v) for v in raw]
        self._n = stop
        self._last = accepted[-1]
        self._update_events(accepted)
        self._update_elapsed_segments(start, stop)
        self.version += 1
        return True

    def apply(self, update: LogUpdate) -> bool:
        """Follow one `RunLogReader.poll()`: start over on reset, then append; True when the data changed."""
        changed = False
        if update.reset:
            changed = self._n > 0
            self.clear()
        return self.extend(update.records) or changed

    def _update_events(self, records: list[Record]) -> None:
        # The same detector as the trainer's events.json, fed only the new records: O(new records).
        for record in records:
            self.phases.feed(record)
            norms = record.get("embed_freq_norms")
            if isinstance(norms, list) and norms and (not self._freq_rows or len(norms) == len(self._freq_rows[0])):
                self._freq_epochs.append(int(record["epoch"]))
                self._freq_rows.append(freq_norms_of(norms))
                self._freq_keys.append(key_freqs_of(record.get("key_freqs"), len(norms)))
        self.measured = next((r for r in reversed(records) if isinstance(r.get("embed_freq_norms"), list)),
                             self.measured)

    def _update_elapsed_segments(self, start: int, stop: int) -> None:
        # elapsed_s carries across resumes, but a log pieced together from different sessions could
        # still go backwards; a rate across that jump would be nonsense, so remember where it happened.
        new = self._columns["elapsed_s"][start:stop]
        finite = np.flatnonzero(np.isfinite(new))
        if finite.size < new.size:
            self._last_elapsed_nan = start + int(np.flatnonzero(~np.isfinite(new))[-1])
        if not finite.size:
            return
        chain = np.concatenate(([self._last_finite_elapsed], new[finite]))
        drops = np.flatnonzero(np.diff(chain) < 0)
        if drops.size:
            self._segment_start = start + int(finite[drops[-1]])
        self._last_finite_elapsed = float(new[finite[-1]])

    def epochs_per_second(self, window_s: float = RATE_WINDOW_S) -> float | None:
        """Training speed over the last `window_s` seconds of elapsed_s; None when it cannot be told.

        When records are further apart than the window, the last two timed records are used instead.
        """
        lo = self._segment_start
        elapsed = self._columns["elapsed_s"][lo : self._n]
        epochs = self._epochs[lo : self._n]
        if self._last_elapsed_nan >= lo:
            # Rare (records without elapsed_s): compact to the timed records. Otherwise no copy at all.
            timed = np.isfinite(elapsed)
            elapsed, epochs = elapsed[timed], epochs[timed]
        if elapsed.size < 2:
            return None
        t_end = float(elapsed[-1])
        # elapsed is non-decreasing within the segment, so a binary search finds the window's start.
        i = int(np.searchsorted(elapsed, t_end - window_s, side="left"))
        i = min(i, elapsed.size - 2)
        dt = t_end - float(elapsed[i])
        de = int(epochs[-1]) - int(epochs[i])
        if dt <= 0 or de <= 0:
            return None
        return de / dt


def downsample_minmax(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about 2*buckets points that keep the curve's shape: per bucket, its lowest and highest y.

    Buckets are contiguous index ranges of near-equal size. Points come back in x order, the first and
    last points are always kept (so the axis range does not jump), NaNs are ignored, and a bucket with
    no number contributes nothing. Input of at most 2*buckets points is returned as it is.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1 (got {buckets})")
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length (got {x.shape} and {y.shape})")
    n = len(x)
    if n <= 2 * buckets:
        return x, y
    # Bucket b holds indexes edges[b] .. edges[b+1]-1; sizes differ by at most one. Lay them out as a
    # (buckets, width) grid, masking the padding of the shorter rows, so one argmin/argmax does all buckets.
    edges = np.arange(buckets + 1, dtype=np.int64) * n // buckets
    width = int(np.max(np.diff(edges)))
    grid = edges[:-1, None] + np.arange(width, dtype=np.int64)[None, :]
    inside = grid < edges[1:, None]
    grid = np.minimum(grid, n - 1)
    yg = y[grid].astype(np.float64, copy=False)
    valid = inside & ~np.isnan(yg)
    rows = np.arange(buckets)
    has_value = valid.any(axis=1)
    low = np.argmin(np.where(valid, yg, np.inf), axis=1)
    high = np.argmax(np.where(valid, yg, -np.inf), axis=1)
    # A row whose numbers are all +inf (or all -inf) makes argmin (argmax) land on column 0 even if
    # that is padding or NaN; take the row's first real value then.
    first_valid = valid.argmax(axis=1)
    low = np.where(valid[rows, low], low, first_valid)
    high = np.where(valid[rows, high], high, first_valid)
    picks = np.concatenate(([0, n - 1], grid[rows, low][has_value], grid[rows, high][has_value]))
    keep = np.unique(picks)  # sorted by index, hence by x for a monotonic x; a min==max bucket keeps one point
    return x[keep], y[keep]


def log10_safe(values: np.ndarray) -> np.ndarray:
    """log10 of positive values, NaN for zero, negatives and NaN (a log axis drawn by hand; see module doc)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    np.log10(values, out=out, where=values > 0)  # NaN > 0 is False, so NaN stays NaN
    return out


def log_ticks(low: float, high: float, max_ticks: int = 6) -> tuple[list[float], list[str]]:
    """Ticks for an axis holding log10 values from `low` to `high`: positions and labels like "1e-3".

    Only whole decades are used, every k-th one (a multiple of k, so ticks stay put while a live axis
    grows) to keep at most `max_ticks`. When no whole decade lies inside the range, the range's two
    ends are labelled with two significant digits ("2.5e-1") so the axis still says where it is.
    Returns ([], []) for a non-finite range.
    """
    if max_ticks < 1:
        raise ValueError(f"max_ticks must be >= 1 (got {max_ticks})")
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    low, high = min(low, high), max(low, high)
    first, last = math.ceil(low), math.floor(high)
    if first > last:
        ends = [low] if high - low < 1e-9 else [low, high]
        return ends, [_mantissa_label(v) for v in ends]
    step = -(-(last - first + 1) // max_ticks)  # ceil: k consecutive decades hold <= ceil(k/step) multiples
    decades = [d for d in range(first, last + 1) if d % step == 0]
    return [float(d) for d in decades], [f"1e{d}" for d in decades]


def linear_ticks(low: float, high: float, max_ticks: int = 5) -> tuple[list[float], list[str]]:
    """Round ticks (steps of 1, 2 or 5 times a power of ten) for an axis of epochs: whole epochs only,
    so a chart of epochs 0 and 1 is labelled 0 and 1, never 0.25 0.5 0.75."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return ([low], [f"{low:,.0f}"]) if math.isfinite(low) else ([], [])
    raw_step = (high - low) / max(1, max_ticks - 1)
    power = 10 ** math.floor(math.log10(raw_step))
    step = max(1, next(m * power for m in (1, 2, 5, 10) if m * power >= raw_step))
    first = math.ceil(low / step) * step
    ticks = [first + i * step for i in range(int((high - first) // step) + 1)]
    return ticks, [f"{t:,.0f}" for t in ticks]


def _mantissa_label(log_value: float) -> str:
    mantissa, exponent = f"{10.0 ** log_value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def smooth_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average divided by 1 - weight**n (debiased).

    Debiasing makes the first output equal the first input instead of starting near zero. n counts only
    finite inputs: a NaN or inf point is passed through as it is and does not poison the values after it.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"weight must be in [0, 1) (got {weight})")
    values = np.asarray(values, dtype=np.float64)
    if weight == 0.0:
        return values.copy()
    # A plain loop over Python floats: a recurrence does not vectorize in numpy without scipy, and this
    # runs 50,000 points in a few milliseconds; tolist() avoids per-element numpy scalar overhead.
    out = values.tolist()
    keep = 1.0 - weight
    ema, decay = 0.0, 1.0  # decay = weight**n, updated by multiplication rather than a pow per point
    isfinite = math.isfinite
    for i, value in enumerate(out):
        if isfinite(value):
            ema = ema * weight + keep * value
            decay *= weight
            out[i] = ema / (1.0 - decay)
    return np.array(out, dtype=np.float64)
