"""Smoothing of a chart's curve: TensorBoard's debiased EMA, in the axis's own units.

A loss is drawn on a log axis, so it is smoothed in log space: the EMA of log10(loss). Averaging the
raw values instead would let one spike of 10 outweigh a hundred points near 1e-6 and lift the whole
tail of the curve by decades; in log space a smoothed curve stays where the eye sees the raw one.
Accuracy and the other linear charts are smoothed as they are. Smoothing runs on the whole series
before any zoom or downsampling, so a zoomed window shows the same smoothed values as the full view.
"""

from __future__ import annotations

import numpy as np

from grok_tui.figures.series import log10_safe, smooth_ema

# The weights the `s` key steps through (0 = off); 0.6 is TensorBoard's default.
SMOOTHING_STEPS = (0.0, 0.6, 0.9)


def smooth_curve(values: np.ndarray, weight: float, log_scale: bool) -> np.ndarray:
    """The curve in axis units (log10 of the values when log_scale), smoothed by a debiased EMA.

    NaN (a line without that value, or a loss <= 0 on a log axis) is passed through and not counted.
    """
    axis_values = log10_safe(values) if log_scale else np.asarray(values, dtype=np.float64)
    return smooth_ema(axis_values, weight) if weight > 0 else axis_values


def next_smoothing(weight: float) -> float:
    """The weight after `weight` in SMOOTHING_STEPS (wrapping to off)."""
    later = [w for w in SMOOTHING_STEPS if w > weight]
    return later[0] if later else SMOOTHING_STEPS[0]
