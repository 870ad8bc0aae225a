"""Seed groups, bands and summaries (grok_tui/figures/groups.py), checked against numpy on fixture logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config
from grok_tui.figures.survival import Censored
from grok_tui.figures.groups import (Member, Spread, band, differing_fields, format_value, group_runs, group_stats, load_member, load_members, run_stats)
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.figures.series import RunSeries


def record(epoch: int, scale: float, grok_at: int) -> dict:
    return {"epoch": epoch, "train_loss": scale * 10 ** (-epoch / 100), "test_loss": scale * 2.0 / (1 + epoch),
            "train_acc": min(1.0, epoch / 50), "test_acc": 1.0 if epoch >= grok_at else 0.1 + epoch / (2 * grok_at),
            "lr": 1e-3, "weight_norm": 10.0, "elapsed_s": epoch / 10}


def write_run(root: Path, tag: str, epochs: range, scale: float = 1.0, grok_at: int = 300, **config: object) -> RunPaths:
    paths = RunPaths.of(tag, root)
    tiny_config(tag=tag, num_epochs=max(1, epochs.stop - 1), **config).save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in epochs:
            writer.write(record(epoch, scale, grok_at))
    return paths


def series_of(records: list[dict]) -> RunSeries:
    series = RunSeries()
    series.extend(records)
    return series


def test_seed_only_differences_group_and_anything_else_splits(root: Path) -> None:
    members = [Member("a0", tiny_config(tag="a0", seed=0)), Member("a1", tiny_config(tag="a1", seed=1)),
               Member("b0", tiny_config(tag="b0", seed=0, weight_decay=0.1)),
               # a different schedule or cadence does not split a seed group
               Member("a2", tiny_config(tag="a2", seed=2, num_epochs=999, log_every=7, device="cpu")),
               Member("c0", tiny_config(tag="c0", lr=3e-3)), Member("broken", None)]
    groups = group_runs(members)
    assert [g.tags for g in groups] == [["a0", "a1", "a2"], ["b0"], ["c0"], ["broken"]]
    assert groups[0].seeds == [0, 1, 2]
    rerun = group_runs([Member("r0", tiny_config(tag="r0")), Member("r0b", tiny_config(tag="r0b", num_epochs=5))])
    assert rerun[0].label == "r0 (2 runs)"  # the same seed twice is not two seeds
    # labels name what sets the groups apart (lr and weight decay, and the seed of a single run, as the
    # runs shown have several), not what they share
    assert groups[0].label == "lr=0.001 wd=1 (3 seeds)" and groups[1].label == "lr=0.001 wd=0.1 seed=0"
    assert groups[2].label == "lr=0.003 wd=1 seed=0" and groups[3].label == "broken"
    # d_mlp None and 4 * d_model are the same model
    assert len(group_runs([Member("x", tiny_config(d_mlp=None)), Member("y", tiny_config(d_mlp=64, seed=3))])) == 1


def test_tags_text_names_a_groups_runs_briefly() -> None:
    from grok_tui.figures.groups import tags_text

    assert tags_text(["quick-wd1-s0", "quick-wd1-s1", "quick-wd1-s12"]) == "quick-wd1-s{0,1,12}"
    assert tags_text(["alpha", "beta"]) == "alpha,beta" and tags_text(["one"]) == "one"


def test_differing_fields_and_values() -> None:
    configs = [tiny_config(tag="a", seed=0), tiny_config(tag="b", seed=1, weight_decay=0.1), None]
    assert differing_fields(configs) == ["seed", "weight_decay"]
    assert differing_fields([tiny_config(tag="a"), tiny_config(tag="b")]) == []  # the tag never counts
    assert format_value(configs[1], "weight_decay") == "0.1" and format_value(configs[0], "betas") == "0.9,0.98"
    assert format_value(configs[0], "d_mlp") == "64" and format_value(None, "p") == "?"


def test_band_against_numpy_for_unequal_lengths_and_cadences() -> None:
    # three seeds: every 10 epochs to 300, every 25 to 200, every 7 to 350
    logs = [[record(e, 1.0, 150) for e in range(0, 301, 10)], [record(e, 2.0, 120) for e in range(0, 201, 25)],
            [record(e, 0.5, 200) for e in range(0, 351, 7)]]
    series = [series_of(log) for log in logs]
    grid = np.unique(np.concatenate([[r["epoch"] for r in log] for log in logs]))
    for key, in_log in (("test_acc", False), ("train_loss", True), ("test_loss", True)):
        got = band(series, key)
        np.testing.assert_array_equal(got.epochs, grid)
        rows = np.full((3, grid.size), np.nan)
        for i, log in enumerate(logs):
            x = np.array([r["epoch"] for r in log])
            y = np.array([r[key] for r in log])
            y = np.log10(y) if in_log else y
            inside = (grid >= x[0]) & (grid <= x[-1])
            rows[i, inside] = np.interp(grid[inside], x, y)
        expect = (np.nanmedian(rows, 0), np.nanmin(rows, 0), np.nanmax(rows, 0))
        if in_log:
            expect = tuple(10 ** e for e in expect)
        for got_values, expected in zip((got.median, got.low, got.high), expect):
            np.testing.assert_allclose(got_values, expected, rtol=1e-12)
        np.testing.assert_array_equal(got.count, np.isfinite(rows).sum(0))
    acc = band(series, "test_acc")
    assert acc.count[grid <= 200].min() == 3 and acc.count[grid > 300].max() == 1  # only the longest run
    assert acc.low[0] <= acc.median[0] <= acc.high[0]


def test_a_thinned_band_keeps_the_full_bands_values_at_its_epochs() -> None:
    series = [series_of([record(e, scale, 150) for e in range(0, 2001, step)])
              for scale, step in ((1.0, 1), (2.0, 3), (0.5, 7))]
    full, thin = band(series, "test_loss"), band(series, "test_loss", max_points=50)
    assert thin.epochs.size == 50 and thin.epochs[0] == 0 and thin.epochs[-1] == 2000
    at = np.searchsorted(full.epochs, thin.epochs)
    np.testing.assert_array_equal(full.epochs[at], thin.epochs)
    for name in ("median", "low", "high", "count"):
        np.testing.assert_allclose(getattr(thin, name), getattr(full, name)[at], rtol=1e-12)


def test_band_skips_gaps_and_empty_series() -> None:
    logs = [record(e, 1.0, 100) for e in range(0, 101, 10)]
    logs[3]["test_loss"] = None  # a non-finite value written as null
    got = band([series_of(logs), RunSeries()], "test_loss")
    assert np.all(np.isfinite(got.median)) and np.all(got.count == 1)
    expected = 10 ** np.interp(30, [20, 40], np.log10([logs[2]["test_loss"], logs[4]["test_loss"]]))
    assert got.median[3] == pytest.approx(expected)
    empty = band([RunSeries()], "test_acc")
    assert empty.epochs.size == 0 and empty.median.size == 0


def test_run_and_group_summaries(root: Path) -> None:
    write_run(root, "s0", range(0, 401, 10), grok_at=300, seed=0)
    write_run(root, "s1", range(0, 501, 20), grok_at=200, seed=1)
    write_run(root, "s2", range(0, 151, 10), grok_at=300, seed=2)  # stopped before grokking
    members = load_members(["s0", "s1", "s2"], root)
    stats = [run_stats(m) for m in members]
    assert [s.memorized for s in stats] == [50, 60, 50]  # first logged epoch with train accuracy >= 99%
    assert [s.grokked for s in stats] == [300, 200, None]
    assert stats[0].grok_time_s == pytest.approx(30.0) and stats[2].grok_time_s is None
    assert stats[2].final_test_acc == pytest.approx(0.1 + 150 / 600) and stats[1].last_epoch == 500
    (group,) = group_runs(members)
    summary = group_stats(group)
    # s2 is censored at 150, before either grokked: the Kaplan-Meier median is that of the other two
    assert summary.grokked == Censored(250.0, None, 200, 300, 2, 3)
    assert summary.grokked.text(lambda v: f"{v:,.0f}") == "250 (200-300) 2/3"
    assert summary.memorized.text(lambda v: f"{v:,.0f}", count=False) == "50 (50-60)"
    assert Spread.of_values([None]).text(str) == "-" and Spread.of_values([5.0]).text(lambda v: f"{v:g}") == "5"


def test_a_broken_run_shows_as_broken_and_does_not_hide_the_others(root: Path) -> None:
    write_run(root, "good", range(0, 101, 10))
    bad = RunPaths.of("bad", root)
    bad.log_dir.mkdir(parents=True)
    bad.config.write_text("{not json")
    bad.log.write_bytes(b"\x00garbage\n" * 100 + json.dumps(record(0, 1.0, 10)).encode() + b"\n")
    members = load_members(["good", "bad", "missing"], root)
    assert [len(m.series) for m in members] == [11, 1, 0]
    assert members[1].config is None and "config.json" in members[1].problem
    assert "No such file" in members[2].problem
    write_run(root, "empty", range(0))
    assert "no log records" in load_member(RunPaths.of("empty", root)).problem
    groups = group_runs(members)
    assert [g.tags for g in groups] == [["good"], ["bad"], ["missing"]]
    assert load_member(RunPaths.of("good", root)).problem == ""
