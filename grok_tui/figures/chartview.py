"""What the live charts show of a run: the x scale, smoothing, legend, the epoch cursor and the zoom.

One frozen `ChartView` is shared by every chart of the live view, so the loss and accuracy charts (and
the measures view) always show the same epochs, and a chart can use the view as part of its cache key.
The cursor sits on a logged epoch; ←/→ move it one chart column (one record with shift), and moving
it past the edge of a zoomed window pans the window. Zoom works in the axis's own coordinates (log10
of epoch + 1 on a log-x chart), keeping the cursor (or the window's middle) where it is on screen.
Headless: numpy and the standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

MIN_ZOOM_RECORDS = 5  # a window narrower than this many logged epochs shows no curve worth reading
ZOOM_FACTOR = 0.5


@dataclass(frozen=True)
class ChartView:
    log_x: bool = False
    smoothing: float = 0.0  # EMA weight, 0 = off (grok_tui/figures/smoothing.py)
    legend: bool = True
    cursor: int | None = None  # a logged epoch, or None when the cursor is off
    zoom: tuple[float, float] | None = None  # the epochs shown, or None for all of them


def to_axis(epochs: np.ndarray | float, log_x: bool) -> np.ndarray:
    values = np.asarray(epochs, dtype=np.float64)
    return np.log10(values + 1.0) if log_x else values


def from_axis(x: float, log_x: bool) -> float:
    return 10.0 ** x - 1.0 if log_x else x


def window(epochs: np.ndarray, view: ChartView) -> tuple[float, float] | None:
    """The epochs the charts show: the zoom, or the whole log; None when there is no record."""
    if not len(epochs):
        return None
    if view.zoom is not None:
        return view.zoom
    return float(epochs[0]), float(epochs[-1])


def cursor_index(epochs: np.ndarray, view: ChartView) -> int | None:
    """Index of the record under the cursor: the last logged epoch at or before it (a resume may have
    cut the log back under it)."""
    if view.cursor is None or not len(epochs):
        return None
    return max(0, int(np.searchsorted(epochs, view.cursor, side="right")) - 1)


def show_cursor(epochs: np.ndarray, view: ChartView) -> ChartView:
    """The cursor on, at the latest epoch inside the window (or where it was)."""
    if not len(epochs):
        return view
    if view.cursor is not None:
        return view
    lo, hi = window(epochs, view) or (0.0, 0.0)
    inside = np.flatnonzero((epochs >= lo) & (epochs <= hi))
    index = int(inside[-1]) if inside.size else len(epochs) - 1
    return replace(view, cursor=int(epochs[index]))


def move_cursor(epochs: np.ndarray, view: ChartView, steps: int, cols: int, by_record: bool = False) -> ChartView:
    """The cursor moved `steps` chart columns (or records) to the right (negative: left).

    A column is 1/cols of the window on the axis; the cursor always moves at least one record, stops at
    the ends of the log, and pans a zoomed window to stay inside it.
    """
    view = show_cursor(epochs, view)
    index = cursor_index(epochs, view)
    if index is None or steps == 0:
        return view
    n = len(epochs)
    if by_record:
        target = index + steps
    else:
        lo, hi = window(epochs, view) or (0.0, 0.0)
        x = to_axis(epochs, view.log_x)
        a_lo, a_hi = float(to_axis(lo, view.log_x)), float(to_axis(hi, view.log_x))
        goal = float(x[index]) + steps * (a_hi - a_lo) / max(1, cols)
        # The first record at or past the goal (rightwards) / at or before it (leftwards), and one at least.
        if steps > 0:
            target = max(index + 1, int(np.searchsorted(x, goal - 1e-12, side="left")))
        else:
            target = min(index - 1, int(np.searchsorted(x, goal + 1e-12, side="right")) - 1)
    target = min(max(target, 0), n - 1)
    return _pan_to_cursor(epochs, replace(view, cursor=int(epochs[target])))


def cursor_to_end(epochs: np.ndarray, view: ChartView, last: bool) -> ChartView:
    """Home / End: the cursor on the first or last epoch of the window (of the log when not zoomed)."""
    if not len(epochs):
        return view
    lo, hi = window(epochs, view) or (0.0, 0.0)
    inside = np.flatnonzero((epochs >= lo) & (epochs <= hi))
    if not inside.size:
        inside = np.arange(len(epochs))
    return replace(view, cursor=int(epochs[inside[-1] if last else inside[0]]))


def _pan_to_cursor(epochs: np.ndarray, view: ChartView) -> ChartView:
    if view.zoom is None or view.cursor is None:
        return view
    lo, hi = view.zoom
    if lo <= view.cursor <= hi:
        return view
    a_lo, a_hi = float(to_axis(lo, view.log_x)), float(to_axis(hi, view.log_x))
    c = float(to_axis(view.cursor, view.log_x))
    shift = c - a_hi if c > a_hi else c - a_lo
    return replace(view, zoom=_clamped(epochs, view.log_x, a_lo + shift, a_hi + shift))


def zoom(epochs: np.ndarray, view: ChartView, factor: float) -> ChartView:
    """The window narrowed (factor < 1) or widened (factor > 1) around the cursor, or its middle.

    The point zoomed around keeps its place on screen. Narrowing stops at MIN_ZOOM_RECORDS records;
    widening to the whole log turns the zoom off, so the charts follow a live run again.
    """
    if len(epochs) < 2:
        return view
    lo, hi = window(epochs, view) or (0.0, 0.0)
    a_lo, a_hi = float(to_axis(lo, view.log_x)), float(to_axis(hi, view.log_x))
    x = to_axis(epochs, view.log_x)
    full_lo, full_hi = float(x[0]), float(x[-1])
    centre = float(to_axis(view.cursor, view.log_x)) if view.cursor is not None else (a_lo + a_hi) / 2
    centre = min(max(centre, a_lo), a_hi)
    new_lo = centre - (centre - a_lo) * factor
    new_hi = new_lo + (a_hi - a_lo) * factor
    if new_hi - new_lo >= (full_hi - full_lo) * (1 - 1e-9):
        return replace(view, zoom=None)
    zoomed = _clamped(epochs, view.log_x, new_lo, new_hi)
    inside = int(np.count_nonzero((epochs >= zoomed[0]) & (epochs <= zoomed[1])))
    if factor < 1 and inside < MIN_ZOOM_RECORDS:
        return view
    return replace(view, zoom=zoomed)


def _clamped(epochs: np.ndarray, log_x: bool, a_lo: float, a_hi: float) -> tuple[float, float]:
    """An axis window shifted inside the log's range, as epochs."""
    x = to_axis(epochs, log_x)
    full_lo, full_hi = float(x[0]), float(x[-1])
    span = min(a_hi - a_lo, full_hi - full_lo)
    a_lo = min(max(a_lo, full_lo), full_hi - span)
    lo, hi = from_axis(a_lo, log_x), from_axis(a_lo + span, log_x)
    # Round to whole epochs outward only by float noise: a window edge on a logged epoch keeps it.
    return (max(float(epochs[0]), _snap(lo)), min(float(epochs[-1]), _snap(hi)))


def _snap(value: float) -> float:
    nearest = round(value)
    return float(nearest) if math.isclose(value, nearest, abs_tol=1e-6) else value
