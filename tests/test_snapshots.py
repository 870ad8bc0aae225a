"""SVG snapshots of the form, the live view and the runs list, fed from fixture logs.

Regenerate after an intended change of the look: `pytest tests/test_snapshots.py --snapshot-update`,
then look at the SVGs (tests/__snapshots__/) before committing them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.runlog import RunLogWriter
from grok_tui.runs import RunPaths
from grok_tui.tui.app import GrokApp


def write_fixture_run(root: Path, tag: str, epochs: int, num_epochs: int) -> None:
    """A grokking-shaped log: memorized by epoch 100, test accuracy rising after 800, grokked near 1,400."""
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
                "lr": 3e-3, "weight_norm": 100.0 - epoch / 100, "elapsed_s": epoch / 80,
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


def test_runs_list(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(tiny_config(tag="snapshot"), root=fixture_root, config_given=True)
    assert snap_compare(app, terminal_size=(100, 20), press=["g"], run_before=lambda pilot: pilot.pause(0.2))
