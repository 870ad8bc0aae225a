"""Tick values of the live charts: round numbers, a log tick under the data, every key frequency named."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from unittest import mock

import plotext._figure
import plotext._utility
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grok_tui.figures.axes import Ticks, frequency_ticks, log_axis, round_ticks, spaced_labels
from grok_tui.figures.series import linear_ticks, log_ticks


def test_round_ticks_are_round_numbers_not_fractions_of_the_range() -> None:
    # The Gini/weight chart's axis 0..1.81 used to read 1.81 1.51 1.21 0.91 0.60 0.30.
    assert round_ticks(0, 1.81, max_ticks=5) == ([0.0, 0.5, 1.0, 1.5], ["0.0", "0.5", "1.0", "1.5"])
    assert round_ticks(0, 1.0, max_ticks=6) == ([0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0],
                                                ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    assert round_ticks(0, 550, max_ticks=4)[1] == ["0", "200", "400"]


@pytest.mark.parametrize("low, high, most", [(0, 1.81, 5), (0.013, 0.92, 4), (-3, 17, 6), (0, 1e-3, 5), (2, 3, 2)])
def test_round_ticks_stay_inside_the_range_on_multiples_of_one_two_or_five(low: float, high: float, most: int) -> None:
    ticks, labels = round_ticks(low, high, most)
    assert 1 <= len(ticks) <= most and len(labels) == len(ticks)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else None
    assert all(low - 1e-9 <= t <= high + 1e-9 for t in ticks)
    if step is not None:
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6
        assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks)
    assert all(float(label) == pytest.approx(t, abs=step or 1) for t, label in zip(ticks, labels))


def test_log_axis_has_a_tick_at_or_below_the_lowest_value() -> None:
    # Train loss down to 6e-8 (log10 -7.2) from 4.7: the lowest tick used to be 1e-6.
    ticks, labels, low, high = log_axis(math.log10(6e-8), math.log10(4.7), max_ticks=6)
    assert ticks[0] <= math.log10(6e-8) and low == ticks[0] and labels[0] == f"1e{int(ticks[0])}"
    assert high == pytest.approx(math.log10(4.7)) and len(ticks) <= 6
    assert all(label.startswith("1e") for label in labels)
    # Every k-th decade, on multiples of k, whatever the range.
    for lo, hi, most in ((-9.3, 0.7, 4), (-2.2, 0.1, 6), (-13.0, 1.0, 3)):
        ticks, _, low, _ = log_axis(lo, hi, most)
        assert ticks[0] <= lo and len(ticks) <= most
        steps = {b - a for a, b in zip(ticks, ticks[1:])}
        assert len(steps) <= 1 and all(t % (steps.pop() if steps else 1) == 0 for t in ticks)


def test_log_axis_of_a_narrow_range_labels_its_ends() -> None:
    ticks, labels, low, high = log_axis(math.log10(0.25), math.log10(0.3))
    assert labels == ["2.5e-1", "3.0e-1"] and low == pytest.approx(math.log10(0.25))


def test_frequency_ticks_name_every_key_frequency_even_adjacent_ones() -> None:
    # Keys 5, 6, 22 of 23 frequencies, 20 columns wide: 5 and 6 are one column apart.
    positions, labels = frequency_ticks([22, 5, 6], n_freqs=23, plot_cols=20)
    named = {int(k) for label in labels for k in label.split(",")}
    assert named == {5, 6, 22}
    assert labels == ["5,6", "22"] and positions == [5.5, 22.0]
    # Wide enough, each key has its own label; no two labels ever touch.
    assert frequency_ticks([5, 6, 22], 23, 200) == ([5.0, 6.0, 22.0], ["5", "6", "22"])
    for keys, cols in (([14, 35, 41, 42, 52], 30), ([1, 2, 3, 4, 56], 12), ([14, 31, 41, 42, 52], 60)):
        positions, labels = frequency_ticks(keys, 56, cols)
        assert {int(k) for label in labels for k in label.split(",")} == set(keys)
        per = cols / 56
        for (p1, l1), (p2, l2) in zip(zip(positions, labels), zip(positions[1:], labels[1:])):
            assert (p2 - p1) * per >= (len(l1) + len(l2)) / 2 + 1 - 1e-9


def test_frequency_ticks_without_keys_are_round() -> None:
    assert frequency_ticks([], 23, 20) == ([5.0, 10.0, 15.0, 20.0], ["5", "10", "15", "20"])
    assert frequency_ticks([0, 99], 23, 20)[1] == ["5", "10", "15", "20"]  # out of range: not keys


def _tick_row(width: int, y_label_width: int, x_span: tuple[float, float], ticks: Ticks,
              order: Callable[[list], list]) -> str:
    """The row of x tick labels plotext draws for a 10-row chart laid out like the live charts (y labels
    padded to `y_label_width`), with plotext's set-based dedup of the ticks replaced by `order`: another
    hash seed's iteration order."""
    figure = plotext._figure._figure_class()
    figure.plotsize(width, 10)
    figure.plot([x_span[0], x_span[1]], [0.0, 1.0])
    figure.xlim(*x_span)
    figure.ylim(0.0, 1.0)
    figure.yticks([0.0, 1.0], ["0".rjust(y_label_width), "1".rjust(y_label_width)])
    with mock.patch.object(plotext._utility, "no_duplicates", lambda data: order(list(data))):
        figure.xticks(*ticks)  # set again: the dedup happens when the ticks are set
        text = re.sub(r"\x1b\[[0-9;]*m", "", figure.build())
    return [line for line in text.splitlines() if line.strip()][-1]  # no x label: the ticks come last


ORDERS = [lambda d: d, lambda d: d[::-1], lambda d: d[1::2] + d[0::2], lambda d: d[-1:] + d[:-1]]


@settings(max_examples=80, deadline=None)
@given(st.integers(16, 120), st.integers(1, 6), st.floats(1, 1e6), st.booleans())
def test_spaced_epoch_labels_draw_the_same_whatever_order_plotext_dedups_them(
        width: int, y_label_width: int, high: float, log_x: bool) -> None:
    span = (0.0, math.log10(high + 1)) if log_x else (0.0, high)
    tick_maker = log_ticks if log_x else linear_ticks
    ticks = spaced_labels(tick_maker(*span), *span, width, y_label_width)
    rows = {_tick_row(width, y_label_width, span, ticks, order) for order in ORDERS}
    assert len(rows) == 1, rows
    drawn = rows.pop().split()
    assert drawn == ticks[1], (drawn, ticks[1])  # every label kept is drawn, none lost to a collision


def test_unspaced_colliding_labels_depend_on_plotexts_order() -> None:
    """Why spaced_labels exists: on a narrow chart the raw ticks collide and the order decides."""
    span, ticks = (0.0, 3000.0), linear_ticks(0.0, 3000.0)
    rows = {_tick_row(24, 5, span, ticks, order) for order in ORDERS}
    assert len(rows) > 1
