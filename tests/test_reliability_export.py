"""`export --out` never replaces a file grok-tui owns under the root (issue 23, S3), and a folder that is not
there is one line, never created on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs A and B, and a sweep definition, under one root."""
    root = tmp_path_factory.mktemp("export-root")
    for tag in ("A", "B"):
        train_grokking(tiny_config(tag=tag, num_epochs=20), root=root)
    (root / "sweeps").mkdir()
    (root / "sweeps" / "sw.json").write_text("{}\n")
    return root


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def refused(root: Path, out: str, capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    before = snapshot(root)
    assert main(["export", "A", "--out", out, "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("grok-tui: error: out: "), err
    for needle in needles:
        assert needle in err, err
    assert snapshot(root) == before


@pytest.mark.parametrize("target", ["models/B/checkpoint.pth", "logs/B/training_log.jsonl", "logs/B/new.pt",
                                    "models/B/snapshots/x.pt", "sweeps/sw.json", "logs/C/x.pt", "models/x.pt"])
def test_export_into_any_run_folder_or_sweep_file_is_refused(root: Path, target: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    refused(root, str(root / target), capsys, "where grok-tui keeps runs and sweeps")
    assert RunPaths.of("B", root).checkpoint.exists()


def test_the_check_is_on_the_resolved_path(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "into-b").symlink_to(root / "models" / "B")  # a folder link into run B
    refused(root, str(tmp_path / "into-b" / "checkpoint.pth"), capsys, "where grok-tui keeps runs")
    (tmp_path / "b.pth").symlink_to(root / "models" / "B" / "checkpoint.pth")  # a file link to B's checkpoint
    refused(root, str(tmp_path / "b.pth"), capsys, "where grok-tui keeps runs")
    refused(root, str(root / "logs" / ".." / "logs" / "B" / "config.json"), capsys, "where grok-tui keeps runs")


def test_a_folder_that_is_not_there_or_a_dangling_link_is_one_line_and_nothing_is_created(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused(root, str(tmp_path / "missing" / "deeper" / "w.pt"), capsys, "does not exist")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    refused(root, str(tmp_path / "dangling" / "w.pt"), capsys, "does not exist")
    assert not (tmp_path / "nowhere").exists()


def test_export_beside_the_runs_in_the_root_itself_is_allowed(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = root / "A-weights.pt"
    try:
        assert main(["export", "A", "--out", str(out), "--root", str(root)]) == 0
        assert out.stat().st_size > 0
    finally:
        out.unlink(missing_ok=True)
