"""The runs list (sort, filter, select, compare, delete) and the compare view, through Textual's Pilot,
and SVG snapshots of both at 80x24 and 120x40 (fixture logs with fixed start dates)."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from conftest import tiny_config
from grok_tui.run.log import RunLogWriter
from grok_tui.run.lock import RunLock
from grok_tui.run.paths import RunPaths
from grok_tui.tui.app import GrokApp
from grok_tui.tui.compare import PALETTE, CompareChart, CompareScreen, GrokFractionChart, dim
from grok_tui.tui.live import LiveScreen
from grok_tui.tui.screens import ConfirmDelete, RunsScreen


def record(epoch: int, grok_at: int) -> dict[str, Any]:
    rise = min(1.0, max(0.0, (epoch - grok_at / 2) / (grok_at / 2)))
    return {"epoch": epoch, "train_loss": 3.0 * 10 ** (-epoch / 150), "test_loss": 3.0 * math.exp(-3 * rise) + 1e-3,
            "train_acc": min(1.0, epoch / 100), "test_acc": 0.05 + 0.95 * rise, "lr": 1e-3, "weight_norm": 50.0,
            "elapsed_s": epoch / 50}


def write_run(root: Path, tag: str, grok_at: int, last: int = 1000, started: str = "2025-11-20T09:30:00Z",
              **config: Any) -> RunPaths:
    paths = RunPaths.of(tag, root)
    tiny_config(tag=tag, num_epochs=1000, **config).save(paths.config)
    paths.sessions.write_text(json.dumps({"time": started, "host": "fixture"}) + "\n")
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, last + 1, 10):
            writer.write(record(epoch, grok_at))
    return paths


@pytest.fixture
def fixture_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two seeds of wd=1, one of wd=0.3 (stopped at 600), one with lr=3e-3: a relative root for snapshots."""
    monkeypatch.chdir(tmp_path)
    root = Path(".")
    write_run(root, "wd1-s0", 400, seed=0)
    write_run(root, "wd1-s1", 600, seed=1, started="2025-11-21T10:00:00Z")
    write_run(root, "wd03-s0", 800, last=600, weight_decay=0.3)
    write_run(root, "lr3e-3", 300, lr=3e-3, started="2025-11-19T08:00:00Z")
    return root


def rows(app: GrokApp) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def app_for(root: Path) -> GrokApp:
    return GrokApp(tiny_config(tag="form"), root=root, config_given=True)


async def test_runs_list_shows_the_differing_fields_sorts_and_filters(fixture_root: Path) -> None:
    app = app_for(fixture_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one(DataTable)
        headers = [str(column.label) for column in table.columns.values()]
        assert headers == ["", "tag ▲", "seed", "lr", "wd", "epoch", "memo@", "grok@", "test acc", "status",
                           "started"]
        assert [r[1] for r in rows(app)] == ["lr3e-3", "wd03-s0", "wd1-s0", "wd1-s1"]
        assert rows(app)[1][5:] == ["600/1,000", "100", "-", "52.5%", "stopped", "2025-11-20 09:30"]
        await pilot.press("s")  # sort by the next column: seed
        await pilot.pause()
        assert [r[1] for r in rows(app)][-1] == "wd1-s1"
        for _ in range(5):  # ... to grok@: numbers as numbers, the run that never grokked last
            await pilot.press("s")
        await pilot.pause()
        assert "grok@ ▲" in [str(c.label) for c in table.columns.values()]
        assert [r[1] for r in rows(app)] == ["lr3e-3", "wd1-s0", "wd1-s1", "wd03-s0"]
        await pilot.press("S")
        await pilot.pause()
        assert [r[1] for r in rows(app)] == ["wd1-s1", "wd1-s0", "lr3e-3", "wd03-s0"]
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("w", "d", "1")
        await pilot.pause()
        assert sorted(r[1] for r in rows(app)) == ["wd1-s0", "wd1-s1"]
        await pilot.press("escape")  # clears the filter first
        await pilot.pause()
        assert len(rows(app)) == 4 and isinstance(app.screen, RunsScreen)


async def test_select_three_runs_and_compare_them(fixture_root: Path) -> None:
    app = app_for(fixture_root)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("c")  # nothing selected: a warning, no compare view
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("space", "space", "space")  # lr3e-3, wd03-s0, wd1-s0 (the cursor moves down)
        await pilot.pause()
        assert [r[0] for r in rows(app)] == ["●", "●", "●", " "]
        await pilot.press("c")
        await pilot.pause(0.3)
        view = app.screen
        assert isinstance(view, CompareScreen) and view.tags == ["lr3e-3", "wd03-s0", "wd1-s0"]
        legend = rows(app)
        assert [r[1] for r in legend] == ["lr=0.003 wd=1", "lr=0.001 wd=0.3", "lr=0.001 wd=1"]
        # grokked at, with k/n; wd03-s0 stopped at 600 before grokking: not by then
        assert legend[2][5] == "400 1/1" and legend[1][5] == "> 600 0/1"
        assert all(chart._drawn_key is not None for chart in view.query(CompareChart))


async def test_two_seeds_are_one_group_with_a_band_and_t_shows_the_runs(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, compare=["wd1-s0", "wd1-s1", "wd03-s0"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        view = app.screen
        assert isinstance(view, CompareScreen)
        assert [g.tags for g in view.groups] == [["wd1-s0", "wd1-s1"], ["wd03-s0"]]
        legend = rows(app)
        assert legend[0][1] == "wd=1 (2 seeds)" and legend[0][5] == "500 (400-600) 2/2"
        chart = view.query_one("#compare-test-acc", CompareChart)
        # the band's min and max lines and the median for the group, one line for the single run
        drawn: list[Any] = []
        real_plot = chart.plt.plot
        chart.plt.plot = lambda *a, **k: drawn.append(k["color"]) or real_plot(*a, **k)  # type: ignore[method-assign]
        chart.draw(view.groups, view.version, False, force=True)
        first, second = PALETTE[0], PALETTE[1]
        assert drawn == [dim(first), dim(first), first, second]
        # the fraction of each group's runs grokked by each epoch, as step corners: the seeds at 400 and 600
        # (watched to 1,000), the single run not grokked by its last epoch, 600
        grokked = view.query_one("#compare-grokked", GrokFractionChart)
        steps: list[tuple[list[float], list[float], Any]] = []
        real_steps = grokked.plt.plot
        grokked.plt.plot = lambda x, y, **k: steps.append((x, y, k["color"])) or real_steps(x, y, **k)  # type: ignore[method-assign]
        grokked.draw(view.groups, view.version, False, force=True)
        assert steps == [([0, 400, 400, 600, 600, 1000, 1000], [0, 0, 50, 50, 100, 100, 100], first),
                         ([0, 600, 600], [0, 0, 0], second)]
        await pilot.press("t")
        await pilot.pause(0.2)
        # each run by its tag and what sets it apart from the others shown
        assert [r[1] for r in rows(app)] == ["wd1-s0 wd=1 seed=0", "wd1-s1 wd=1 seed=1", "wd03-s0 wd=0.3 seed=0"]
        await pilot.press("t")
        await pilot.pause(0.2)
        assert len(rows(app)) == 2


async def test_a_run_training_in_the_background_moves_its_line(root: Path) -> None:
    from grok_tui.training.trainer import train_grokking

    write_run(root, "done", 300)
    config = tiny_config(tag="live", num_epochs=200, log_every=10, checkpoint_every=1000, lr=3e-3, threads=1)
    app = GrokApp(root=root, compare=["done", "live"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        view = app.screen
        assert isinstance(view, CompareScreen)
        chart = view.query_one("#compare-test-acc", CompareChart)
        before = chart._drawn_key
        worker = threading.Thread(target=train_grokking, args=(config,), kwargs={"root": root})
        worker.start()
        deadline = time.monotonic() + 60
        while len(view.members[1].series) < 5 and time.monotonic() < deadline:
            await pilot.pause(0.2)
        worker.join(60)
        await pilot.pause(0.8)  # one more poll after the last line
        assert len(view.members[1].series) == 21 and view.members[1].config is not None
        assert chart._drawn_key != before
        memorized = view.members[1].series.memorized_epoch
        assert memorized is not None  # the tiny model memorizes within 200 epochs
        assert rows(app)[1][1] == "lr=0.003" and rows(app)[1][3] == f"{memorized:,}"  # the table follows too


async def test_delete_asks_n_keeps_y_deletes_and_a_training_run_is_refused(fixture_root: Path) -> None:
    app = app_for(fixture_root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("D")  # the cursor is on lr3e-3
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete) and app.screen.tag == "lr3e-3"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen) and RunPaths.of("lr3e-3", fixture_root).log.exists()
        await pilot.press("D")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        paths = RunPaths.of("lr3e-3", fixture_root)
        assert not paths.log_dir.exists() and not paths.model_dir.exists()
        assert [r[1] for r in rows(app)] == ["wd03-s0", "wd1-s0", "wd1-s1"]
        held = RunLock(RunPaths.of("wd03-s0", fixture_root)).acquire()  # a trainer holds it
        try:
            app.screen.reload()  # type: ignore[attr-defined]
            await pilot.press("D")
            await pilot.pause()
            assert isinstance(app.screen, RunsScreen)  # no dialog for a run in training
        finally:
            held.release()
        assert RunPaths.of("wd03-s0", fixture_root).log.exists()


async def test_export_writes_the_figure_with_the_views_axes(fixture_root: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import grok_tui.figures.comparison as plotting

    calls: list[dict[str, Any]] = []
    real = plotting.plot_comparison
    monkeypatch.setattr(plotting, "plot_comparison", lambda *a, **k: calls.append(k) or real(*a, **k))
    exported: list[dict[str, Any]] = []
    import grok_tui.figures.curves as curves

    monkeypatch.setattr(curves, "export_run", lambda tag, **k: exported.append(k) or [Path("x.png")])
    app = GrokApp(root=fixture_root, compare=["wd1-s0", "wd1-s1"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("l", "e")
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await app.workers.wait_for_complete()
        assert calls[0]["log_x"] is True and calls[0]["grouped"] is True
        assert (fixture_root / "logs" / "compare-wd1-s0+wd1-s1.png").read_bytes()[:4] == b"\x89PNG"
    app = GrokApp(root=fixture_root, watch="wd1-s0")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, LiveScreen)
        await pilot.press("l", "e")
        await app.workers.wait_for_complete()
        assert exported == [{"root": fixture_root, "log_x": True}]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_runs_list_snapshot(snap_compare, fixture_root: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(fixture_root), terminal_size=size, press=["g", "space"],
                        run_before=lambda pilot: pilot.pause(0.2))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_compare_view_snapshot(snap_compare, fixture_root: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, compare=["wd1-s0", "wd1-s1", "wd03-s0", "lr3e-3"])
    assert snap_compare(app, terminal_size=size, run_before=lambda pilot: pilot.pause(0.3))
