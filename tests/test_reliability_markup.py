"""Strings from files are shown as text, never as markup (issue 23, S9).

A crafted events.json crashed `watch --sweep` (MarkupError on an unbalanced `[/]`), and a crafted name made a
table cell clickable: clicking it ran a Textual action that wrote an SVG to a path of the attacker's choice.
Each test puts markup into a file grok-tui reads (a sweep's fields and values, events, sessions.jsonl, error
texts), opens the screen that shows it, and checks that the screen renders, shows the string as it is written
and that clicking it runs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from grok_tui.run.paths import RunPaths
from grok_tui.tui.app import GrokApp
from grok_tui.tui.live import LiveScreen, StatusPanel
from grok_tui.tui.sweep_view import SweepScreen
from test_sweep_plot import make_sweep

CLICK = "[@click=app.screenshot('{path}')]x[/]"
MARKUP = ["[bold]b", "[/]", "x[/]", "[$accent]a", "[B]c", "tail\\"]


@pytest.fixture
def screenshots(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every screenshot action the app runs (none should)."""
    taken: list[object] = []

    def record(self: GrokApp, *args: object, **kwargs: object) -> None:
        taken.append(args)

    monkeypatch.setattr(GrokApp, "action_screenshot", record)
    return taken


def crafted_sweep(root: Path, click: str) -> None:
    """Sweep `f` (two members) whose definition has an extra axis named with markup, with markup values,
    and whose first member's events.json carries markup in its texts and an unknown event name."""
    make_sweep(root, {"frac_train": [0.3, 0.5], "seed": [0]})
    path = root / "sweeps" / "f.json"
    data = json.loads(path.read_text())
    data["axes"][click] = MARKUP
    path.write_text(json.dumps(data))
    events = RunPaths.of(data["members"][0]["tag"], root).events
    events.write_text(json.dumps([{"name": "grokked", "epoch": 900, "text": click + "[/]"},
                                  {"name": click, "epoch": 950, "text": "[/]"}]))


async def test_the_sweep_view_shows_markup_from_its_files_as_text_and_runs_nothing(
        tmp_path: Path, screenshots: list[object]) -> None:
    click = CLICK.format(path=tmp_path / "x.svg")
    crafted_sweep(tmp_path, click)
    app = GrokApp(root=tmp_path, sweep="f")
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause(0.3)
        assert isinstance(app.screen, SweepScreen)
        table = app.screen.query_one(DataTable)
        labels = [column.label.plain for column in table.columns.values()]
        assert click in labels  # the axis name as written, not a link labelled "x"
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert len(rows) == 2 and {row[labels.index("phase")] for row in rows} == {"grokked"}
        from rich.console import Console

        console = Console(width=400, record=True)
        console.print(app.screen.grid)
        grid = console.export_text()
        assert all(value in grid for value in MARKUP) and click in grid
        # Click the crafted header: before the fix this ran app.screenshot with the planted path.
        x = sum(column.get_render_width(table) for column in list(table.columns.values())[:labels.index(click)])
        await pilot.click(DataTable, offset=(x + 2, 0))
        await pilot.pause(0.2)
    assert screenshots == [] and not (tmp_path / "x.svg").exists()


async def test_an_error_naming_markup_is_shown_as_text(tmp_path: Path) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0]})
    path = tmp_path / "sweeps" / "f.json"
    data = json.loads(path.read_text())
    data["members"][0]["values"]["frac_train"] = "[/]"  # the error names the value
    path.write_text(json.dumps(data))
    app = GrokApp(root=tmp_path, sweep="f")
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause(0.3)
        title = str(app.screen.query_one("#sweep-title", Static).render())
        assert "cannot be read as a sweep definition" in title and "'[/]'" in title


async def test_the_live_view_shows_sessions_and_errors_with_markup_as_text(tmp_path: Path,
                                                                           screenshots: list[object]) -> None:
    make_sweep(tmp_path, {"frac_train": [0.3, 0.5], "seed": [0]})
    tag = "f.ft0.3.s0"
    paths = RunPaths.of(tag, tmp_path)
    click = CLICK.format(path=tmp_path / "x.svg")
    sessions = [{"device": "cpu", "threads": 1, "torch": "2.13.0", "host": "h"},
                {"device": click, "threads": 1, "torch": "[/]" + click, "host": "h"}]
    paths.sessions.write_text("".join(json.dumps(s) + "\n" for s in sessions))
    app = GrokApp(root=tmp_path, watch=tag)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.5)
        assert isinstance(app.screen, LiveScreen)
        app.errors[tag] = "bad file [/] " + click  # what a failed training says
        app.screen.update_status()
        await pilot.pause(0.1)
        panel = str(app.screen.query_one(StatusPanel).render())
        assert "device   [@click=app.screenshot(" in panel  # cut to 24 characters, as written
        assert "env changed: torch 2.13.0 -> [/][@click=" in panel
        assert "error: bad file [/] " + click in panel
    assert screenshots == []


async def test_notifications_are_text(tmp_path: Path, screenshots: list[object]) -> None:
    app = GrokApp(root=tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        for text in (*MARKUP, CLICK.format(path=tmp_path / "x.svg")):
            app.notify(f"failed: {text}")
            app.screen.notify(f"failed: {text}", markup=True)  # a screen asking for markup gets text too
        await pilot.pause(0.3)
        notes = list(app._notifications)
        assert len(notes) == 2 * (len(MARKUP) + 1) and not any(note.markup for note in notes)
    assert screenshots == []
