"""Navigation that cannot start a run by accident (issue 22, item 7): Escape goes back one screen and
never shows Textual's empty base screen or the form under a run's view, the help names every key the
README's TUI table names, the footer names q and ? first, the form opened while a run trains offers its
stop; and the delete dialog's wording (item 9)."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import DataTable, Static

from conftest import tiny_config
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.tui.app import GrokApp
from grok_tui.tui.compare import CompareScreen
from grok_tui.tui.form import FormScreen
from grok_tui.tui.live import LiveScreen
from grok_tui.tui.screens import HELP, ConfirmDelete, RunsScreen
from test_tui import long_config, wait_for

README = Path(__file__).resolve().parent.parent / "README.md"


def write_run(root: Path, tag: str, epochs: int = 100) -> None:
    config = tiny_config(tag=tag, num_epochs=epochs, log_every=10)
    paths = RunPaths.of(tag, root)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, epochs + 1, 10):
            writer.write({"epoch": epoch, "train_loss": 1.0, "test_loss": 2.0, "train_acc": 0.5, "test_acc": 0.1,
                          "elapsed_s": epoch / 100})


def footer_order(app: GrokApp) -> list[str]:
    return [b.binding.key for b in app.screen.active_bindings.values() if b.binding.show and b.enabled]


async def test_compare_from_the_command_line_then_escape_opens_the_runs_list(root: Path) -> None:
    write_run(root, "a")
    write_run(root, "b")
    app = GrokApp(root=root, compare=["a", "b"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("escape")  # the first screen: it stays, and says how to quit
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunsScreen) and len(app.screen_stack) == 2
        assert any("q quits" in n.message for n in app._notifications)


async def test_escape_goes_back_compare_then_runs_list_then_the_view_before(root: Path) -> None:
    write_run(root, "a")
    write_run(root, "b")
    app = GrokApp(root=root, watch="a")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        first = app.screen
        assert isinstance(first, LiveScreen)
        await pilot.press("g")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("space", "space", "c")
        await pilot.pause(0.2)
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunsScreen)
        # A run opened from the list comes back to it too, and g from there returns to the same list.
        app.screen.query_one(DataTable).move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, LiveScreen) and app.screen is not first
        await pilot.press("g")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunsScreen) and len(app.screen_stack) == 3
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.screen is first


async def test_a_started_run_replaces_its_form_so_escape_never_reaches_it(root: Path) -> None:
    app = GrokApp(long_config("nav"), root=root, config_given=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        assert not any(isinstance(screen, FormScreen) for screen in app.screen_stack)
        assert "escape" not in footer_order(app)  # nothing before it
        await pilot.press("escape")
        assert isinstance(app.screen, LiveScreen)
        # The form opened while the run trains offers its stop.
        await pilot.press("n")
        await pilot.pause(0.1)
        assert isinstance(app.screen, FormScreen) and "x" in footer_order(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.training is None)
        await pilot.pause(0.1)
        assert "x" not in footer_order(app)


async def test_the_footer_names_q_and_help_first_at_80_columns(root: Path) -> None:
    write_run(root, "a")
    write_run(root, "b")
    app = GrokApp(root=root, watch="a")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert footer_order(app)[:2] == ["q", "question_mark"]
        await pilot.press("g")
        await pilot.pause(0.2)
        assert footer_order(app)[:2] == ["q", "question_mark"]
        await pilot.press("space", "space", "c")
        await pilot.pause(0.2)
        assert isinstance(app.screen, CompareScreen) and footer_order(app)[:2] == ["q", "question_mark"]
    app = GrokApp(tiny_config(tag="form"), root=root, config_given=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert footer_order(app)[:2] == ["q", "question_mark"]


def test_the_help_names_every_key_of_the_readmes_tui_table() -> None:
    section = README.read_text().split("### The TUI", 1)[1].split("\n### ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(table) > 10
    help_text = re.sub(r"\[/?b\]", "", HELP)
    for row in table:
        first_cell = row.split("|")[1]
        for key in re.findall(r"`([^`]+)`", first_cell):
            for word in key.split():
                assert word in help_text, (word, row)
    for word in ("cursor", "zoom", "smoothing", "legends", "spectrum", "status panel"):
        assert word in help_text


async def test_the_delete_dialog_names_the_epoch_without_a_stray_comma(root: Path) -> None:
    write_run(root, "a", epochs=1500)
    app = GrokApp(root=root, watch="a")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("g")
        await pilot.pause(0.2)
        await pilot.press("D")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmDelete)
        text = str(app.screen.query_one(Static).render())
        assert "Delete run 'a' (trained to epoch 1,500)?" in text and ",?" not in text
        await pilot.press("n")
