"""The spectrogram of W_E (Fourier norm per frequency and epoch): the live view's heatmap and the panel
of progress_measures.png, fed from the snapshot tests' fixture log (key frequencies 5, 6, 22 of 23
growing from epoch 100, the others fading)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grok_tui.figures.chartview import ChartView
from grok_tui.figures.curves import plot_progress_measures
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.figures.series import RunSeries
from grok_tui.tui.charts import HEAT_COLORS, OTHER_FREQ_COLOR, RESTRICTED_COLOR, rich_color, spectrogram_text
from test_snapshots import fixture_measures, write_fixture_run


def fixture_series(root: Path) -> RunSeries:
    write_fixture_run(root, "run", 3000, 3000)
    series = RunSeries()
    series.extend(read_log(RunPaths.of("run", root).log))
    return series


def test_series_keeps_every_measurements_norms_and_keys(tmp_path: Path) -> None:
    series = fixture_series(tmp_path)
    epochs, norms = series.freq_history
    assert epochs.tolist() == list(range(0, 3001, 50)) and norms.shape == (61, 23)
    np.testing.assert_allclose(norms[10], fixture_measures(500)["embed_freq_norms"])
    assert series.key_freqs_at(0) == [] and series.key_freqs_at(60) == [5, 6, 22]
    # A line whose norms have another length is not this embedding's: it is left out, not trusted.
    series.extend([{"epoch": 3010, "embed_freq_norms": [1.0, 2.0], "key_freqs": [1]},
                   {"epoch": 3020, "embed_freq_norms": ["x"] * 23, "key_freqs": "bad"}])
    epochs, norms = series.freq_history
    assert epochs[-1] == 3020 and np.isnan(norms[-1]).all() and series.key_freqs_at(len(epochs) - 1) == []


def test_live_spectrogram_shows_the_key_frequencies_growing(tmp_path: Path) -> None:
    series = fixture_series(tmp_path)
    text = spectrogram_text(series, ChartView(), width=40, height=13)
    lines = text.plain.splitlines()
    assert len(lines) == 13 and all(len(line) == 40 for line in lines[:-1])
    # 12 rows hold 24 half-rows for 23 frequencies: each key is named once, on its own row, in the key
    # colour; every 5th frequency on a row of its own in grey (5 is a key: named as one).
    named = {line[:3].strip(): i for i, line in enumerate(lines[:-1]) if line[:3].strip()}
    key_colour = rich_color(RESTRICTED_COLOR)
    labels = {label: row for label, row in named.items() if key_colour in style_at(text, lines, row, 1)}
    assert set(labels) == {"5", "6", "22"} and labels["22"] < labels["6"] < labels["5"]  # k = 1 at the bottom
    ticks = {label: row for label, row in named.items() if label not in labels}
    assert set(ticks) == {"10", "15", "20"} and labels["22"] < ticks["20"] < ticks["15"] < ticks["10"] < labels["6"]
    assert all(rich_color(OTHER_FREQ_COLOR) in style_at(text, lines, row, 1) for row in ticks.values())
    assert lines[-1].split() == ["0", "3,000"]
    # Frequency 22's row is the brightest colour at the last epoch and not at the first one.
    bright = rich_color(HEAT_COLORS[-1])
    row = labels["22"]
    assert bright in style_at(text, lines, row, 39) and bright not in style_at(text, lines, row, 3)


def style_at(text, lines: list[str], row: int, col: int) -> str:  # type: ignore[no-untyped-def]
    offset = sum(len(line) + 1 for line in lines[:row]) + col
    return " ".join(str(span.style) for span in text.spans if span.start <= offset < span.end)


def test_live_spectrogram_follows_the_cursor_and_zoom(tmp_path: Path) -> None:
    series = fixture_series(tmp_path)
    text = spectrogram_text(series, ChartView(cursor=1500, zoom=(1000.0, 2000.0)), width=40, height=13)
    lines = text.plain.splitlines()
    assert lines[-1].split() == ["1,000", "2,000"]
    cursor_cols = {line.index("│") for line in lines[:-1]}
    assert len(cursor_cols) == 1 and abs(cursor_cols.pop() - (3 + 37 // 2)) <= 1


def test_progress_measures_png_has_the_spectrogram_panel(tmp_path: Path) -> None:
    write_fixture_run(tmp_path, "run", 3000, 3000)
    fig = plot_progress_measures("run", root=tmp_path)
    assert RunPaths.of("run", tmp_path).measures_png.exists()
    spectrum = next(ax for ax in fig.axes if "over training" in ax.get_title())
    [mesh] = spectrum.collections
    values = np.asarray(mesh.get_array()).reshape(23, 61)  # frequencies x measurements
    np.testing.assert_allclose(values[:, 20], fixture_measures(1000)["embed_freq_norms"])
    assert [int(t) for t in spectrum.get_yticks()] == [5, 6, 22]
    assert {t.get_text().strip() for t in spectrum.texts} == {"memorized", "circuit", "grokked"}
