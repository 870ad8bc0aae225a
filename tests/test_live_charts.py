"""The live view's chart keys through Pilot: the epoch cursor and its readout, zoom, smoothing, the
legend, phase labels and the plots' common left margin. Fed from the snapshot tests' fixture log,
whose values are known formulas of the epoch (tests/test_snapshots.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grok_tui.core.text import format_percent, format_sci
from grok_tui.figures.smoothing import smooth_curve
from grok_tui.tui.app import GrokApp
from grok_tui.figures.chartview import to_axis
from grok_tui.tui.charts import CURSOR_COLOR, EVENT_TAGS, ChartPanel, MetricChart
from grok_tui.tui.live import LiveScreen, StatusPanel
from test_snapshots import write_fixture_run


@pytest.fixture
def fixture_root(tmp_path: Path) -> Path:
    write_fixture_run(tmp_path, "grokked", 3000, 3000)
    return tmp_path


def status(live: LiveScreen) -> str:
    return str(live.query_one(StatusPanel).render())


def monitor(live: LiveScreen, chart_id: str):  # type: ignore[no-untyped-def]
    """What a plotext chart was last given: its lines (x, y), vertical lines, texts, limits."""
    return live.query_one(f"#{chart_id}", MetricChart).plt._active.monitor


def train_loss(epoch: int) -> float:  # the fixture's formulas
    return 3.9 * 10 ** (-epoch / 300)


def fixture_test_loss(epoch: int) -> float:
    return 3.9 + 5 * math.exp(-(((epoch - 100) / 300) ** 2)) if epoch < 1500 else 1e-3


async def open_live(app: GrokApp, pilot) -> LiveScreen:  # type: ignore[no-untyped-def]
    await pilot.pause(0.3)
    live = app.screen
    assert isinstance(live, LiveScreen)
    return live


async def test_cursor_moves_along_the_epochs_and_the_panel_reads_every_series_there(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(100, 30)) as pilot:
        live = await open_live(app, pilot)
        assert live.view.cursor is None and "set         loss     acc" in status(live)
        await pilot.press("c")
        assert live.view.cursor == 3000 and "@ 3,000" in status(live)
        await pilot.press("home")
        assert live.view.cursor == 0
        for _ in range(8):
            await pilot.press("right")
        epoch = live.view.cursor
        assert epoch is not None and 0 < epoch < 3000 and epoch % 10 == 0
        # One press is one chart column: 3,000 epochs over the plot's columns, at least one record.
        cols = live.query_one("#loss-chart", MetricChart).plot_cols
        assert abs(epoch - 8 * 3000 / cols) <= 8 * 10
        await pilot.press("shift+right")
        assert live.view.cursor == epoch + 10  # shift: one logged record
        await pilot.press("shift+left")
        await pilot.pause(0.05)
        text = status(live)
        assert f"@ {epoch:,}" in text
        assert f"train  {format_sci(train_loss(epoch)):>9}  {format_percent(min(1.0, epoch / 90))}" in text
        assert f"test   {format_sci(fixture_test_loss(epoch)):>9}  {format_percent(0.02)}" in text
        # The measures shown are those of the last measurement at or before the cursor (every 50).
        measured = epoch - epoch % 50
        assert f"measures @ {measured:,}" in text and f"Σw² {100 - measured / 100:,.0f}" in text
        # Both charts draw the cursor as a vertical line at that epoch.
        for chart_id in ("loss-chart", "acc-chart"):
            lines = monitor(live, chart_id)
            assert any(x == epoch and c == CURSOR_COLOR for x, c in zip(lines.vcoord[0], lines.vcolors[0]))
        await pilot.press("end")
        assert live.view.cursor == 3000
        await pilot.press("m")  # the measures view reads the same cursor
        await pilot.pause(0.2)
        assert "@ 3,000" in status(live) and "key freqs 5 6 22" in status(live)
        await pilot.press("c")
        assert live.view.cursor is None and "set         loss     acc" in status(live)


async def test_zoom_narrows_and_widens_around_the_cursor_and_resets(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(100, 30)) as pilot:
        live = await open_live(app, pilot)
        await pilot.press("c", "home")
        for _ in range(10):
            await pilot.press("right")
        cursor = live.view.cursor
        assert cursor is not None
        await pilot.press("plus")
        assert live.view.zoom is not None
        lo, hi = live.view.zoom
        assert hi - lo == pytest.approx(1500) and lo <= cursor <= hi
        # The cursor keeps its place on screen: the same fraction of the window as before.
        assert (cursor - lo) / (hi - lo) == pytest.approx(cursor / 3000)
        await pilot.pause(0.05)
        xs = np.concatenate([np.array(x) for x in monitor(live, "loss-chart").x])
        assert xs.min() >= lo and xs.max() <= hi and monitor(live, "loss-chart").xlim[0] == [lo, hi]
        assert f"zoom     {lo:,.0f}-{hi:,.0f}" in status(live)
        await pilot.press("equals_sign")  # '=' zooms in too (no shift needed)
        assert live.view.zoom[1] - live.view.zoom[0] == pytest.approx(750)
        await pilot.press("minus")
        assert live.view.zoom[1] - live.view.zoom[0] == pytest.approx(1500)
        # Moving the cursor past the window's edge pans it.
        await pilot.press("end")
        before = live.view.zoom
        for _ in range(5):
            await pilot.press("right")
        assert live.view.zoom[1] > before[1] and live.view.zoom[0] <= live.view.cursor <= live.view.zoom[1]
        await pilot.press("minus")  # wider than the log: the zoom is off and the charts follow the run
        assert live.view.zoom is None
        await pilot.press("plus", "plus", "0")
        assert live.view.zoom is None and "zoom" not in status(live)


async def test_smoothing_key_draws_the_debiased_ema_in_log_space_over_the_raw_curve(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(100, 30)) as pilot:
        live = await open_live(app, pilot)
        assert len(monitor(live, "loss-chart").y) == 3  # train, test and the test line's signs
        await pilot.press("s")
        await pilot.pause(0.05)
        assert live.view.smoothing == 0.6 and "smooth   EMA 0.6" in status(live)
        lines = monitor(live, "loss-chart")
        assert len(lines.y) == 5  # each raw curve (dimmed) under its smoothed one, then the signs
        series = live.series
        smoothed = smooth_curve(series.values("train_loss"), 0.6, log_scale=True)
        by_epoch = dict(zip(series.epochs.tolist(), smoothed.tolist()))
        drawn = dict(zip(lines.x[1], lines.y[1]))  # the smoothed train loss (downsampled: a subset)
        assert drawn and all(by_epoch[int(x)] == pytest.approx(y) for x, y in drawn.items())
        await pilot.press("s")
        assert live.view.smoothing == 0.9
        await pilot.press("s")
        await pilot.pause(0.05)
        assert live.view.smoothing == 0.0 and len(monitor(live, "loss-chart").y) == 3


async def test_legend_is_outside_the_plot_with_distinct_markers_and_k_hides_it(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(80, 24)) as pilot:
        live = await open_live(app, pilot)
        header = str(live.query_one("#loss-panel", ChartPanel).header.render())
        assert "⠤⠤⠤ train" in header and "⠤x⠤ test" in header
        assert not any(monitor(live, "loss-chart").label)  # no legend inside the plot
        assert [set(points) for points in monitor(live, "loss-chart").marker] == [{"braille"}, {"braille"}, {"x"}]
        await pilot.press("k")
        await pilot.pause(0.05)
        assert "train" not in str(live.query_one("#loss-panel", ChartPanel).header.render())
        await pilot.press("k")
        await pilot.pause(0.05)
        assert "train" in str(live.query_one("#loss-panel", ChartPanel).header.render())


async def test_phase_lines_are_labelled_and_both_plots_share_their_left_margin(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(80, 24)) as pilot:
        live = await open_live(app, pilot)
        for log_x in (False, True):
            if log_x:
                await pilot.press("l")
                await pilot.pause(0.1)
            # Each event line carries its tag at its top (its first letter where the next line is close).
            lines = monitor(live, "loss-chart")
            labels = dict(zip(lines.tx, lines.text))
            for event in live.series.phases.events:
                x = float(to_axis(event.epoch, log_x))
                tag = EVENT_TAGS[event.name]
                assert labels.get(x) in (tag, tag[0])
            assert "grok" in labels.values()
            # The same y-label width, so a phase line is in the same column on both plots.
            widths = {len(label) for chart in ("loss-chart", "acc-chart") for label in monitor(live, chart).ylabels[0]}
            assert len(widths) == 1
            rows = [str(live.query_one(f"#{chart}", MetricChart).render()).splitlines() for chart in ("loss-chart", "acc-chart")]
            frame_columns = [next(line.index("┌") for line in chart_rows if "┌" in line) for chart_rows in rows]
            assert frame_columns[0] == frame_columns[1]
            top_ticks = [[i for i, ch in enumerate(next(line for line in chart_rows if "┌" in line)) if ch == "┬"]
                         for chart_rows in rows]
            assert top_ticks[0] == top_ticks[1]  # phase lines (and x ticks) cross the frame at the same columns


async def test_measures_view_has_its_curves_when_it_is_shown(fixture_root: Path) -> None:
    """The measures charts are drawn from the data already loaded before the view is displayed, not
    after a refresh (which showed empty boxes for 0.3-1 s)."""
    from grok_tui.tui.charts import MeasureLossChart, SparsityChart, SpectrogramChart

    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(80, 24)) as pilot:
        live = await open_live(app, pilot)
        loss, sparsity = live.query_one(MeasureLossChart), live.query_one(SparsityChart)
        assert not any(loss.plt._active.monitor.x)  # hidden so far: never drawn
        live.action_toggle_measures()  # synchronously: nothing has been painted since
        assert live.query_one("#measures").display
        assert len(loss.plt._active.monitor.y) == 4 + 3 and len(sparsity.plt._active.monitor.y) == 3 + 2  # + signs
        assert live.query_one(SpectrogramChart)._drawn_key is not None
        await pilot.pause(0.2)
        assert loss._drawn_key is not None and loss._drawn_key[2:4] == (loss.size.width, loss.size.height)


# ---- every series at braille resolution, tick labels on the rows of their values (issue 22, item 5)

BRAILLE_ROW_BITS = {0: 0, 3: 0, 1: 1, 4: 1, 2: 2, 5: 2, 6: 3, 7: 3}  # bit of a braille cell -> its dot row


def write_flat_test_run(root: Path, test_acc: float) -> None:
    """A run whose only accuracy curve is a flat test accuracy (train accuracy unlogged: no events)."""
    from conftest import tiny_config
    from grok_tui.run.log import RunLogWriter
    from grok_tui.run.paths import RunPaths

    config = tiny_config(tag="flat", num_epochs=1000, log_every=10)
    paths = RunPaths.of("flat", root)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, 1001, 10):
            writer.write({"epoch": epoch, "train_loss": 1.0, "test_loss": 2.0, "train_acc": None,
                          "test_acc": test_acc, "elapsed_s": epoch / 100})


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_the_test_curve_is_drawn_in_braille_at_its_value(tmp_path: Path, size: tuple[int, int]) -> None:
    """At 120x40 the test accuracy (dots, one per cell) sat on the 50% row while the panel said 56.7%:
    now its braille dots lie on the dot row plotext gives 56.7%, and its sign 'x' marks it without colour."""
    write_flat_test_run(tmp_path, 0.567)
    app = GrokApp(root=tmp_path, watch="flat")
    async with app.run_test(size=size) as pilot:
        live = await open_live(app, pilot)
        chart = live.query_one("#acc-chart", MetricChart)
        plotted = monitor(live, "acc-chart")
        assert [set(m) for m in plotted.marker] == [{"braille"}, {"x"}]  # the line, then its signs
        lines = str(chart.render()).splitlines()
        top = next(i for i, line in enumerate(lines) if "┌" in line)
        bottom = next(i for i, line in enumerate(lines) if "└" in line)
        canvas = lines[top + 1:bottom]
        low, high = plotted.ylim[0]
        dots = 4 * len(canvas)
        expected = dots - 1 - math.floor(0.5 + (dots - 1) * (56.7 - low) / (high - low))  # from the top
        found, signs = set(), 0
        for row, line in enumerate(canvas):
            for ch in line:
                if 0x2801 <= ord(ch) <= 0x28FF:
                    bits = ord(ch) - 0x2800
                    found |= {4 * row + BRAILLE_ROW_BITS[b] for b in range(8) if bits >> b & 1}
                signs += ch == "x"
        assert found == {expected}, (found, expected)
        assert signs >= 2
        assert "56.7%" in status(live)


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_every_y_tick_label_sits_on_the_row_of_its_value(fixture_root: Path, size: tuple[int, int]) -> None:
    """At 60x20 the accuracy chart's top row was labelled 75 with the 100% curves drawn on it."""
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=size) as pilot:
        live = await open_live(app, pilot)
        for chart_id in ("loss-chart", "acc-chart"):
            chart = live.query_one(f"#{chart_id}", MetricChart)
            plotted = monitor(live, chart_id)
            low, high = plotted.ylim[0]
            rows = chart.plot_rows
            for position, label in zip(plotted.yticks[0], plotted.ylabels[0]):
                row = (position - low) / (high - low) * (rows - 1)
                assert row == pytest.approx(round(row), abs=1e-6), (chart_id, label, row)
                shown = float(label)
                value = 10 ** position if chart_id == "loss-chart" else position
                assert shown == pytest.approx(value, rel=0.5 if chart_id == "loss-chart" else 1e-9), (label, value)
            if chart_id == "acc-chart":  # 100% is a labelled row with the curves at 100% on it
                assert "100" in [label.strip() for label in plotted.ylabels[0]]


async def test_phase_labels_take_the_canvas_colour_not_a_white_box(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(80, 24)) as pilot:
        live = await open_live(app, pilot)
        plotted = monitor(live, "loss-chart")
        assert plotted.text and set(plotted.tback) == {"default"}


async def test_p_hides_the_status_panel_and_the_charts_take_its_width(fixture_root: Path) -> None:
    app = GrokApp(root=fixture_root, watch="grokked")
    async with app.run_test(size=(60, 20)) as pilot:
        live = await open_live(app, pilot)
        width = live.query_one("#loss-chart", MetricChart).size.width
        await pilot.press("p")
        await pilot.pause(0.2)
        assert not live.query_one("#side").display
        assert live.query_one("#loss-chart", MetricChart).size.width > width + 20
        assert live.query_one("#loss-chart", MetricChart)._drawn_key[2] > width + 20  # redrawn at that width
        await pilot.press("p")
        await pilot.pause(0.1)
        assert live.query_one("#side").display


async def test_a_two_point_chart_has_whole_epoch_ticks(tmp_path: Path) -> None:
    from conftest import tiny_config
    from grok_tui.figures.series import linear_ticks
    from grok_tui.run.log import RunLogWriter
    from grok_tui.run.paths import RunPaths

    assert linear_ticks(0.0, 1.0) == ([0, 1], ["0", "1"])
    config = tiny_config(tag="two", num_epochs=10, log_every=1)
    paths = RunPaths.of("two", tmp_path)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in (0, 1):
            writer.write({"epoch": epoch, "train_loss": 3.0, "test_loss": 3.1, "train_acc": 0.1, "test_acc": 0.0,
                          "elapsed_s": float(epoch)})
    app = GrokApp(root=tmp_path, watch="two")
    async with app.run_test(size=(100, 30)) as pilot:
        live = await open_live(app, pilot)
        labels = monitor(live, "loss-chart").xlabels[0]
        assert labels and all(label.replace(",", "").isdigit() for label in labels), labels


@pytest.mark.parametrize("log", [False, True])
def test_row_axis_puts_every_tick_on_a_row_and_the_data_under_the_spare_rows(log: bool) -> None:
    from grok_tui.figures.axes import row_axis

    assert row_axis(0, 100, 3, spare_rows=1)[:2] == ([0.0, 100.0], ["0", "100"])  # 60x20: 0, 100, labels
    assert row_axis(0, 100, 5, max_ticks=5)[:2] == ([0.0, 25.0, 50.0, 75.0, 100.0], ["0", "25", "50", "75", "100"])
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows, spare = int(rng.integers(3, 30)), int(rng.integers(0, 2))
        low = float(rng.uniform(-12, 0)) if log else 0.0
        high = low + (float(rng.uniform(0.6, 12)) if log else float(rng.choice([1.0, 1.81, 100.0, 37.0])))
        layout = row_axis(low, high, rows, spare, max(2, rows // 2 + 1), log=log)
        assert layout is not None
        ticks, labels, axis_low, top = layout
        spacing = (top - axis_low) / (rows - 1)
        assert axis_low <= low + 1e-9 and high <= axis_low + spacing * (rows - 1 - spare) + 1e-9
        assert 2 <= len(ticks) <= max(2, rows // 2 + 1)
        for tick, label in zip(ticks, labels):
            row = (tick - axis_low) / spacing
            assert row == pytest.approx(round(row), abs=1e-6)
            assert float(label) == pytest.approx(10**tick if log else tick, rel=0.5 if log else 1e-9)
