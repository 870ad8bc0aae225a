"""Chart series: incremental RunSeries, min/max downsampling, hand-made log axes, debiased smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grok_tui.run.log import LogUpdate, RunLogReader, RunLogWriter, cut_back, read_log
from grok_tui.run.summary import first_epoch_reaching
from grok_tui.figures.series import SERIES_KEYS, RunSeries, downsample_minmax, log10_safe, log_ticks, smooth_ema


def _records(n: int, every: int = 1, start: int = 0) -> list[dict]:
    """A grokking-shaped log: train accuracy rises early, test accuracy late, one missing test_loss."""
    out = []
    for i in range(n):
        epoch = start + i * every
        out.append({
            "epoch": epoch,
            "train_loss": 2.0 / (epoch + 1),
            "test_loss": None if i == 3 else 3.0 / (epoch + 1) ** 0.5,
            "train_acc": min(1.0, epoch / 40),
            "test_acc": min(1.0, epoch / 400),
            "lr": 1e-3,
            "weight_norm": 30.0 - epoch * 0.01,
            "elapsed_s": epoch * 0.05,
        })
    return out


def _same(a: RunSeries, b: RunSeries) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.epochs, b.epochs)
    for key in SERIES_KEYS:
        np.testing.assert_array_equal(a.values(key), b.values(key))  # NaN == NaN here
    assert (a.memorized_epoch, a.grokked_epoch) == (b.memorized_epoch, b.grokked_epoch)
    assert a.last == b.last


# ---------------------------------------------------------------- RunSeries


def test_incremental_extend_equals_one_shot_and_grows_past_capacity() -> None:
    records = _records(700, every=2)
    whole = RunSeries(capacity=4)
    assert whole.extend(records)
    parts = RunSeries(capacity=4)
    for lo in range(0, len(records), 37):
        assert parts.extend(records[lo:lo + 37])
    assert parts.capacity >= 700 > 4
    _same(whole, parts)
    np.testing.assert_array_equal(parts.epochs, [r["epoch"] for r in records])
    np.testing.assert_allclose(parts.values("train_loss"), [r["train_loss"] for r in records])
    assert parts.last == records[-1]


def test_views_are_read_only_and_survive_growth_and_clear() -> None:
    series = RunSeries(capacity=2)
    series.extend(_records(2))
    before = series.values("train_loss")
    with pytest.raises(ValueError):
        before[0] = 99.0
    series.extend(_records(10, start=5))  # forces a reallocation
    series.clear()
    series.extend(_records(2, start=100))
    np.testing.assert_allclose(before, [2.0, 1.0])  # an old view is not overwritten by later data


def test_out_of_order_duplicate_and_invalid_epochs_are_ignored() -> None:
    series = RunSeries()
    assert series.extend([{"epoch": 5, "train_loss": 1.0}, {"epoch": 5, "train_loss": 2.0},
                          {"epoch": 3, "train_loss": 3.0}, {"epoch": 7, "train_loss": 4.0}])
    assert not series.extend([{"epoch": 7}, {"epoch": 6}, {"epoch": True}, {"epoch": "9"}, {"train_loss": 1.0}])
    assert not series.extend([])
    np.testing.assert_array_equal(series.epochs, [5, 7])
    np.testing.assert_array_equal(series.values("train_loss"), [1.0, 4.0])
    assert series.last == {"epoch": 7, "train_loss": 4.0}


def test_missing_null_and_non_numbers_become_nan() -> None:
    series = RunSeries()
    series.extend([{"epoch": 0, "train_loss": None, "test_loss": "x", "train_acc": True, "lr": 1}])
    for key in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "elapsed_s"):
        assert math.isnan(series.values(key)[0]), key
    assert series.values("lr")[0] == 1.0
    assert series.values("lr").dtype == np.float64
    with pytest.raises(KeyError):
        series.values("nope")


def test_extra_keys_such_as_progress_measures() -> None:
    series = RunSeries(keys=SERIES_KEYS + ("gini",))
    series.extend([{"epoch": 0}, {"epoch": 10, "gini": 0.25}])
    assert np.isnan(series.values("gini")[0]) and series.values("gini")[1] == 0.25
    with pytest.raises(ValueError):
        RunSeries(keys=("train_loss",))  # events and speed need their columns


def test_events_incremental_equal_full_scan() -> None:
    rng = np.random.default_rng(1)
    records = _records(600)
    for r in records:  # noisy accuracies that cross the threshold, dip back and cross again
        r["train_acc"] = float(min(1.0, r["epoch"] / 50 + rng.normal(0, 0.05)))
        r["test_acc"] = None if r["epoch"] % 7 == 0 else float(min(1.0, r["epoch"] / 500 + rng.normal(0, 0.05)))
    series = RunSeries()
    lo = 0
    for size in rng.integers(1, 30, size=200):
        series.extend(records[lo:lo + int(size)])
        lo += int(size)
        seen = records[:lo]
        assert series.memorized_epoch == first_epoch_reaching(seen, "train_acc")
        assert series.grokked_epoch == first_epoch_reaching(seen, "test_acc")
    assert series.memorized_epoch is not None and series.grokked_epoch is not None
    assert series.memorized_epoch < series.grokked_epoch


def test_apply_reset_clears_everything() -> None:
    series = RunSeries()
    assert series.apply(LogUpdate(_records(100)))
    assert series.grokked_epoch is None and series.memorized_epoch == 40
    series.extend([{"epoch": 500, "test_acc": 1.0, "elapsed_s": 1.0}])
    assert series.grokked_epoch == 500
    version = series.version
    assert series.apply(LogUpdate([], reset=True))
    assert series.version > version
    assert len(series) == 0 and series.last is None
    assert series.memorized_epoch is None and series.grokked_epoch is None
    assert series.epochs.size == 0 and series.values("test_acc").size == 0
    assert series.epochs_per_second() is None
    assert not series.apply(LogUpdate([], reset=True))  # nothing to clear, nothing added
    assert not series.apply(LogUpdate([]))
    # After a reset, lower epochs are accepted again (the log was cut back).
    assert series.apply(LogUpdate(_records(3), reset=True))
    np.testing.assert_array_equal(series.epochs, [0, 1, 2])


def test_epochs_per_second_uses_the_recent_window() -> None:
    series = RunSeries()
    assert series.epochs_per_second() is None
    series.extend([{"epoch": 0, "elapsed_s": 0.0}])
    assert series.epochs_per_second() is None  # one point: no rate yet
    # 10 epochs/s for 100 s, then 50 epochs/s for 60 s: the last 30 s see only the new speed.
    records = [{"epoch": 10 * t, "elapsed_s": float(t)} for t in range(1, 101)]
    records += [{"epoch": 1000 + 50 * t, "elapsed_s": 100.0 + t} for t in range(1, 61)]
    series.extend(records)
    assert series.epochs_per_second() == pytest.approx(50.0)
    assert series.epochs_per_second(window_s=1000) == pytest.approx(4000 / 160)
    # Records further apart than the window: the last two timed ones are used.
    sparse = RunSeries()
    sparse.extend([{"epoch": 0, "elapsed_s": 0.0}, {"epoch": 100, "elapsed_s": 50.0},
                   {"epoch": 200, "elapsed_s": 150.0}, {"epoch": 300}])
    assert sparse.epochs_per_second() == pytest.approx(1.0)
    # elapsed_s going backwards (logs of two sessions): only the part after the jump counts.
    jumped = RunSeries()
    jumped.extend([{"epoch": e, "elapsed_s": e * 1.0} for e in range(0, 50)])
    jumped.extend([{"epoch": 50 + e, "elapsed_s": e * 0.5} for e in range(0, 10)])
    assert jumped.epochs_per_second() == pytest.approx(2.0)


def test_series_from_a_real_log_file_through_the_reader(tmp_path) -> None:
    path = tmp_path / "training_log.jsonl"
    records = _records(300, every=10)
    records[5]["train_loss"] = float("nan")  # written as null
    records[6]["measure"] = 0.5  # an extra key on some lines, as progress measures add
    with RunLogWriter(path) as writer:
        for r in records[:200]:
            writer.write(r)
        reader, live = RunLogReader(path), RunSeries()
        changed = [live.apply(reader.poll(max_bytes=4096)) for _ in range(40)]  # partial lines included
        assert any(changed) and not changed[-1]
        for r in records[200:]:
            writer.write(r)
        assert live.apply(reader.poll())

    direct = RunSeries()
    direct.extend(read_log(path))
    _same(live, direct)
    np.testing.assert_array_equal(live.epochs, [r["epoch"] for r in records])
    expected_loss = [np.nan if r["train_loss"] is None else r["train_loss"] for r in records]
    np.testing.assert_allclose(live.values("train_loss"), expected_loss)
    assert math.isnan(live.values("train_loss")[5]) and math.isnan(live.values("test_loss")[3])
    assert live.grokked_epoch == first_epoch_reaching(records, "test_acc") == 400

    cut_back(path, 1000)  # resume: the file is replaced, the reader reports a reset
    assert live.apply(reader.poll())
    np.testing.assert_array_equal(live.epochs, np.arange(0, 1001, 10))
    assert live.grokked_epoch == 400


# ---------------------------------------------------------------- downsample_minmax


def _reference_minmax(y: np.ndarray, buckets: int) -> np.ndarray:
    """The indexes downsample_minmax should keep, by a plain loop over the same buckets."""
    n = len(y)
    edges = [b * n // buckets for b in range(buckets + 1)]
    keep = {0, n - 1}
    for lo, hi in zip(edges[:-1], edges[1:]):
        numbers = np.flatnonzero(~np.isnan(y[lo:hi]))  # not nanargmin: it can pick a NaN beside infs
        if numbers.size:
            keep.add(lo + int(numbers[np.argmin(y[lo:hi][numbers])]))
            keep.add(lo + int(numbers[np.argmax(y[lo:hi][numbers])]))
    return np.array(sorted(keep))


def test_downsample_keeps_a_spike_and_the_extremes() -> None:
    rng = np.random.default_rng(0)
    n, buckets = 50_000, 120
    x = np.arange(n, dtype=np.float64) + 1
    y = 1.0 + rng.random(n)
    y[31_337] = 1000.0
    y[7] = 0.001
    dx, dy = downsample_minmax(x, y, buckets)
    assert len(dx) == len(dy) <= 2 * buckets + 2
    assert np.all(np.diff(dx) > 0)
    assert dx[0] == x[0] and dx[-1] == x[-1]
    assert 1000.0 in dy and dy.max() == y.max() and dy.min() == y.min()
    np.testing.assert_array_equal(dx - 1, _reference_minmax(y, buckets))


def test_downsample_short_input_unchanged_and_bad_arguments() -> None:
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    dx, dy = downsample_minmax(x, y, 5)
    assert dx is x and dy is y
    assert len(downsample_minmax(np.arange(11.0), np.arange(11.0), 5)[0]) <= 12
    with pytest.raises(ValueError):
        downsample_minmax(x, y[:-1], 3)
    with pytest.raises(ValueError):
        downsample_minmax(x, y, 0)


def test_downsample_with_nans_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(3)
    for n, buckets in [(1000, 7), (1001, 120), (5003, 64), (250, 100)]:
        y = rng.normal(size=n)
        y[rng.random(n) < 0.3] = np.nan
        y[n // 2: n // 2 + 3 * n // buckets] = np.nan  # at least one whole bucket is NaN
        y[-5:] = np.inf  # an all-inf tail bucket must keep a real point, not padding
        x = np.arange(n) * 0.5
        dx, dy = downsample_minmax(x, y, buckets)
        np.testing.assert_array_equal(dx, _reference_minmax(y, buckets) * 0.5)
        assert np.isnan(dy[1:-1]).sum() == 0  # NaNs are never picked, except maybe the kept end points
    # Buckets of only NaN and +inf (or -inf) must keep an infinite point, never the NaN in front of it.
    y = np.array([1.0, 3.0, 2.0, np.nan, np.inf, np.inf, np.nan, -np.inf, -np.inf])
    dx, _ = downsample_minmax(np.arange(9.0), y, 3)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 4.0, 7.0, 8.0])
    y = np.full(1000, np.nan)
    dx, dy = downsample_minmax(np.arange(1000.0), y, 10)
    np.testing.assert_array_equal(dx, [0.0, 999.0])  # only the ends when nothing is a number


# ---------------------------------------------------------------- log axes


def test_log10_safe() -> None:
    out = log10_safe(np.array([100.0, 1e-3, 0.0, -5.0, np.nan, np.inf]))
    np.testing.assert_allclose(out[:2], [2.0, -3.0])
    assert np.isnan(out[2:5]).all() and out[5] == np.inf
    np.testing.assert_allclose(log10_safe(np.array([1, 10])), [0.0, 1.0])  # integers too


def test_log_ticks_decades_and_thinning() -> None:
    ticks, labels = log_ticks(-7.0, 1.0)
    assert len(ticks) <= 6 and labels == ["1e-6", "1e-4", "1e-2", "1e0"]
    assert ticks == [-6.0, -4.0, -2.0, 0.0]
    assert log_ticks(-3.0, 2.0, max_ticks=6) == ([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0],
                                                  ["1e-3", "1e-2", "1e-1", "1e0", "1e1", "1e2"])
    assert log_ticks(1.0, -2.5)[1] == ["1e-2", "1e-1", "1e0", "1e1"]  # reversed range
    for low, high, most in [(-30.2, 4.9, 6), (-5, 5, 3), (0, 100, 1)]:
        ticks, labels = log_ticks(low, high, most)
        assert 1 <= len(ticks) <= most and all(low <= t <= high for t in ticks)


def test_log_ticks_tiny_span_still_has_a_tick() -> None:
    assert log_ticks(-0.2, 0.3) == ([0.0], ["1e0"])  # under a decade but holding one
    ticks, labels = log_ticks(0.2, 0.5)  # 1.6 .. 3.2: no whole decade inside
    assert ticks == [0.2, 0.5] and labels == ["1.6e0", "3.2e0"]
    ticks, labels = log_ticks(-2.6, -2.6)
    assert ticks == [-2.6] and labels == ["2.5e-3"]
    assert log_ticks(math.nan, 1.0) == ([], [])


# ---------------------------------------------------------------- smoothing


def test_smooth_ema_debiased() -> None:
    values = np.array([4.0, 2.0, 2.0, 8.0])
    out = smooth_ema(values, 0.6)
    assert out[0] == 4.0  # debiasing: no pull towards zero at the start
    expected, ema = [], 0.0
    for n, v in enumerate(values, start=1):
        ema = 0.6 * ema + 0.4 * v
        expected.append(ema / (1 - 0.6 ** n))
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(smooth_ema(np.full(1000, 3.5), 0.99), 3.5, rtol=1e-12)
    copy = smooth_ema(values, 0.0)
    np.testing.assert_array_equal(copy, values)
    assert copy is not values
    with pytest.raises(ValueError):
        smooth_ema(values, 1.0)


def test_smooth_ema_skips_nan() -> None:
    out = smooth_ema(np.array([1.0, np.nan, 1.0, 1.0, np.inf, 1.0]), 0.9)
    assert np.isnan(out[1]) and out[4] == np.inf
    np.testing.assert_allclose(out[[0, 2, 3, 5]], 1.0)  # the gap neither poisons nor biases later points
    ramp = smooth_ema(np.array([0.0, np.nan, 10.0]), 0.5)
    np.testing.assert_allclose(ramp[2], (0.5 * 10.0) / (1 - 0.25))  # n counts finite inputs only
