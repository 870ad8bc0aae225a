"""SVG snapshots of the live charts: every line in braille with the test line's signs, the legend above
the plots and tick labels on the rows of their values at 60x20, 80x24 and 120x40 (and 60x20 with the
status panel hidden), the cursor and its readout, and the spectrogram of W_E in the measures view. Same fixture log as tests/test_snapshots.py.

Regenerate after an intended change of the look: `pytest tests/test_snapshots_charts.py --snapshot-update`,
then look at the SVGs (tests/__snapshots__/) before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grok_tui.tui.app import GrokApp
from test_snapshots import write_fixture_run


@pytest.fixture
def fixture_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a relative root: no temporary path on screen
    write_fixture_run(Path("."), "grokked", 3000, 3000)
    return Path(".")


def settle(pilot):  # type: ignore[no-untyped-def]
    return pilot.pause(0.3)


def test_live_view_60x20(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(60, 20), run_before=settle)


def test_live_view_60x20_without_the_status_panel(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(60, 20), press=["p"], run_before=settle)


def test_live_view_legend_outside_80x24(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_live_view_legend_outside_120x40(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


def test_measures_view_legend_outside_80x24(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(80, 24), press=["m"], run_before=settle)


def test_cursor_readout(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    # The cursor 12 columns from the start: in the circuit-formation phase, test loss still high.
    assert snap_compare(app, terminal_size=(100, 30), press=["c", "home", *["right"] * 12], run_before=settle)


def test_spectrogram_120x40(snap_compare, fixture_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = GrokApp(root=fixture_root, watch="grokked")
    assert snap_compare(app, terminal_size=(120, 40), press=["m"], run_before=settle)
