"""Axis ticks for the terminal charts: round numbers, y axes whose tick labels sit on text rows of
exactly their value (row_axis), a log axis that has a tick under the data, and frequency ticks that
name every key frequency.

plotext picks its own ticks from the data's exact range (`1.81 1.51 1.21 ...` on a 0-1.81 axis) and
drops a tick label that would overlap its neighbour (key frequencies 5 and 6 one column apart lose
one of them), so the charts set every tick themselves with these helpers.
Headless: the standard library only, so it is tested without a terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Ticks = tuple[list[float], list[str]]


def round_step(span: float, max_ticks: int) -> float:
    """The smallest step of 1, 2 or 5 times a power of ten that covers `span` in at most max_ticks-1 steps."""
    raw = span / max(1, max_ticks - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def round_ticks(low: float, high: float, max_ticks: int = 5) -> Ticks:
    """Ticks at round values (steps of 1, 2 or 5 x 10^k) inside [low, high], labelled with as many
    decimals as the step needs: 0 .. 1.81 gives 0.0 0.5 1.0 1.5, never 1.81 1.51 1.21."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    low, high = min(low, high), max(low, high)
    if high - low < 1e-12:
        return [low], [f"{low:g}"]
    step = round_step(high - low, max_ticks)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first = math.ceil(low / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
    return ticks, [f"{t:.{decimals}f}" for t in ticks]


MIN_FILLED = 0.8  # the least share of a chart's rows an axis layout may leave to the data


def row_axis(low: float, high: float, rows: int, spare_rows: int = 0, max_ticks: int = 5,
             log: bool = False) -> tuple[list[float], list[str], float, float] | None:
    """Limits and ticks for a y axis drawn on `rows` text rows on which every tick label sits on a row
    of exactly its value: (ticks, labels, axis low, axis top), or None when there are too few rows.

    plotext puts row i at low + i * (top - low) / (rows - 1) and each tick label on the nearest row,
    so a tick between rows is labelled a row off: 0-100% on three rows put "25" on the 50% row, and
    "100" one row above the curves at 100%. Here ticks are round (1, 2, 2.5 or 5 x 10^k; whole decades
    for log10 values) and a whole number of rows apart, the axis starts on a tick, the data fits under
    the top `spare_rows` rows (kept for the phase labels). Of the layouts with 2 to max_ticks ticks
    whose data fills at least MIN_FILLED of the rows, the one with most ticks wins (then the fuller).
    """
    if not (math.isfinite(low) and math.isfinite(high)) or rows - 1 - spare_rows < 1:
        return None
    low, high = min(low, high), max(low, high)
    data_steps = rows - 1 - spare_rows
    span = max(high - low, 1e-12)
    if log:
        steps = [float(d) for d in range(1, math.ceil(span) + 2)]
    else:
        power = 10.0 ** math.floor(math.log10(span / max(2, max_ticks)))
        steps = [m * power * 10**e for e in range(3) for m in (1, 2, 2.5, 5)]
    best: tuple[tuple[bool, int, float], float, float, int, float] | None = None  # score, step, low, n, row
    for step in steps:
        axis_low = step * math.floor(low / step + 1e-9)
        # The most rows between two ticks (the finest rows) with which the data still fits.
        per_tick = math.floor(data_steps * step / max(high - axis_low, 1e-12) + 1e-9)
        if per_tick < 1:
            continue
        spacing = step / per_tick
        data_rows = min(data_steps, math.ceil((high - axis_low) / spacing - 1e-9))
        intervals = data_rows // per_tick
        if not 1 <= intervals <= max(1, max_ticks - 1):
            continue
        filled = span / (spacing * data_steps)  # the spare rows are not waste
        score = (filled >= MIN_FILLED, intervals, filled)
        if best is None or score > best[0]:
            best = (score, step, axis_low, intervals, spacing)
    if log and (best is None or not best[0][0]):
        return log_rows(low, high, rows, data_steps, max_ticks)
    if best is None:
        return None
    _, step, axis_low, intervals, spacing = best
    ticks = [axis_low + step * i for i in range(intervals + 1)]
    if log:
        labels = [f"1e{round(t)}" for t in ticks]
    else:
        decimals = next(d for d in range(12) if abs(round(step, d) - step) <= 1e-9 * step)
        labels = [f"{t:.{decimals}f}" for t in ticks]
    return ticks, labels, axis_low, axis_low + spacing * (rows - 1)


def log_rows(low: float, high: float, rows: int, data_steps: int,
             max_ticks: int) -> tuple[list[float], list[str], float, float]:
    """A log10 axis from the decade under `low` whose data rows end at `high`, every k-th row labelled
    with its own value to one digit ("3e-5"): decades a whole number of rows apart would leave much of
    the chart empty."""
    axis_low = float(math.floor(low))
    spacing = max(high - axis_low, 1e-9) / data_steps
    every = next(k for k in range(1, data_steps + 1) if data_steps // k + 1 <= max(2, max_ticks))
    ticks = [axis_low + spacing * row for row in range(0, data_steps + 1, every)]
    return ticks, [one_digit_label(t) for t in ticks], axis_low, axis_low + spacing * (rows - 1)


def one_digit_label(log_value: float) -> str:
    mantissa, exponent = f"{10.0 ** log_value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def log_axis(low: float, high: float, max_ticks: int = 6) -> tuple[list[float], list[str], float, float]:
    """Ticks and limits for an axis of log10 values: (ticks, labels like "1e-6", axis low, axis high).

    Ticks are whole decades, every k-th one (multiples of k, so they stay put while a live axis grows).
    The axis is extended down to the tick at or below the lowest value, so the bottom of the curve is
    always labelled (data down to 6e-8 gets a 1e-8 tick rather than ending under 1e-6). A range under
    half a decade with no decade inside is left as it is, its two ends labelled ("2.5e-1").
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], [], 0.0, 1.0
    low, high = min(low, high), max(low, high)
    if math.ceil(low) > math.floor(high) and high - low < 0.5:
        ends = [low] if high - low < 1e-9 else [low, high]
        return ends, [mantissa_label(v) for v in ends], low, max(high, low + 1e-9)
    step = 1
    while True:  # the smallest k whose multiples from under the data to its top are few enough
        bottom = step * math.floor(low / step)
        decades = list(range(bottom, math.floor(high) + 1, step))
        if len(decades) <= max(1, max_ticks):
            break
        step += 1
    return [float(d) for d in decades], [f"1e{d}" for d in decades], float(bottom), max(high, bottom + 1e-9)


def mantissa_label(log_value: float) -> str:
    mantissa, exponent = f"{10.0 ** log_value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def frequency_ticks(keys: Sequence[int], n_freqs: int, plot_cols: int) -> Ticks:
    """Ticks for a chart of frequencies 1..n_freqs drawn `plot_cols` columns wide that name every key.

    plotext centres a label on its tick and drops one that would touch its neighbour, so keys closer
    than their labels are wide share one label at their mean ("5,6"), merged until no two labels touch.
    Without key frequencies: round ticks over 1..n_freqs.
    """
    keys = sorted({k for k in keys if 1 <= k <= n_freqs})
    if not keys:
        ticks, _ = round_ticks(1, n_freqs, max_ticks=6)
        whole = [t for t in ticks if t >= 1]
        return whole, [str(int(t)) for t in whole]
    cols_per_freq = max(plot_cols, 1) / max(n_freqs, 1)
    groups: list[list[int]] = [[k] for k in keys]
    merged = True
    while merged and len(groups) > 1:
        merged = False
        for i in range(len(groups) - 1):
            left, right = groups[i], groups[i + 1]
            gap = (_centre(right) - _centre(left)) * cols_per_freq
            # Half of each label lies on either side of its centre; one blank column must stay between.
            if gap < (len(_label(left)) + len(_label(right))) / 2 + 1:
                groups[i : i + 2] = [left + right]
                merged = True
                break
    return [_centre(g) for g in groups], [_label(g) for g in groups]


def _centre(group: list[int]) -> float:
    return sum(group) / len(group)


def _label(group: list[int]) -> str:
    return ",".join(str(k) for k in group)


def spaced_labels(ticks: Ticks, low: float, high: float, chart_width: int, y_label_width: int) -> Ticks:
    """Every k-th tick, k as small as lets plotext draw the labels the same in any order, on the x axis
    of a framed plotext chart `chart_width` cells wide whose y labels are `y_label_width` wide.

    plotext dedups the ticks through a set of (tick, label) pairs, so it draws them in an order set by
    the string hash seed of the process (PYTHONHASHSEED), and each label both moves away from labels
    already drawn near it and is dropped where it would touch one: the same chart drew "1,000 2,000" in
    one run and "1,000 3,000" in the next. Labels far enough apart that neither lies in the stretch
    plotext searches to place the other land where each would alone. Every k-th, not the first that
    fit: the ticks stay evenly spaced.
    """
    positions, labels = ticks
    # plotext's layout: the y labels, the frame's left side, the plot area, the frame's right side
    canvas_start = y_label_width + 1
    canvas_cols = chart_width - y_label_width - 2
    if canvas_cols < 2 or not high > low or len(positions) < 2:
        return list(positions), list(labels)
    row_cols = chart_width
    placed = []  # per tick: the stretch plotext searches and the cells the label takes, or None if dropped
    for position, label in zip(positions, labels):
        length = len(label)
        # plotext's column for a value (utility.get_matrix_data), then the stretch around it that it
        # searches and the start it picks on an empty row (utility.correct_coord)
        column = canvas_start + math.floor(round(0.5 + (canvas_cols - 1) * (position - low) / (high - low), 8))
        search_start, search_end = max(column - length + 1, 0), min(column + length, row_cols - 1)
        start = (search_start + search_end - length) // 2
        inside = start >= 0 and start + length <= row_cols  # else plotext drops it even alone
        placed.append((search_start, search_end, start, start + length - 1) if inside else None)

    def apart(left: tuple[int, int, int, int], right: tuple[int, int, int, int]) -> bool:
        # a blank cell between the left label and the right one's stretch, none of the right one's
        # cells in the left one's stretch (which ends before search_end)
        return left[3] + 1 < right[0] and right[2] >= left[1]

    for step in range(1, len(positions) + 1):
        chosen = list(range(0, len(positions), step))
        spots = [placed[i] for i in chosen]
        if all(spot is not None for spot in spots) and all(
                apart(a, b) for a, b in zip(spots, spots[1:])):  # type: ignore[arg-type]
            return [positions[i] for i in chosen], [labels[i] for i in chosen]
    return [], []
