"""The TUI driven through Textual's Pilot: form validation, training in the worker, keys, watch, layout."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from textual.widgets import Button, Input, Static

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import RunLogWriter, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.tui.app import GrokApp
from grok_tui.tui.charts import MetricChart
from grok_tui.tui.form import FormScreen
from grok_tui.tui.live import LiveScreen, StatusPanel


async def wait_for(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until condition() holds (the trainer works in a real thread)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.1)


def long_config(tag: str = "tui"):  # type: ignore[no-untyped-def]
    return tiny_config(tag=tag, num_epochs=1_000_000, log_every=20, checkpoint_every=100_000)


def status_text(app: GrokApp) -> str:
    return str(app.screen.query_one(StatusPanel).render())


async def test_invalid_p_shows_its_message_and_disables_start(root: Path) -> None:
    app = GrokApp(tiny_config(tag="form"), root=root, config_given=True)
    async with app.run_test(size=(100, 40)) as pilot:
        assert isinstance(app.screen, FormScreen)
        start = app.screen.query_one("#start", Button)
        assert not start.disabled
        app.screen.query_one("#in-p", Input).value = "12"
        await pilot.pause()
        message = str(app.screen.query_one("#err-p", Static).render())
        assert "p: must be a prime" in message
        assert start.disabled
        app.screen.query_one("#in-p", Input).value = "13"
        app.screen.query_one("#in-lr", Input).value = "abc"
        await pilot.pause()
        assert str(app.screen.query_one("#err-p", Static).render()) == ""
        assert "lr: must be a number" in str(app.screen.query_one("#err-lr", Static).render())
        assert start.disabled
        await pilot.press("s")  # Start is disabled: nothing may be written
        await pilot.pause()
    assert not (root / "logs" / "form").exists()


async def test_existing_tag_offers_resume_and_refuses_a_changed_experiment(root: Path) -> None:
    from grok_tui.training.trainer import train_grokking

    train_grokking(tiny_config(tag="old", num_epochs=20), root=root)
    app = GrokApp(tiny_config(tag="old", num_epochs=40), root=root, config_given=True)
    async with app.run_test(size=(100, 40)) as pilot:
        start = app.screen.query_one("#start", Button)
        assert str(start.label) == "Resume" and not start.disabled
        app.screen.query_one("#in-p", Input).value = "13"
        await wait_for(pilot, lambda: start.disabled)  # the Changed message is handled on a later turn (slow under load)
        assert "exists with other settings" in str(app.screen.query_one("#err-tag", Static).render())


async def test_start_stop_resume_export_and_quit(root: Path) -> None:
    paths = RunPaths.of("tui", root)
    app = GrokApp(long_config(), root=root, config_given=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")  # focus starts on the Start button
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and len(app.screen.series) >= 3)
        live = app.screen
        assert isinstance(live, LiveScreen)
        # Points reached the charts (drawn from the log, not from the trainer).
        await pilot.pause(0.6)
        assert all(chart._drawn_key is not None and chart._drawn_key[0] >= 3 for chart in live.query(MetricChart))
        assert "training" in status_text(app)
        # x: stop after the current epoch, with a checkpoint.
        await pilot.press("x")
        await wait_for(pilot, lambda: app.training is None)
        stopped_at = load_checkpoint(paths.checkpoint)["epoch"]
        assert read_log(paths.log)[-1]["epoch"] == stopped_at
        # r: resume from that epoch.
        await pilot.press("r")
        await wait_for(pilot, lambda: app.training is not None)
        await wait_for(pilot, lambda: read_log(paths.log)[-1]["epoch"] > stopped_at + 40)
        epochs = [r["epoch"] for r in read_log(paths.log)]
        assert epochs == sorted(set(epochs))  # strictly increasing: no duplicates after resume
        # e: export while training writes figures named by their epoch, and the notification names them;
        # the run's usual figures (written at its end) are left alone.
        await pilot.press("e")
        await wait_for(pilot, lambda: any("exported" in n.message for n in app._notifications))
        exported = [n.message for n in app._notifications if "exported" in n.message][0]
        snapshots = sorted(paths.log_dir.glob("training_curves-epoch*.png"))
        assert len(snapshots) == 1 and snapshots[0].stat().st_size > 10_000
        assert str(snapshots[0]) in exported
        assert not paths.curves_png.exists()
        # q while training: stop with a checkpoint, then exit.
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    final = load_checkpoint(paths.checkpoint)["epoch"]
    assert final > stopped_at and read_log(paths.log)[-1]["epoch"] == final
    assert not paths.lock.exists()
    assert app.return_value == 0


async def test_trainer_error_is_shown_and_app_stays_usable(root: Path) -> None:
    paths = RunPaths.of("broken", root)
    tiny_config(tag="broken").save(paths.config)
    paths.model_dir.mkdir(parents=True)
    paths.checkpoint.write_bytes(b"not a checkpoint")
    app = GrokApp(tiny_config(tag="broken"), root=root, config_given=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.training is None and isinstance(app.screen, LiveScreen))
        await pilot.pause(0.3)
        messages = [n.message for n in app._notifications]
        assert any("failed" in m and "checkpoint" in m for m in messages), messages
        assert "error" in status_text(app)
        await pilot.press("question_mark")  # still responsive
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
    assert paths.checkpoint.read_bytes() == b"not a checkpoint"  # never overwritten


async def test_watch_follows_a_log_written_by_another_thread(root: Path) -> None:
    config = tiny_config(tag="watched", num_epochs=1000)
    paths = RunPaths.of("watched", root)
    config.save(paths.config)
    writer = RunLogWriter(paths.log)
    writer.write({"epoch": 0, "train_loss": 2.5, "test_loss": 2.5, "train_acc": 0.1, "test_acc": 0.1,
                  "lr": 0.0, "weight_norm": 10.0, "elapsed_s": 0.0})
    stop = threading.Event()

    def grow() -> None:
        epoch = 0
        while not stop.is_set() and epoch < 990:
            epoch += 10
            writer.write({"epoch": epoch, "train_loss": 2.5 / (1 + epoch), "test_loss": 2.5, "train_acc": 1.0,
                          "test_acc": min(1.0, epoch / 500), "lr": 1e-3, "weight_norm": 10.0, "elapsed_s": epoch / 100})
            time.sleep(0.05)

    app = GrokApp(root=root, watch="watched")
    async with app.run_test(size=(100, 30)) as pilot:
        live = app.screen
        assert isinstance(live, LiveScreen) and live.read_only
        thread = threading.Thread(target=grow)
        thread.start()
        try:
            await wait_for(pilot, lambda: len(live.series) >= 20, timeout=10)
            await wait_for(pilot, lambda: live.series.grokked_epoch is not None, timeout=20)
        finally:
            stop.set()
            thread.join()
        assert live.series.grokked_epoch == 500
        await pilot.pause(0.6)
        assert "grokked" in status_text(app)
        # The run is cut back (as on resume): the view starts over from the rewritten file.
        from grok_tui.run.log import cut_back

        cut_back(paths.log, 100)
        await wait_for(pilot, lambda: len(live.series) == 11, timeout=5)
        assert live.series.grokked_epoch is None
    writer.close()


async def test_80x24_keeps_every_part_visible(root: Path) -> None:
    config = tiny_config(tag="small", num_epochs=1000)
    paths = RunPaths.of("small", root)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, 1001, 10):
            writer.write({"epoch": epoch, "train_loss": 2.0 / (1 + epoch), "test_loss": 2.0, "train_acc": 1.0,
                          "test_acc": 0.5, "lr": 1e-3, "weight_norm": 5.0, "elapsed_s": epoch / 50})
    app = GrokApp(root=root, watch="small")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        screen = app.screen
        parts = [screen.query_one("#loss-chart"), screen.query_one("#acc-chart"), screen.query_one("#status"),
                 screen.query_one("#progress")]
        for part in parts:
            region = part.region
            assert region.width > 0 and region.height > 0, part
            assert region.right <= 80 and region.bottom <= 24, (part, region)
        for i, a in enumerate(parts):
            for b in parts[i + 1:]:
                assert not a.region.overlaps(b.region), (a, b)
        assert screen.query_one("#loss-chart").region.width >= 40
        assert "1,000/1,000" in status_text(app)


async def test_runs_list_shows_every_run_and_opens_one(root: Path) -> None:
    from textual.widgets import DataTable

    from grok_tui.training.trainer import train_grokking
    from grok_tui.tui.screens import RunsScreen

    train_grokking(tiny_config(tag="alpha", num_epochs=20), root=root)
    train_grokking(tiny_config(tag="beta", num_epochs=10), root=root)
    app = GrokApp(tiny_config(tag="form"), root=root, config_given=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        table = app.screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]  # Text cells
        # mark, tag, the differing field (num_epochs), epoch, memorized, grokked, test acc, status, started
        assert [row[1] for row in rows] == ["alpha", "beta"] and [row[2] for row in rows] == ["20", "10"]
        assert rows[0][3] == "20/20" and rows[1][3] == "10/10"
        assert all(row[-2] == "finished" for row in rows)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        assert app.screen.paths.tag == "beta" and app.screen.read_only
        await pilot.pause(0.3)
        assert "10/10" in status_text(app)


async def test_command_palette_offers_the_actions_of_the_state(root: Path) -> None:
    app = GrokApp(tiny_config(tag="palette"), root=root, config_given=True)
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Start (s)" in titles and "Stop (x)" not in titles
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.training is None)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Resume (r)" in titles and "Export PNG (e)" in titles and "Stop (x)" not in titles


async def test_form_at_80x24_keeps_start_reachable(root: Path) -> None:
    app = GrokApp(tiny_config(tag="small-form"), root=root, config_given=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form, actions = app.screen.query_one("#form"), app.screen.query_one("#actions")
        start = app.screen.query_one("#start", Button)
        assert form.region.height >= 10 and not form.region.overlaps(actions.region)
        assert start.region.height >= 1 and start.region.bottom <= 23  # above the footer, on screen
        assert app.screen.focused is start  # `s` or Enter starts without scrolling to the button
        assert form.max_scroll_y == 0  # every field of a valid form is on screen at once
