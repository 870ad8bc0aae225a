"""PNG curves: written atomically at the right size, log-scale loss, markers at 99% train and test accuracy."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.core.errors import NoDataError
from grok_tui.figures.curves import plot_training_curves
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths


def _fake_run(root: Path, tag: str = "fake") -> RunPaths:
    """A run folder with a synthetic grokking-shaped log: memorized at 200, grokked at 1500."""
    config = tiny_config(tag=tag, num_epochs=2000)
    paths = RunPaths.of(tag, root)
    config.save(paths.config)
    with RunLogWriter(paths.log) as log:
        for epoch in range(0, 2001, 100):
            train_acc = min(1.0, epoch / 200)
            test_acc = 0.05 if epoch < 1000 else min(1.0, 0.05 + (epoch - 1000) / 500)
            log.write({"epoch": epoch, "train_loss": 2.5 * 10 ** (-epoch / 400), "test_loss": 3.0 / (1 + epoch / 500),
                       "train_acc": train_acc, "test_acc": test_acc, "lr": 1e-3, "weight_norm": 50.0,
                       "elapsed_s": epoch / 100})
    return paths


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_written_with_resolution_and_content(root: Path) -> None:
    paths = _fake_run(root)
    fig = plot_training_curves("fake", root=root)
    width, height = _png_size(paths.curves_png)
    assert width >= 12 * 150 - 2 and height >= 4.8 * 150 - 2  # 150 dpi at 12 x 4.8 inches
    assert paths.curves_png.stat().st_size > 30_000
    loss_ax, acc_ax = fig.axes[:2]
    assert loss_ax.get_yscale() == "log"
    assert "fake: p=11, x + y" in fig.get_suptitle() and "wd=1" in fig.get_suptitle()
    # Dashed markers at the first epochs with train and test accuracy >= 99%.
    markers = sorted({line.get_xdata()[0] for line in acc_ax.lines if len(set(line.get_xdata())) == 1})
    assert markers == [200, 1500]
    assert not list(paths.log_dir.glob("*.tmp"))


def test_out_path_log_x_and_dpi(root: Path, tmp_path: Path) -> None:
    _fake_run(root)
    out = tmp_path / "elsewhere" / "curves.png"
    fig = plot_training_curves("fake", out=out, root=root, log_x=True, dpi=200)
    assert _png_size(out)[0] >= 12 * 200 - 2
    assert all(ax.get_xscale() == "log" for ax in fig.axes[:2])
    assert not RunPaths.of("fake", root).curves_png.exists()  # only `out` was written


def test_config_object_is_accepted(root: Path) -> None:
    _fake_run(root, "viaconfig")
    plot_training_curves(tiny_config(tag="viaconfig"), root=root)
    assert RunPaths.of("viaconfig", root).curves_png.exists()


def test_no_records_is_a_clear_error(root: Path) -> None:
    with pytest.raises(NoDataError, match="no log records"):
        plot_training_curves("empty", root=root)


def test_show_plot_without_display_warns_and_still_writes(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    paths = _fake_run(root)
    with pytest.warns(UserWarning, match="no display"):
        plot_training_curves("fake", root=root, show_plot=True)
    assert paths.curves_png.exists()
