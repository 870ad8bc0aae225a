"""The sweep view fed from fixture members (tests/test_sweep_plot.py's grid): the table's states and the
phase grid's values (censored medians; running, not grokked, done), the accuracy toggle, opening a member
and coming back, comparing two; an SVG snapshot; and `watch --sweep` refusing an unknown sweep in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from grok_tui.cli.main import main
from grok_tui.run.lock import RunLock
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.results import member_results
from grok_tui.tui.app import GrokApp
from grok_tui.tui.compare import CompareScreen
from grok_tui.tui.live import LiveScreen
from grok_tui.tui.sweep_view import SweepScreen, grok_cell, member_status
from test_sweep_plot import make_sweep, write_member_log

AXES = {"weight_decay": [0.3, 1.0], "frac_train": [0.3, 0.5], "seed": [0, 1, 2]}


def grid(app: GrokApp) -> str:
    from rich.console import Console

    console = Console(width=120, record=True)
    screen = app.screen
    assert isinstance(screen, SweepScreen) and screen.grid is not None
    console.print(screen.grid)
    return console.export_text()


async def test_table_and_grid_show_every_member_and_the_medians(tmp_path: Path) -> None:
    make_sweep(tmp_path, AXES)
    app = GrokApp(root=tmp_path, sweep="f")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert isinstance(app.screen, SweepScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 12
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(12)]  # Text cells: never markup
        assert {row[5] for row in rows} == {"done"}  # every fixture member logged its last epoch
        assert rows[0][1] == "f.wd0.3.ft0.3.s0" and rows[0][8] == "-"  # never grokked
        assert rows[3][1] == "f.wd0.3.ft0.5.s0" and rows[3][8] == "900"
        text = grid(app)
        assert "median epochs to 99% test accuracy" in text
        # censored medians: the seed that never grokked counts (1,500, not the 1,350 of the two that did)
        assert "> 3,000 0/3" in text and "1,500 2/3" in text and "1,100 3/3" in text and "500 3/3" in text
        await pilot.press("a")
        await pilot.pause(0.1)
        text = grid(app)
        assert "median final test accuracy" in text and "40.0%" in text and "100.0%" in text
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, LiveScreen) and app.screen.paths.tag == "f.wd0.3.ft0.5.s0"
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert isinstance(app.screen, SweepScreen)
        await pilot.press("space", "down", "space", "c")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CompareScreen)


def test_sweep_view_snapshot(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    make_sweep(Path("."), AXES)
    app = GrokApp(root=Path("."), sweep="f")
    assert snap_compare(app, terminal_size=(100, 30), run_before=lambda pilot: pilot.pause(0.3))


def test_watch_sweep_refuses_an_unknown_sweep_in_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["watch", "--sweep", "nope", "--root", str(tmp_path)]) == 2
    assert "no sweep 'nope'" in capsys.readouterr().err
    assert main(["watch", "--root", str(tmp_path)]) == 2
    assert "give a run's tag, or --sweep NAME" in capsys.readouterr().err


def test_a_cell_says_running_while_its_seeds_train_never_never(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0, 1, 2]})
    for seed in range(3):  # frac 0.3 started again from scratch: at epoch 10, none grokked yet
        write_member_log(RunPaths.of(f"f.ft0.3.s{seed}", tmp_path), grok=None, last=10)
    locks = [RunLock(RunPaths.of(f"f.ft0.3.s{seed}", tmp_path)).acquire() for seed in (0, 1)]  # two train
    try:
        _, results = member_results("f", tmp_path)
        training = [r for r in results if r.member.values["frac_train"] == 0.3]
        assert [r.running for r in training] == [True, True, False]
        assert [member_status(r, tmp_path).split(" (")[0] for r in training] == ["training", "training", "stopped"]
        assert grok_cell(training) == "[dim]running 0/3[/dim]"
        done = [r for r in results if r.member.values["frac_train"] == 0.5]
        assert {member_status(r, tmp_path) for r in done} == {"done"}
        assert grok_cell(done) == "[green]500[/green] 3/3"
    finally:
        for lock in locks:
            lock.release()
    _, results = member_results("f", tmp_path)  # nobody trains them now: stopped at 10, not grokked by then
    assert grok_cell([r for r in results if r.member.values["frac_train"] == 0.3]) == "[dim]> 10 0/3[/dim]"


def test_a_cell_with_some_seeds_grokked_and_others_training(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.5], "seed": [0, 1, 2]})
    write_member_log(RunPaths.of("f.ft0.5.s2", tmp_path), grok=500, last=300)  # will grok at 500; at 300 now
    with RunLock(RunPaths.of("f.ft0.5.s2", tmp_path)):
        _, results = member_results("f", tmp_path)
        # 400 and 700 grokked, the third watched to 300 only: Kaplan-Meier has half of them grokked from 400
        # on and all from 700, so the median is halfway, 550; and the cell says one seed still trains
        assert grok_cell(results) == "[yellow]550[/yellow] 2/3 [dim](1 running)[/dim]"
    _, results = member_results("f", tmp_path)
    assert grok_cell(results) == "[yellow]550[/yellow] 2/3"
