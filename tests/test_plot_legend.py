"""The comparison figure's legend fits its width: long group labels get fewer columns, never cut off."""

from __future__ import annotations

from matplotlib.figure import Figure

from grok_tui.figures.style import COMPARE_SIZE, legend_columns


def test_long_labels_take_one_column_and_short_ones_three() -> None:
    fig = Figure(figsize=COMPARE_SIZE)
    long = ["wd=1 grokfast=none orthograd=False loss=softmax (3 seeds): grokked 1,290 (600-2,190)"] * 4
    assert legend_columns(fig, long, narrow=False) == 1
    assert legend_columns(fig, ["wd=1: grokked 1,290", "wd=0.3: not grokked", "wd=3: x", "y"], narrow=False) == 3
    assert legend_columns(fig, ["a", "b"], narrow=False) == 2  # never more columns than labels
    assert legend_columns(fig, ["a", "b", "c"], narrow=True) == 1


def test_the_drawn_legend_fits_inside_the_figure() -> None:
    fig = Figure(figsize=COMPARE_SIZE, layout="constrained")
    ax = fig.subplots()
    labels = [f"wd={i} grokfast=none orthograd=False loss=stablemax (3 seeds): grokked 1,{i}00 (860-1,610)"
              for i in range(6)]
    lines = [ax.plot([0, 1], [i, i])[0] for i in range(6)]
    legend = fig.legend(lines, labels, loc="outside lower center", ncols=legend_columns(fig, labels, False))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box, frame = legend.get_window_extent(renderer), fig.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1
