"""The live charts (textual-plotext, and a heatmap of our own), drawn from a RunSeries and a ChartView.

plotext rebuilds the whole chart on every refresh, on the UI thread, so each chart is downsampled to
its width first (min and max kept per bucket: spikes survive) and redrawn only when the data, the
size or the view changed. plotext's own log scale is never used (it re-applies the log on every
rebuild); losses are plotted as log10(loss) with tick labels written as 1e-3, 1e0, ...; a log x axis
is log10(epoch + 1). Every chart over epochs carries the phase events as vertical lines labelled at
their top (in a spare row above the data, so a label never hides a curve), the epoch cursor, and
honours the view's zoom and smoothing (grok_tui/figures/chartview.py, grok_tui/figures/smoothing.py).

Every line is drawn in braille (2x4 dots per cell: a value read off to a quarter of a row), each in
its own colour. Braille dots cannot be styled, so to tell lines apart without colour every line but
the first of a chart carries its own sign ("x", "o", "+") every SIGN_EVERY columns along it. The legend
is never drawn inside a plot (it hid the data there): each chart sits in a ChartPanel whose one-line
header holds the title and the legend, each line's sign and label in its colour.

Two views use them: the training curves (MetricChart: loss, accuracy) and the progress measures
(MeasureLossChart, SparsityChart, and FrequencyChart or SpectrogramChart; see grok_tui/measures/progress_measures.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from grok_tui.figures.axes import (
    Ticks,
    frequency_ticks,
    log_axis,
    round_ticks,
    row_axis,
    spaced_labels,
)
from grok_tui.figures.chartview import ChartView, cursor_index, to_axis, window
from grok_tui.figures.series import (
    RunSeries,
    downsample_minmax,
    linear_ticks,
    log_ticks,
)
from grok_tui.figures.smoothing import smooth_curve

TRAIN_COLOR = "cyan"
TEST_COLOR = "red"
# RGB (Okabe-Ito) rather than ANSI names: Textual maps the 16 ANSI colors through its theme, where
# yellow and blue come out as near-twins of other lines; RGB is drawn as given (or downgraded evenly).
RESTRICTED_COLOR = (204, 121, 167)  # reddish purple, as in the PNG
EXCLUDED_COLOR = (230, 159, 0)  # orange, as in the PNG
NORM_COLOR = (200, 200, 200)
OTHER_FREQ_COLOR = (130, 130, 130)
CURSOR_COLOR = (240, 228, 66)  # Okabe-Ito yellow: no line or marker uses it
Color = str | tuple[int, int, int]
EVENT_COLORS: dict[str, Color] = {"memorized": "gray", "circuit_formation": (0, 114, 178), "grokked": "green"}
EVENT_TAGS = {"memorized": "mem", "circuit_formation": "circ", "grokked": "grok"}
# The raw curve under a smoothed one, dimmed: named colours have no RGB of their own here.
DIM_COLORS: dict[Color, Color] = {TRAIN_COLOR: (0, 95, 105), TEST_COLOR: (110, 35, 35)}
BRAILLE_LINE = "⠤"  # a stretch of braille line, as the legend shows it
SIGN_EVERY = 8  # columns between two signs of one line (see the module doc)
BUCKET_MARGIN = 10  # columns a plotext chart spends outside its plot area (y ticks, frame)


@dataclass(frozen=True)
class Line:
    key: str  # the RunSeries column
    color: Color
    label: str
    sign: str | None = None  # drawn along the braille line every SIGN_EVERY columns: no colour needed
    glyph: str | None = None  # what stands for it in the legend, if not its line and sign

    @property
    def legend_glyph(self) -> str:
        if self.glyph is not None:
            return self.glyph
        return BRAILLE_LINE + (self.sign or BRAILLE_LINE) + BRAILLE_LINE


def epoch_axis(epochs: np.ndarray, log_x: bool) -> np.ndarray:
    return np.log10(epochs + 1.0) if log_x else epochs.astype(float)


def rich_color(color: Color) -> str:
    return f"rgb({color[0]},{color[1]},{color[2]})" if isinstance(color, tuple) else color


def dim(color: Color) -> Color:
    if isinstance(color, tuple):
        return (color[0] // 2, color[1] // 2, color[2] // 2)
    return DIM_COLORS.get(color, "gray")


def legend_text(title: str, lines: list[Line], show_legend: bool, width: int) -> Text:
    """The panel header: the title in bold, then each line's marker and label in its colour, packed
    into as many lines of `width` cells as they need (an entry is never split from its marker)."""
    entries = [(title, "bold")]
    if show_legend:
        entries += [(f"{line.legend_glyph} {line.label}", rich_color(line.color))
                    for line in lines]
    text, used = Text(), 0
    for entry, style in entries:
        if used and used + 2 + len(entry) > width:
            text.append("\n")
            used = 0
        elif used:
            text.append("  ")
            used += 2
        text.append(entry, style=style)
        used += len(entry)
    return text


class ChartPanel(Vertical):
    """A chart under a one-line header (title and legend), so no legend ever covers the data."""

    DEFAULT_CSS = """
    ChartPanel { height: 1fr; width: 1fr; }
    ChartPanel > .chart-header { height: auto; width: 1fr; padding-left: 1; text-wrap: nowrap; overflow: hidden; }
    """

    def __init__(self, chart: Widget, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self.chart = chart
        self.header = Static(classes="chart-header")

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.chart


class ViewChart:
    """What every live chart has: a cache key, a header in its ChartPanel, and draw()."""

    _drawn_key: tuple[object, ...] | None

    def set_header(self, text: Text) -> None:
        parent = getattr(self, "parent", None)
        if isinstance(parent, ChartPanel):
            parent.header.update(text)

    @property
    def width(self) -> int:
        """The chart's width in cells; before its first layout (a view about to be shown), the screen's."""
        size = cast(Widget, self).size
        return size.width or cast(Widget, self).app.size.width

    def header(self, title: str, lines: list[Line], view: ChartView) -> None:
        self.set_header(legend_text(title, lines, view.legend, self.width - 1))


class SeriesChart(ViewChart, PlotextPlot):
    """A plotext chart that rebuilds itself from a RunSeries only when what it shows changed."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self._drawn_key = None
        self._shown: tuple[RunSeries, ChartView] | None = None
        # Width of the y tick labels, padded up to what the charts beside it use (LiveScreen sets it),
        # so that charts stacked over the same epochs have their plots start in the same column.
        self.label_width = 0
        self.used_label_width = 0
        # The epoch axis of the chart being built: its ticks, set once the plot area's width is known.
        self._x_ticks: Ticks | None = None
        self._x_span = (0.0, 1.0)

    def draw(self, series: RunSeries, view: ChartView, force: bool = False) -> bool:
        """Rebuild the chart if anything it shows changed; returns True when it was redrawn."""
        key = (series.version, view, self.size.width, self.size.height, self.label_width)
        if key == self._drawn_key and not force:
            return False
        self._drawn_key = key
        self._shown = (series, view)
        self.plt.clear_data()
        self.plt.clear_figure()
        self.used_label_width = 0
        self._x_ticks = None
        self.build(series, view)
        if self._x_ticks is not None:
            self.set_x_ticks(self._x_ticks)
        self.refresh()
        return True

    def set_x_ticks(self, ticks: Ticks) -> None:
        """The epoch ticks, thinned to labels that do not collide (axes.spaced_labels says why); set last,
        once the y labels' width, and so the plot area's, is known."""
        self.plt.xticks(*spaced_labels(ticks, *self._x_span, self.width, self.y_label_width))

    @property
    def y_label_width(self) -> int:
        """The y tick labels' width as drawn: padded up to the shared margin (see y_ticks)."""
        return max(self.label_width, self.used_label_width)

    def build(self, series: RunSeries, view: ChartView) -> None:
        raise NotImplementedError

    class Resized(Message):
        """The chart's size changed. Its owner redraws every chart, not this one alone: the charts stacked
        over the same epochs share one y-label margin, which a lone redraw at the new size could change."""

    def on_resize(self) -> None:
        # Ticks, buckets and the header's wrapping depend on the size.
        if self._shown is not None:
            self.post_message(self.Resized())

    @property
    def plot_cols(self) -> int:
        return max(16, self.width - BUCKET_MARGIN)

    @property
    def plot_rows(self) -> int:
        return max(2, self.size.height - 4)  # frame, x ticks, x label

    # ---- helpers for charts over epochs
    def plot_lines(self, series: RunSeries, lines: list[Line], view: ChartView, log_scale: bool,
                   scale: float = 1.0) -> tuple[float, float] | None:
        """Plot the lines against epochs inside the view's window, in braille (smoothed when the view says
        so, the raw curve dimmed beneath), then each line's sign along it; returns the (low, high) of what
        was drawn, in axis units."""
        span = window(series.epochs, view)
        if span is None:
            return None
        epochs = series.epochs
        inside = (epochs >= span[0]) & (epochs <= span[1])
        x_all = to_axis(epochs, view.log_x)
        lows, highs = [], []
        signed: list[tuple[Line, np.ndarray, np.ndarray]] = []
        for line in lines:
            raw = series.values(line.key)
            curves = [(smooth_curve(raw, 0.0, log_scale) * scale, line.color)]
            if view.smoothing > 0:
                curves = [(curves[0][0], dim(line.color)),
                          (smooth_curve(raw, view.smoothing, log_scale) * scale, line.color)]
            for y_all, color in curves:
                # Progress measures exist on some lines only: drop the gaps before downsampling.
                present = np.isfinite(y_all) & inside
                x, y = downsample_minmax(x_all[present], y_all[present], self.plot_cols)
                if y.size:
                    self.plt.plot(x.tolist(), y.tolist(), color=color, marker="braille")
                    lows.append(float(np.min(y)))
                    highs.append(float(np.max(y)))
            if line.sign is not None and y.size:  # along the curve drawn last: the smoothed one
                signed.append((line, x, y))
        a_lo, a_hi = (float(v) for v in to_axis(np.array(span), view.log_x))
        for offset, (line, x, y) in enumerate(signed):
            sx, sy = sign_points(x, y, a_lo, a_hi, self.plot_cols, offset)
            if sx.size:
                self.plt.scatter(sx.tolist(), sy.tolist(), color=line.color, marker=line.sign)
        return (min(lows), max(highs)) if lows else None

    def epoch_axis_decorations(self, series: RunSeries, view: ChartView) -> bool:
        """The x label, limits and ticks, a vertical line at each phase event in the window and at the
        cursor; returns True when there are event labels to keep a row free for."""
        plt = self.plt
        plt.xlabel("epoch + 1 (log)" if view.log_x else "epoch")
        span = window(series.epochs, view)
        if span is None:
            return False
        a_lo, a_hi = (float(v) for v in to_axis(np.array(span), view.log_x))
        if a_hi <= a_lo:
            a_hi = a_lo + 1.0
        plt.xlim(a_lo, a_hi)
        tick_maker = log_ticks if view.log_x else linear_ticks
        self._x_ticks = tick_maker(a_lo, a_hi)
        self._events = [(float(to_axis(event.epoch, view.log_x)), event.name) for event in series.phases.events
                        if span[0] <= event.epoch <= span[1]]
        for x, name in self._events:
            plt.vertical_line(x, color=EVENT_COLORS[name])
        index = cursor_index(series.epochs, view)
        if index is not None:
            plt.vertical_line(float(to_axis(series.epochs[index], view.log_x)), color=CURSOR_COLOR)
        self._x_span = (a_lo, a_hi)
        return bool(self._events)

    def event_labels(self, y_top: float) -> None:
        """A short name at the top of each event line ("mem", "circ", "grok"), cut to its first letter
        where the next line comes too soon, and left out only where not even that fits."""
        a_lo, a_hi = self._x_span
        # The plot area: the chart less its y labels and the two sides of the frame (the left one
        # carries the tick marks).
        cols = max(1, self.width - self.y_label_width - 2)
        starts = [round((x - a_lo) / (a_hi - a_lo) * (cols - 1)) for x, _ in self._events]
        for i, (x, name) in enumerate(self._events):
            room = (starts[i + 1] if i + 1 < len(starts) else cols) - starts[i] - 1
            tag = next((t for t in (EVENT_TAGS[name], EVENT_TAGS[name][0]) if len(t) <= room), None)
            if tag is not None:
                # The canvas colour, not plotext's default at build time (white: a white box in a dark theme).
                self.plt.text(tag, x, y_top, color=EVENT_COLORS[name], background="default", alignment="left")

    def y_ticks(self, ticks: Ticks) -> None:
        positions, labels = ticks
        width = max([len(label) for label in labels] + [self.label_width])
        self.used_label_width = max([len(label) for label in labels], default=0)
        self.plt.yticks(positions, [label.rjust(width) for label in labels])

    def y_axis(self, low: float, high: float, has_events: bool, log: bool = False, max_ticks: int = 0) -> None:
        """Limits and ticks for data from low to high, each tick label on a row of exactly its value
        (axes.row_axis), plus, when there are events, one spare row on top for their labels."""
        spare = 1 if has_events else 0
        layout = row_axis(low, high, self.plot_rows, spare, max_ticks or max(2, self.plot_rows // 2 + 1), log)
        if layout is None:  # too few rows to choose: the data's own range
            ticks = log_axis(low, high)[:2] if log else round_ticks(low, high)
            layout = (*ticks, low, high + (high - low) / max(1, self.plot_rows - 1 - spare) * spare)
        self.set_y_axis(*layout, has_events)

    def set_y_axis(self, positions: list[float], labels: list[str], low: float, top: float,
                   has_events: bool) -> None:
        self.plt.ylim(low, top)
        self.y_ticks((positions, labels))
        if has_events:
            self.event_labels(top)

    def log_y_axis(self, span: tuple[float, float] | None, has_events: bool) -> None:
        if span is None:
            return
        low, high = span
        if math.ceil(low) > math.floor(high) and high - low < 0.5:
            # Under half a decade with no decade inside: its two ends, on the bottom and top data rows.
            ticks, labels, low, high = log_axis(low, high)
            top = high + (high - low) / max(1, self.plot_rows - 2) if has_events else high
            self.set_y_axis(ticks, labels, low, top, has_events)
            return
        self.y_axis(low, high, has_events, log=True)


class MetricChart(SeriesChart):
    """Train and test series of one metric ("loss" or "acc"), with the phase events."""

    def __init__(self, metric: str, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self.metric = metric

    @property
    def lines(self) -> list[Line]:
        return [Line(f"train_{self.metric}", TRAIN_COLOR, "train"),
                Line(f"test_{self.metric}", TEST_COLOR, "test", sign="x")]

    def build(self, series: RunSeries, view: ChartView) -> None:
        is_loss = self.metric == "loss"
        self.header("loss (log)" if is_loss else "accuracy (%)", self.lines, view)
        has_events = self.epoch_axis_decorations(series, view)
        span = self.plot_lines(series, self.lines, view, log_scale=is_loss, scale=1.0 if is_loss else 100.0)
        if is_loss:
            self.log_y_axis(span, has_events)
        else:
            self.y_axis(0, 100, has_events)


class MeasureLossChart(SeriesChart):
    """Restricted and excluded loss beside train and test loss, on one log axis (the paper's figure 5)."""

    lines = [Line("restricted_loss", RESTRICTED_COLOR, "restr", sign="o"),
             Line("excluded_loss", EXCLUDED_COLOR, "excl", sign="+"),
             Line("train_loss", TRAIN_COLOR, "train"), Line("test_loss", TEST_COLOR, "test", sign="x")]

    def build(self, series: RunSeries, view: ChartView) -> None:
        self.header("loss", self.lines, view)
        has_events = self.epoch_axis_decorations(series, view)
        self.log_y_axis(self.plot_lines(series, self.lines, view, log_scale=True), has_events)


class SparsityChart(SeriesChart):
    """Gini of W_E and W_L (0 = spread over all frequencies, 1 = one frequency) and Σw² over its start."""

    lines = [Line("gini_embed", RESTRICTED_COLOR, "W_E", sign="o"), Line("gini_unembed", EXCLUDED_COLOR, "W_L", sign="+"),
             Line("weight_norm", NORM_COLOR, "Σw²/start")]

    def build(self, series: RunSeries, view: ChartView) -> None:
        self.header("Gini", self.lines, view)
        has_events = self.epoch_axis_decorations(series, view)
        norms = series.values("weight_norm")
        finite = norms[np.isfinite(norms)]
        initial = float(finite[0]) if finite.size and finite[0] > 0 else math.nan
        self.plot_lines(series, self.lines[:2], view, log_scale=False)
        span = self.plot_lines(series, self.lines[2:], view, log_scale=False, scale=1.0 / initial)
        high = max(1.0, span[1]) if span else 1.0
        self.y_axis(0, high, has_events, max_ticks=max(2, min(5, self.plot_rows // 2 + 1)))


class FrequencyChart(SeriesChart):
    """The embedding's Fourier norm per frequency at the latest measurement (or the cursor's), key
    frequencies highlighted and each one named under the axis."""

    def build(self, series: RunSeries, view: ChartView) -> None:
        plt = self.plt
        epochs, history = series.freq_history
        if not len(epochs):
            self.set_header(Text("W_E Fourier norms: none yet", style="bold"))
            return
        row = measurement_row(series, view)
        norms, keys = history[row], series.key_freqs_at(row)
        self.header(f"W_E @ {int(epochs[row]):,}", [Line("", RESTRICTED_COLOR, "key", glyph="██"),
                                                     Line("", OTHER_FREQ_COLOR, "other", glyph="██")], view)
        freqs = np.arange(1, len(norms) + 1)
        finite = np.isfinite(norms)
        is_key = np.isin(freqs, keys)
        for mask, color in ((~is_key & finite, OTHER_FREQ_COLOR), (is_key & finite, RESTRICTED_COLOR)):
            if mask.any():
                plt.bar(freqs[mask].tolist(), norms[mask].tolist(), color=color, width=0.4, marker="braille")
        plt.xlabel("frequency k")
        positions, labels = frequency_ticks(keys, len(norms), self.width - BUCKET_MARGIN + 2)
        plt.xticks(positions, labels)
        plt.xlim(0.5, len(norms) + 0.5)
        high = float(np.max(norms[finite])) if finite.any() else 1.0
        plt.ylim(0, high)
        self.y_ticks(round_ticks(0, high, max_ticks=max(2, min(5, self.plot_rows // 2 + 1))))


def sign_points(x: np.ndarray, y: np.ndarray, a_lo: float, a_hi: float, cols: int,
                offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a line's sign goes: the drawn point nearest to every SIGN_EVERY-th column of a plot `cols`
    wide, the k-th signed line of a chart shifted by 3k columns so that signs of lines that run together
    do not land in one cell."""
    if not x.size or a_hi <= a_lo:
        return x[:0], y[:0]
    columns = np.arange(2 + (3 * offset) % SIGN_EVERY, cols - 1, SIGN_EVERY)
    targets = a_lo + (columns + 0.5) / cols * (a_hi - a_lo)
    targets = targets[(targets >= x[0]) & (targets <= x[-1])]
    nearest = np.clip(np.searchsorted(x, targets), 0, x.size - 1)
    before = np.clip(nearest - 1, 0, x.size - 1)
    nearest = np.where(np.abs(x[before] - targets) < np.abs(x[nearest] - targets), before, nearest)
    return x[nearest], y[nearest]


def measurement_row(series: RunSeries, view: ChartView) -> int:
    """The measurement shown for the view: the last one at or before the cursor, else the latest."""
    epochs, _ = series.freq_history
    if view.cursor is None:
        return len(epochs) - 1
    return max(0, int(np.searchsorted(epochs, view.cursor, side="right")) - 1)


# Viridis in 8 steps: dark = small norm, yellow = large; readable on dark and light themes.
HEAT_COLORS = [(68, 1, 84), (70, 50, 127), (54, 92, 141), (39, 127, 142), (31, 161, 135), (74, 194, 109),
               (159, 218, 58), (253, 231, 37)]


class SpectrogramChart(ViewChart, Widget):
    """The embedding's Fourier norm per frequency (rows, k = 1 at the bottom) and epoch (columns): the
    key frequencies growing and the others fading, live. Half blocks give two frequency bins per row;
    each column shows the last measurement at or before its right edge. Key frequencies are named in
    the left margin (in their colour), and every 5th frequency in grey; the cursor is a yellow column."""

    DEFAULT_CSS = "SpectrogramChart { width: 1fr; height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self._drawn_key = None
        self._series: RunSeries | None = None
        self._view = ChartView()

    def draw(self, series: RunSeries, view: ChartView, force: bool = False) -> bool:
        key = (series.version, view, self.size.width, self.size.height)
        if key == self._drawn_key and not force:
            return False
        self._drawn_key = key
        self._series, self._view = series, view
        header = Text("W_E spectrum", style="bold")
        if view.legend:
            top = spectrum_top(series)
            ramp = Text("0 " if top else "low ")
            for color in HEAT_COLORS:
                ramp.append("█", style=rich_color(color))
            ramp.append(f" {top:.2g}" if top else " high")
            header.append("\n" if len(header) + 2 + len(ramp) > self.width - 1 else "  ")
            header.append_text(ramp)
        self.set_header(header)
        self.refresh()
        return True

    def on_resize(self) -> None:
        if self._series is not None:
            self.draw(self._series, self._view)

    def render(self) -> RenderResult:
        if self._series is None:
            return Text("")
        return spectrogram_text(self._series, self._view, self.size.width, self.size.height)


def spectrogram_text(series: RunSeries, view: ChartView, width: int, height: int) -> Text:
    """The heatmap as rich Text of `height` lines of `width` cells (see SpectrogramChart)."""
    epochs_m, norms = series.freq_history
    if not len(epochs_m) or width < 8 or height < 3:
        return Text("no measurement yet" if not len(epochs_m) else "")
    n_freqs = norms.shape[1]
    keys = series.key_freqs_at(len(epochs_m) - 1)
    rows = height - 1  # the last line holds the epoch labels
    halves = 2 * rows
    # Half-row h (0 = bottom) covers frequencies [lo_f, hi_f); with fewer halves than frequencies the
    # loudest frequency of the bin is shown, so a key frequency is never averaged away.
    bins = [(h * n_freqs // halves, max(h * n_freqs // halves + 1, (h + 1) * n_freqs // halves)) for h in range(halves)]
    # A frequency tick every 5 (every 10, 20, ... where rows are too coarse for that), in grey, on the
    # rows that name no key frequency.
    step = next((s for s in (5, 10, 20, 25, 50) if s >= n_freqs / rows), 100)
    ticks = list(range(step, n_freqs + 1, step))
    labels = [(_row_label(keys, bins, r), True) if _row_label(keys, bins, r) else (_row_label(ticks, bins, r), False)
              for r in range(rows)]
    margin = max([len(label) for label, _ in labels] + [2]) + 1
    cols = width - margin
    span = window(series.epochs, view) or (float(epochs_m[0]), float(epochs_m[-1]))
    a_lo, a_hi = (float(v) for v in to_axis(np.array(span), view.log_x))
    a_hi = a_hi if a_hi > a_lo else a_lo + 1.0
    x_m = to_axis(epochs_m, view.log_x)
    edges = a_lo + (a_hi - a_lo) * (np.arange(cols) + 1) / cols
    # Column c shows the last measurement at or before its right edge (none yet: blank).
    picks = np.searchsorted(x_m, edges + 1e-12, side="right") - 1
    top = spectrum_top(series) or 1.0
    binned = np.full((halves, len(epochs_m)), np.nan)
    for h, (lo_f, hi_f) in enumerate(bins):
        with np.errstate(all="ignore"):
            block = norms[:, lo_f:hi_f]
            has = np.isfinite(block).any(axis=1)
            binned[h, has] = np.nanmax(np.where(np.isfinite(block[has]), block[has], -np.inf), axis=1)
    cursor_col = None
    index = cursor_index(series.epochs, view)
    if index is not None:
        c = float(to_axis(series.epochs[index], view.log_x))
        if a_lo <= c <= a_hi:
            cursor_col = min(cols - 1, int((c - a_lo) / (a_hi - a_lo) * cols))
    text = Text()
    for r in range(rows):
        upper_h, lower_h = 2 * (rows - 1 - r) + 1, 2 * (rows - 1 - r)
        label, is_key = labels[r]
        text.append(label.rjust(margin - 1) + " ", style=rich_color(RESTRICTED_COLOR if is_key else OTHER_FREQ_COLOR))
        for col in range(cols):
            if col == cursor_col:
                text.append("│", style=rich_color(CURSOR_COLOR))
                continue
            pick = picks[col]
            upper = _heat(binned[upper_h, pick] / top) if pick >= 0 else None
            lower = _heat(binned[lower_h, pick] / top) if pick >= 0 else None
            if upper is None and lower is None:
                text.append(" ")
            elif lower is None:
                text.append("▀", style=rich_color(upper))  # type: ignore[arg-type]
            elif upper is None:
                text.append("▄", style=rich_color(lower))
            else:
                text.append("▀", style=f"{rich_color(upper)} on {rich_color(lower)}")
        text.append("\n")
    first, last = f"{span[0]:,.0f}", f"{span[1]:,.0f}"
    text.append(" " * margin + first + " " * max(1, cols - len(first) - len(last)) + last)
    return text


def spectrum_top(series: RunSeries) -> float | None:
    """The largest norm of the run so far: the top of the colour scale, the same at any zoom."""
    _, norms = series.freq_history
    finite = norms[np.isfinite(norms)]
    return float(np.max(finite)) if finite.size and np.max(finite) > 0 else None


def _heat(fraction: float) -> tuple[int, int, int] | None:
    if not math.isfinite(fraction):
        return None
    return HEAT_COLORS[min(len(HEAT_COLORS) - 1, max(0, int(fraction * len(HEAT_COLORS))))]


def _row_label(keys: list[int], bins: list[tuple[int, int]], row: int) -> str:
    """The key frequencies named in text row `row` (counted from the top), as "5,6": each on the
    lowest row its band covers, so a frequency several rows tall is named once."""
    rows = len(bins) // 2

    def rows_of(k: int) -> list[int]:
        return [r for r in range(rows) if bins[2 * (rows - 1 - r)][0] < k <= bins[2 * (rows - 1 - r) + 1][1]]

    return ",".join(str(k) for k in keys if rows_of(k) and max(rows_of(k)) == row)
