"""SVG snapshots of the form, the live view and the runs list, fed from fixture logs.

Regenerate after an intended change of the look: `pytest tests/test_snapshots.py --snapshot-update`,
then look at the SVGs (tests/__snapshots__/) before committing them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.tui.app import GrokApp


def fixture_measures(epoch: int) -> dict:
    """Progress measures of the same story: the circuit (frequencies 5, 6, 22 of 23) forms from epoch 100."""
    formed = min(1.0, max(0.0, (epoch - 100) / 900))  # 0 before epoch 100, 1 from epoch 1,000
    norms = [0.9 - 0.7 * formed] * 23
    for k, height in ((5, 5.0), (6, 4.0), (22, 5.5)):
        norms[k - 1] = 0.9 + (height - 0.9) * formed
    return {
        "restricted_loss": 3.9 * 10 ** (-4 * formed), "excluded_loss": 1.0 + 9 * formed,
        "gini_embed": 0.05 + 0.6 * formed, "gini_unembed": 0.05 + 0.7 * formed,
        "key_freqs": [k for k in (5, 6, 22) if formed > 0.2], "embed_freq_norms": norms,
    }


def write_fixture_run(root: Path, tag: str, epochs: int, num_epochs: int) -> None:
    """A grokking-shaped log: memorized by epoch 100, test accuracy rising after 800, grokked near 1,400;
    progress measures every 50 epochs."""
    config = tiny_config(tag=tag, p=47, d_model=64, num_heads=4, num_epochs=num_epochs, log_every=10)
    paths = RunPaths.of(tag, root)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, epochs + 1, 10):
            writer.write({
                "epoch": epoch,
                "train_loss": 3.9 * 10 ** (-epoch / 300),
                "test_loss": 3.9 + 5 * math.exp(-(((epoch - 100) / 300) ** 2)) if epoch < 1500 else 1e-3,
                "train_acc": min(1.0, epoch / 90),
                "test_acc": 0.02 if epoch < 800 else min(1.0, 0.02 + (epoch - 800) / 600),
                "lr": 3e-3, "weight_norm": 100.0 - epoch / 100,
                **(fixture_measures(epoch) if epoch % 50 == 0 else {}),
                "elapsed_s": epoch / 80,
            })


@pytest.fixture
def fixture_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Work in a relative root so no temporary path appears on screen.
    monkeypatch.chdir(tmp_path)
    write_fixture_run(Path("."), "grokked", 3000, 3000)
    write_fixture_run(Path("."), "halfway", 600, 3000)
    return Path(".")


def test_form(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    app = GrokApp(tiny_config(tag="snapshot"), root=Path("."), config_given=True)
    assert snap_compare(app, terminal_size=(100, 34))


def test_live_view(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(100, 30), run_before=lambda pilot: pilot.pause(0.3))


def test_live_view_log_x_80x24(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="halfway")
    assert snap_compare(app, terminal_size=(80, 24), press=["l"], run_before=lambda pilot: pilot.pause(0.3))


def test_measures_view(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(100, 30), press=["m"], run_before=lambda pilot: pilot.pause(0.3))


async def test_measures_view_draws_every_chart_from_the_log_and_toggles_back(fixture_root: Path) -> None:
    from grok_tui.tui.charts import MeasureLossChart, SparsityChart, SpectrogramChart
    from grok_tui.tui.live import LiveScreen, StatusPanel

    app = GrokApp(root=fixture_root, watch="halfway")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        live = app.screen
        assert isinstance(live, LiveScreen)
        measure_charts = [live.query_one(kind) for kind in (MeasureLossChart, SparsityChart, SpectrogramChart)]
        assert all(chart._drawn_key is None for chart in measure_charts)  # hidden: not drawn yet
        await pilot.press("m")
        await pilot.pause(0.3)
        assert all(chart._drawn_key is not None for chart in measure_charts)
        assert not live.query_one("#charts").display and live.query_one("#measures").display
        # The latest measured line (epoch 600) feeds the bars and the status panel.
        assert live.series.freq_epoch == 600 and live.series.key_freqs == [5, 6, 22]
        panel = str(live.query_one(StatusPanel).render())
        assert "key freqs 5 6 22" in panel and "circuit formation" in panel
        assert live.series.circuit_epoch is not None and live.series.memorized_epoch < live.series.circuit_epoch
        await pilot.press("m")
        await pilot.pause(0.1)
        assert live.query_one("#charts").display and not live.query_one("#measures").display


def test_runs_list(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(tiny_config(tag="snapshot"), root=fixture_root, config_given=True)
    assert snap_compare(app, terminal_size=(100, 20), press=["g"], run_before=lambda pilot: pilot.pause(0.2))
