"""Every way the TUI ends stops its trainer after the epoch, with a checkpoint, frees the run's lock and
exits with the right status (issue #16 item 4; the signals are tested on a real process in
tests/test_e2e_tmux.py). The app runs headless through GrokApp.run, the path `grok-tui` takes, so the
returned value is the process's exit status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.lock import lock_owner
from grok_tui.tui.app import GrokApp
from grok_tui.tui.live import LiveScreen

NUM_EPOCHS = 1_000_000  # never reached: the test fails by timing out if the trainer runs on


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.1)


def run_app(root: Path, tag: str, then: Callable[[Any, GrokApp], Awaitable[None]]) -> int | None:
    """Start training `tag` from the form, wait for a few log lines, run `then`, and return run()'s status."""
    config = tiny_config(tag=tag, num_epochs=NUM_EPOCHS, log_every=20, checkpoint_every=NUM_EPOCHS, threads=1)
    app = GrokApp(config, root=root, config_given=True)
    paths = RunPaths.of(tag, root)

    async def drive(pilot: Any) -> None:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and len(read_log(paths.log)) >= 3)
        await then(pilot, app)
        deadline = time.monotonic() + 20
        while app.is_running and time.monotonic() < deadline:  # the app must end by itself
            await asyncio.sleep(0.1)

    started = time.monotonic()
    status = app.run(headless=True, size=(100, 30), auto_pilot=drive)
    assert time.monotonic() - started < 25, "the app did not end promptly"
    return status


def assert_stopped_with_checkpoint(root: Path, tag: str) -> None:
    paths = RunPaths.of(tag, root)
    last_epoch = read_log(paths.log)[-1]["epoch"]
    assert 0 < last_epoch < NUM_EPOCHS
    assert load_checkpoint(paths.checkpoint)["epoch"] == last_epoch  # the stop's checkpoint, not an old one
    assert lock_owner(paths) is None and not paths.lock.exists()


def test_ctrl_q_stops_the_trainer_with_a_checkpoint(root: Path) -> None:
    async def press_ctrl_q(pilot: Any, app: GrokApp) -> None:
        await pilot.press("ctrl+q")

    assert run_app(root, "ctrl-q", press_ctrl_q) == 0
    assert_stopped_with_checkpoint(root, "ctrl-q")


def test_the_palettes_quit_stops_the_trainer_with_a_checkpoint(root: Path) -> None:
    seen: list[str] = []

    async def quit_from_the_palette(pilot: Any, app: GrokApp) -> None:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        seen.extend(titles)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"quit")
        await pilot.pause(0.5)
        await pilot.press("enter")

    assert run_app(root, "palette", quit_from_the_palette) == 0
    assert "Quit (q)" in seen and "Quit" not in seen  # Textual's own Quit (exit at once) is replaced
    assert_stopped_with_checkpoint(root, "palette")


def test_q_stops_the_trainer_with_a_checkpoint(root: Path) -> None:
    async def press_q(pilot: Any, app: GrokApp) -> None:
        await pilot.press("q")

    assert run_app(root, "q", press_q) == 0
    assert_stopped_with_checkpoint(root, "q")


def test_an_exception_in_the_ui_stops_the_trainer_and_exits_non_zero(root: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: LiveScreen) -> None:
        raise RuntimeError("a bug in the live view")

    async def break_the_view(pilot: Any, app: GrokApp) -> None:
        monkeypatch.setattr(LiveScreen, "update_status", broken)  # raised at the view's next poll

    assert run_app(root, "crash", break_the_view) == 1
    assert_stopped_with_checkpoint(root, "crash")


async def test_ctrl_c_points_to_q(root: Path) -> None:
    """Textual's ctrl+c hint named ctrl+q, which used to leave the trainer running; q is the way out."""
    app = GrokApp(tiny_config(tag="hint"), root=root, config_given=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any(m.startswith("press q to quit") for m in said) and not any("ctrl+q" in m for m in said), said
