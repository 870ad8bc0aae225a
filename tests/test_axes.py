"""Tick values of the live charts: round numbers, a log tick under the data, every key frequency named."""

from __future__ import annotations

import math

import pytest

from grok_tui.axes import frequency_ticks, log_axis, round_ticks


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
