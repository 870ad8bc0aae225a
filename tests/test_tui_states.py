"""Keys that do what they say in every state, and a form without traps (issue #15 items 9, 10, 13, 14, 15),
driven through Textual's Pilot."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Input, Select, Static

from conftest import tiny_config
from grok_tui.core.config import Config, preset
from grok_tui.run.log import RunLogWriter, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking
from grok_tui.tui.app import GrokApp
from grok_tui.tui.form import FormScreen
from grok_tui.tui.live import LiveScreen, StatusPanel
from grok_tui.tui.screens import ConfirmDelete


async def wait_for(pilot: Any, condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.1)


def status_text(app: GrokApp) -> str:
    return str(app.screen.query_one(StatusPanel).render())


def footer_keys(app: GrokApp) -> set[str]:
    """The descriptions the footer shows: enabled bindings with show=True."""
    return {b.binding.description for b in app.screen.active_bindings.values() if b.binding.show and b.enabled}


def messages(app: GrokApp) -> list[str]:
    return [n.message for n in app._notifications]


def palette(app: GrokApp) -> list[str]:
    return [command.title for command in app.get_system_commands(app.screen)]


async def test_watching_a_run_another_process_trains_offers_only_what_works(root: Path) -> None:
    config = tiny_config(tag="w1", num_epochs=1000)
    paths = RunPaths.of("w1", root)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, 301, 10):
            writer.write({"epoch": epoch, "train_loss": 1.0, "test_loss": 2.0, "train_acc": 1.0, "test_acc": 0.2,
                          "lr": 1e-3, "weight_norm": 5.0, "elapsed_s": epoch / 100})
    holder = subprocess.Popen(  # another process holds the run's lock, as `grok-tui train` does
        [sys.executable, "-c", "import sys, time; from grok_tui.run.lock import RunLock; from grok_tui.run.paths import RunPaths; "
         f"RunLock(RunPaths.of('w1', {str(root)!r})).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        app = GrokApp(root=root, watch="w1")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.6)
            assert "Stop" not in footer_keys(app) and "Resume" not in footer_keys(app)
            assert "Stop (x)" not in palette(app) and "Resume (r)" not in palette(app)
            assert f"trained by PID {holder.pid}" in status_text(app)
            await pilot.press("r", "x")
            await pilot.pause(0.3)
            said = messages(app)
            assert len(said) == 2 and all(f"trained by PID {holder.pid}" in m for m in said), said
            assert not any("failed" in m for m in said)
            assert app.training is None and app.screen.read_only
            assert "(watching)" in status_text(app) and "error" not in status_text(app)
            holder.kill()
            holder.wait()
            await wait_for(pilot, lambda: "state    stopped" in status_text(app), timeout=5)
            assert "error" not in status_text(app) and "(watching)" in status_text(app)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.figures
async def test_r_and_x_on_a_finished_run_say_so_and_keep_the_view(root: Path) -> None:
    train_grokking(tiny_config(tag="done", num_epochs=20), root=root)
    paths = RunPaths.of("done", root)
    figures = {path: path.stat().st_mtime_ns for path in (paths.curves_png, paths.measures_png) if path.exists()}
    assert paths.curves_png in figures
    app = GrokApp(root=root, watch="done")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        live = app.screen
        await pilot.press("l", "r")
        await pilot.pause(0.3)
        assert app.training is None and app.screen is live and live.log_x  # the same view, still log x
        assert any("finished at epoch 20: raise num_epochs in the form (n) to train longer" in m
                   for m in messages(app)), messages(app)
        await pilot.press("x")
        await pilot.pause(0.3)
        assert any("'done' is not training here: finished at epoch 20" in m for m in messages(app)), messages(app)
        assert {path: path.stat().st_mtime_ns for path in figures} == figures  # no figure rewritten
        # n: the form with this run's settings, where raising the epochs trains it longer.
        await pilot.press("n")
        await pilot.pause(0.3)
        form = app.screen
        assert isinstance(form, FormScreen)
        assert form.query_one("#in-tag", Input).value == "done"
        assert "finished at epoch 20" in str(form.query_one("#run-note", Static).render())
        form.query_one("#in-num_epochs", Input).value = "40"
        await pilot.pause()
        assert str(form.query_one("#start", Button).label) == "Resume"
        form.action_start()
        await wait_for(pilot, lambda: app.training is not None)
        await wait_for(pilot, lambda: app.training is None)
    assert [r["epoch"] for r in read_log(paths.log)][-3:] == [20, 30, 40]


async def test_replacing_a_run_needs_a_fresh_tick_and_a_confirmation_naming_it(root: Path) -> None:
    train_grokking(tiny_config(tag="old", num_epochs=20), root=root)
    paths = RunPaths.of("old", root)
    app = GrokApp(tiny_config(tag="new1", num_epochs=20, seed=1, device="auto"), root=root, config_given=True)
    async with app.run_test(size=(100, 34)) as pilot:
        form = app.screen
        box = form.query_one("#fresh", Checkbox)
        start = form.query_one("#start", Button)
        assert "[ ]" in str(box.render())
        box.value = True  # ticked while the tag is new...
        await pilot.pause()
        assert "[x]" in str(box.render())
        form.query_one("#in-tag", Input).value = "old"  # ...then the tag names an existing run
        await pilot.pause()
        assert not box.value  # the tick does not carry over to another run
        assert start.disabled and "exists with other settings (seed" in str(form.query_one("#err-tag", Static).render())
        box.value = True
        await pilot.pause()
        assert not start.disabled and str(start.label) == "Replace" and "Replace" in footer_keys(app)
        assert "run 'old' (at epoch 20)" in str(form.query_one("#run-note", Static).render())
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDelete)
        question = str(app.screen.query_one(Static).render())
        assert "Replace run 'old' (trained to epoch 20) with a new run" in question
        await pilot.press("n")  # keep it
        await pilot.pause()
        assert isinstance(app.screen, FormScreen) and app.training is None
        assert Config.load(paths.config).seed == 0 and any("kept 'old'" in m for m in messages(app))
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.training is None)
        await pilot.pause(0.6)
        # #15 item 7: once the run has ended, the device is the one it used (sessions.jsonl), not 'auto'.
        assert "device   cpu" in status_text(app) and "auto" not in status_text(app)
    assert Config.load(paths.config).seed == 1  # replaced, after the confirmation only
    assert [r["epoch"] for r in read_log(paths.log)] == [0, 10, 20]


async def test_form_shows_the_preset_the_mlp_width_and_every_fields_message(root: Path) -> None:
    app = GrokApp(preset("quick", tag="pq", num_epochs=100_000, device="cpu"), root=root, config_given=True)
    async with app.run_test(size=(100, 34)) as pilot:
        await pilot.pause()
        form = app.screen
        selector = form.query_one("#preset", Select)
        assert selector.value == "quick"
        assert form.query_one("#in-num_epochs", Input).value == "100000"  # the flag's value, kept
        assert form.query_one("#in-d_mlp", Input).placeholder == "4 x d_model = 256"
        form.query_one("#in-d_model", Input).value = "32"
        await pilot.pause()
        assert form.query_one("#in-d_mlp", Input).placeholder == "4 x d_model = 128"
        assert selector.value is Select.NULL  # custom: no longer the quick experiment
        form.query_one("#in-d_model", Input).value = "64"
        form.query_one("#in-p", Input).value = "48"
        form.query_one("#in-frac_train", Input).value = ""
        await pilot.pause()
        assert "p: must be a prime" in str(form.query_one("#err-p", Static).render())
        assert "frac_train: must be a number" in str(form.query_one("#err-frac_train", Static).render())
        assert form.query_one("#start", Button).disabled


async def test_form_at_80x24_fits_shows_focus_and_names_its_keys(root: Path) -> None:
    train_grokking(tiny_config(tag="have", num_epochs=10), root=root)
    app = GrokApp(tiny_config(tag="fits"), root=root, config_given=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form = app.screen
        actions = form.query_one("#actions")
        for field in form.query(".field-input"):  # every group, schedule included, above the fold
            assert 0 < field.region.bottom <= actions.region.y and field.region.right <= 80, field
        box = form.query_one("#fresh", Checkbox)
        assert box.region.right <= 80 and box.region.width >= len(str(box.label)) + 4  # the label is whole
        chain = form.focus_chain
        assert all(widget.id and (widget.id.startswith("in-") or widget.id in ("preset", "start", "fresh"))
                   for widget in chain), chain  # no container without a focus style among the Tab stops
        # Enter moves on to the next field, Escape leaves the fields for the Start button.
        tag_field = form.query_one("#in-tag", Input)
        tag_field.focus()
        await pilot.pause()
        assert {"Next field", "Leave field"} <= footer_keys(app)  # the footer is not empty in a field
        await pilot.press("enter")
        assert form.focused is chain[chain.index(tag_field) + 1]
        await pilot.press("escape")
        assert form.focused is form.query_one("#start", Button)
        assert "Start" in footer_keys(app) and "Resume" not in footer_keys(app)
        tag_field.value = "have"
        await pilot.pause()
        assert str(form.query_one("#start", Button).label) == "Resume"
        assert "Resume" in footer_keys(app) and "Start" not in footer_keys(app)
        # The run's note takes a row from the fields: every one of them still fits above it.
        note = form.query_one("#run-note", Static)
        assert note.display and "run 'have'" in str(note.render()) and note.region.height == 1
        for field in form.query(".field-input"):
            assert 0 < field.region.bottom <= actions.region.y, field


async def test_help_fits_80x24_and_100x30_unwrapped_and_names_the_palette(root: Path) -> None:
    import re

    from grok_tui.tui.screens import HELP, HelpScreen

    lines = [re.sub(r"\[/?b\]", "", line) for line in HELP.splitlines()]
    assert "ctrl+p" in HELP and "[b]m[/b] measures" in HELP
    for size in ((80, 24), (100, 30)):
        app = GrokApp(tiny_config(tag="help"), root=root, config_given=True)
        async with app.run_test(size=size) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            box = app.screen.query_one("#help")
            text = app.screen.query_one("#help Static")
            assert box.max_scroll_y == 0, size  # nothing below the fold
            assert text.region.height == len(lines), size  # one screen line per line: not re-wrapped
            assert box.region.bottom <= size[1] and box.region.right <= size[0]


async def test_a_backspace_that_arrives_with_typed_keys_runs_in_order(root: Path) -> None:
    """'\\x7f\\x7f29' in one read (fast typing over SSH) must turn p=48 into 29: Textual 8.2.8's Input ran the
    backspaces after the digits (README, Known issues); the form's fields run their keys in order."""
    from textual import events

    app = GrokApp(tiny_config(tag="fast", p=48), root=root, config_given=True)
    async with app.run_test(size=(100, 34)) as pilot:
        field = app.screen.query_one("#in-p", Input)
        field.focus()
        await pilot.pause()
        field.cursor_position = len(field.value)
        for key, character in (("backspace", None), ("backspace", None), ("2", "2"), ("9", "9")):
            app.post_message(events.Key(key, character))  # all queued before any is handled
        await pilot.pause(0.3)
        assert field.value == "29"
