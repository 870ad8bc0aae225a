"""The charts' shared view: the cursor stays on logged epochs, the zoom stays inside the log."""

from __future__ import annotations

import numpy as np
import pytest

from grok_tui.figures.chartview import (MIN_ZOOM_RECORDS, ChartView, cursor_index, cursor_to_end, move_cursor, show_cursor, to_axis, window, zoom)

EPOCHS = np.arange(0, 3001, 10)


def test_no_records_leave_the_view_as_it_is() -> None:
    empty = np.array([], dtype=np.int64)
    view = ChartView()
    assert window(empty, view) is None and cursor_index(empty, view) is None
    assert show_cursor(empty, view) == view and move_cursor(empty, view, 1, 40) == view
    assert zoom(empty, view, 0.5) == view and cursor_to_end(empty, view, True) == view


def test_cursor_is_always_a_logged_epoch_and_stops_at_the_ends() -> None:
    view = show_cursor(EPOCHS, ChartView())
    assert view.cursor == 3000
    assert move_cursor(EPOCHS, view, 1, 40).cursor == 3000  # at the end already
    left = move_cursor(EPOCHS, view, -1, 40)
    assert left.cursor in EPOCHS and 3000 - left.cursor == pytest.approx(3000 / 40, abs=10)
    assert move_cursor(EPOCHS, view, -1000, 40).cursor == 0
    # A cursor past the end of a log cut back by a resume reads the last record.
    assert cursor_index(EPOCHS[:100], ChartView(cursor=3000)) == 99


def test_log_x_columns_are_even_on_the_log_axis() -> None:
    view = ChartView(log_x=True, cursor=3000)
    moved = move_cursor(EPOCHS, view, -4, 40)
    step = (to_axis(3000, True) - to_axis(0, True)) / 40
    assert float(to_axis(moved.cursor, True)) == pytest.approx(float(to_axis(3000, True)) - 4 * step, abs=0.01)


def test_zoom_keeps_the_window_inside_the_log_and_stops_at_a_few_records() -> None:
    view = ChartView(cursor=3000)
    zoomed = zoom(EPOCHS, view, 0.5)
    assert zoomed.zoom == (1500.0, 3000.0)  # the cursor keeps its place: the right edge
    narrow = zoomed
    for _ in range(20):
        narrow = zoom(EPOCHS, narrow, 0.5)
    lo, hi = narrow.zoom
    inside = np.count_nonzero((EPOCHS >= lo) & (EPOCHS <= hi))
    assert MIN_ZOOM_RECORDS <= inside < 2 * MIN_ZOOM_RECORDS + 1
    assert zoom(EPOCHS, zoomed, 2.0).zoom is None and zoom(EPOCHS, ChartView(), 2.0).zoom is None
    log_zoom = zoom(EPOCHS, ChartView(log_x=True), 0.5).zoom
    assert log_zoom is not None and 0 <= log_zoom[0] < log_zoom[1] <= 3000
    assert float(to_axis(log_zoom[1], True) - to_axis(log_zoom[0], True)) == pytest.approx(
        float(to_axis(3000, True)) / 2)


def test_home_and_end_stay_inside_a_zoomed_window() -> None:
    view = ChartView(zoom=(1000.0, 1500.0))
    assert cursor_to_end(EPOCHS, view, last=False).cursor == 1000
    assert cursor_to_end(EPOCHS, view, last=True).cursor == 1500
