"""Censored statistics of epochs to grok (grok_tui/figures/survival.py) against hand computations: nothing
censored (the ordinary median), some censored, all censored, ties; the Kaplan-Meier curve; the texts."""

from __future__ import annotations

import random

import numpy as np
import pytest

from grok_tui.figures.survival import Outcome, fraction_grokked, summarize


def grok(*epochs: float) -> list[Outcome]:
    return [Outcome(e, True) for e in epochs]


def never(*epochs: float) -> list[Outcome]:
    return [Outcome(e, False) for e in epochs]


def epochs(value: float) -> str:
    return f"{value:,.0f}"


@pytest.mark.parametrize("times, median", [
    ((300, 100, 200), 200), ((100, 200, 300, 400), 250), ((100, 200, 200, 400), 200), ((100, 100, 300, 300), 200),
    ((700,), 700)])
def test_with_nothing_censored_it_is_the_ordinary_median(times: tuple[int, ...], median: float) -> None:
    summary = summarize(grok(*times))
    assert summary.median == median == np.median(times)
    assert (summary.beyond, summary.low, summary.high, summary.happened, summary.runs) == (
        None, min(times), max(times), len(times), len(times))


def test_with_nothing_censored_it_matches_numpy_on_random_samples() -> None:
    rng = random.Random(0)
    for _ in range(200):
        times = [rng.randrange(0, 50) * 10 for _ in range(rng.randint(1, 9))]  # many ties
        assert summarize(grok(*times)).median == np.median(times)


def test_a_seed_that_never_grokked_counts_as_later_than_every_one_that_did() -> None:
    # Grokked at 1,200 and 1,500, the third not by 3,000: fraction grokked 1/3 at 1,200, 2/3 at 1,500 > 1/2.
    summary = summarize(grok(1200, 1500) + never(3000))
    assert (summary.median, summary.happened, summary.runs) == (1500, 2, 3)
    assert summary.text(epochs) == "1,500 (1,200-1,500) 2/3"


def test_half_or_more_not_grokked_is_a_bound_not_a_number() -> None:
    one_of_two = summarize(grok(1230) + never(1500))  # the lr 0.003 cell: once plotted at 1,230
    assert (one_of_two.median, one_of_two.beyond) == (None, 1500)
    assert one_of_two.text(epochs) == "> 1,500 1/2"
    none = summarize(never(3000, 3000, 3000))
    assert (none.median, none.beyond, none.low, none.high, none.happened) == (None, 3000, None, None, 0)
    assert none.text(epochs) == "> 3,000 0/3" and none.text(epochs, count=False) == "-"


def test_runs_censored_early_leave_the_risk_set_and_ties_count_the_censored_as_still_watched() -> None:
    # Watched until 150 only: at 200 one of the two still watched grokked (1/2), at 300 the other: halfway.
    assert summarize(never(150) + grok(200, 300)).median == 250
    # Two seeds seen at epoch 100 only (still training), one grokked at 600: all that were watched grokked.
    assert summarize(never(100, 100) + grok(600)).median == 600
    # A seed censored at 500, the epoch another grokked: still watched then, so 1 of 3 grokked at 500,
    # and the last one watched groks at 800.
    tied = summarize(grok(500, 800) + never(500))
    assert (tied.median, tied.text(epochs)) == (800, "800 (500-800) 2/3")


def test_the_kaplan_meier_curve_by_hand() -> None:
    # At 100: 1 of 5 watched grokked (S = 4/5); 150: one censored; at 200: 2 of the 3 still watched (S = 4/5 * 1/3).
    curve = fraction_grokked(grok(100, 200, 200) + never(150, 300))
    np.testing.assert_array_equal(curve.times, [0, 100, 200, 300])
    np.testing.assert_allclose(curve.fraction, [0, 1 / 5, 11 / 15, 11 / 15])
    np.testing.assert_array_equal(curve.censored_times, [150, 300])
    np.testing.assert_allclose(curve.censored_fraction, [1 / 5, 11 / 15])
    assert summarize(grok(100, 200, 200) + never(150, 300)).median == 200  # first above one half: 11/15
    x, y = curve.corners()
    np.testing.assert_array_equal(x, [0, 100, 100, 200, 200, 300, 300])
    np.testing.assert_allclose(y, [0, 0, 1 / 5, 1 / 5, 11 / 15, 11 / 15, 11 / 15])


def test_the_curve_runs_on_to_the_last_epoch_watched_and_all_censored_stays_at_zero() -> None:
    curve = fraction_grokked(grok(400, 700), until=3000)
    np.testing.assert_array_equal(curve.times, [0, 400, 700, 3000])
    np.testing.assert_allclose(curve.fraction, [0, 0.5, 1, 1])
    flat = fraction_grokked(never(1500, 3000))
    np.testing.assert_array_equal(flat.times, [0, 3000])
    np.testing.assert_array_equal(flat.fraction, [0, 0])


def test_no_runs() -> None:
    assert summarize([]).text(epochs) == "-"
    assert fraction_grokked([]).times.size == 0
    assert Outcome.of(None, None) == Outcome(0.0, False) and Outcome.of(5, 9) == Outcome(5.0, True)
