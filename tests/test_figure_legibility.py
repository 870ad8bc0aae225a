"""Figures at the sizes a paper uses (issue 22, item 5): no legend over the data of any panel, legends and
titles inside the figure, at the default sizes and the smallest accepted; a smaller size is refused with one
line naming the minimum (exit 2)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from grok_tui.cli.main import main
from grok_tui.figures.comparison import plot_comparison
from grok_tui.figures.curves import plot_progress_measures, plot_training_curves
from grok_tui.figures.style import COMPARE_SIZE, CURVES_SIZE, MEASURES_SIZE, MIN_SIZES
from test_labels import OG_STABLEMAX, write_run


@pytest.fixture
def runs(root: Path) -> Path:
    write_run(root, "q", seed=0)
    write_run(root, "q1", 600, seed=1)
    write_run(root, "og", **OG_STABLEMAX)
    return root


def legends(fig: Figure) -> list[Legend]:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]


def check_layout(fig: Figure) -> None:
    """Every legend inside the figure and off every panel's data area (the axes' box); the title inside."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = legends(fig)
    assert boxes, "the figure has a legend"
    for legend in boxes:
        box = legend.get_window_extent(renderer)
        assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1 and fig.bbox.y0 - 1 <= box.y0, box
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert not box.overlaps(ax.get_window_extent(renderer)), (legend.get_texts()[0].get_text(), ax.get_title())
    title = fig._suptitle
    assert title is not None
    extent = title.get_window_extent(renderer)  # the wrapped title is no wider than the figure
    assert fig.bbox.x0 - 1 <= extent.x0 and extent.x1 <= fig.bbox.x1 + 1


@pytest.mark.parametrize("size", [CURVES_SIZE, MIN_SIZES["curves"]])
def test_the_curves_legend_is_off_the_data(runs: Path, tmp_path: Path, size: tuple[float, float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constrained layout giving up is a warning: never at an accepted size
        check_layout(plot_training_curves("og", out=tmp_path / "c.png", root=runs, size=size))


@pytest.mark.parametrize("size", [MEASURES_SIZE, MIN_SIZES["measures"]])
def test_the_measures_legends_are_off_the_data(runs: Path, tmp_path: Path, size: tuple[float, float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_progress_measures("q", out=tmp_path / "m.png", root=runs, size=size)
    check_layout(fig)
    # the restricted/excluded loss panel has its legend, below it
    loss_ax = fig.axes[0]
    assert loss_ax.get_legend() is not None and "restricted loss (all inputs)" in [
        t.get_text() for t in loss_ax.get_legend().get_texts()]


@pytest.mark.parametrize("size", [COMPARE_SIZE, MIN_SIZES["comparison"], MIN_SIZES["wide comparison"]])
def test_the_comparison_legend_is_off_the_data(runs: Path, tmp_path: Path, size: tuple[float, float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_layout(plot_comparison(["q", "q1", "og"], out=tmp_path / "c.png", root=runs, size=size, show_runs=True))


@pytest.mark.parametrize("args, figure", [(["q", "og"], "comparison"), (["q", "--measures"], "measures")])
def test_a_size_too_small_to_read_is_refused_naming_the_minimum(runs: Path, capsys: pytest.CaptureFixture[str],
                                                                 args: list[str], figure: str) -> None:
    assert main(["plot", *args, "--root", str(runs), "--width", "3.5", "--height", "2.6"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("grok-tui: error: ")
    least = MIN_SIZES[figure]
    assert f"the {figure} figure needs at least {least[0]:g} x {least[1]:g} inches" in err and "(got 3.5 x 2.6)" in err
    assert not list((runs / "logs").glob("compare-*.png")) and not (runs / "logs" / "q" / "progress_measures.png").exists()


def test_the_one_column_curves_figure_is_accepted(runs: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fig.pdf"
    assert main(["plot", "q", "--root", str(runs), "--out", str(out), "--width", "3.5", "--height", "2.6"]) == 0
    assert out.read_bytes().startswith(b"%PDF") and capsys.readouterr().err == ""
