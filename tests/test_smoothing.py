"""The charts' smoothing: TensorBoard's debiased EMA, in log space on a log axis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grok_tui.figures.smoothing import SMOOTHING_STEPS, next_smoothing, smooth_curve


def debiased_ema(values: list[float], weight: float) -> list[float]:
    """The formula written out: s_i = sum_j (1-w) w^(i-j) x_j / (1 - w^(i+1)), over finite points only."""
    finite = [v for v in values if math.isfinite(v)]
    out, seen = [], 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        seen += 1
        xs = finite[:seen]
        total = sum((1 - weight) * weight ** (seen - 1 - j) * x for j, x in enumerate(xs))
        out.append(total / (1 - weight ** seen))
    return out


def test_linear_smoothing_is_the_debiased_ema() -> None:
    values = [100.0, 50.0, 75.0, math.nan, 90.0, 20.0]
    got = smooth_curve(np.array(values), 0.6, log_scale=False)
    want = debiased_ema(values, 0.6)
    assert got[0] == pytest.approx(100.0)  # debiased: starts at the first value, not near zero
    assert math.isnan(got[3])
    np.testing.assert_allclose(np.delete(got, 3), np.delete(np.array(want), 3), rtol=1e-12)


def test_log_charts_smooth_the_log_of_the_values() -> None:
    values = [4.7, 1e-2, 3e-5, 2e-7, 0.0, 5.0, 6e-8]  # 0 has no log: a gap, not counted
    got = smooth_curve(np.array(values), 0.9, log_scale=True)
    logs = [math.log10(v) if v > 0 else math.nan for v in values]
    want = debiased_ema(logs, 0.9)
    assert math.isnan(got[4])
    np.testing.assert_allclose(np.delete(got, 4), np.delete(np.array(want), 4), rtol=1e-12)
    # Not the log of a smoothed loss: the spike of 5.0 would drag the tail up by decades there.
    linear = np.log10(np.array(debiased_ema([v for v in values if v > 0], 0.9)))
    assert got[-1] < linear[-1] - 1


def test_weight_zero_is_the_raw_curve_and_the_key_cycles() -> None:
    values = np.array([1.0, 1e-3, 1e-6])
    np.testing.assert_array_equal(smooth_curve(values, 0.0, log_scale=True), np.log10(values))
    assert SMOOTHING_STEPS[0] == 0.0
    weights = [0.0]
    for _ in SMOOTHING_STEPS:
        weights.append(next_smoothing(weights[-1]))
    assert weights == [*SMOOTHING_STEPS, 0.0]
