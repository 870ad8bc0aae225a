"""The live charts (textual-plotext), drawn from a RunSeries.

plotext rebuilds the whole chart on every refresh, on the UI thread, so each chart is downsampled to
its width first (min and max kept per bucket: spikes survive) and redrawn only when the data, the
size or the x scale changed. plotext's own log scale is never used (it re-applies the log on every
rebuild); losses are plotted as log10(loss) with tick labels written as 1e-3, 1e0, ...; a log x axis
is log10(epoch + 1). Every chart over epochs carries the phase events as vertical lines.

Two views use them: the training curves (MetricChart: loss, accuracy) and the progress measures
(MeasureLossChart, SparsityChart, FrequencyChart; see grok_tui/measures.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from textual_plotext import PlotextPlot

from grok_tui.series import RunSeries, downsample_minmax, linear_ticks, log10_safe, log_ticks

TRAIN_COLOR = "cyan"
TEST_COLOR = "red"
# RGB (Okabe-Ito) rather than ANSI names: Textual maps the 16 ANSI colors through its theme, where
# yellow and blue come out as near-twins of other lines; RGB is drawn as given (or downgraded evenly).
RESTRICTED_COLOR = (204, 121, 167)  # reddish purple, as in the PNG
EXCLUDED_COLOR = (230, 159, 0)  # orange, as in the PNG
NORM_COLOR = (200, 200, 200)
OTHER_FREQ_COLOR = (130, 130, 130)
Color = str | tuple[int, int, int]
EVENT_COLORS: dict[str, Color] = {"memorized": "gray", "circuit_formation": (0, 114, 178), "grokked": "green"}

Transform = Callable[[np.ndarray], np.ndarray]


def epoch_axis(epochs: np.ndarray, log_x: bool) -> np.ndarray:
    return np.log10(epochs + 1.0) if log_x else epochs.astype(float)


class SeriesChart(PlotextPlot):
    """A chart that rebuilds itself from a RunSeries only when what it shows changed."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self._drawn_key: tuple[object, ...] | None = None

    def draw(self, series: RunSeries, log_x: bool, force: bool = False) -> bool:
        """Rebuild the chart if anything it shows changed; returns True when it was redrawn."""
        last_epoch = series.last["epoch"] if series.last else None
        key = (len(series), last_epoch, log_x, self.size.width, self.size.height)
        if key == self._drawn_key and not force:
            return False
        self._drawn_key = key
        self.plt.clear_data()
        self.plt.clear_figure()
        self.build(series, log_x)
        self.refresh()
        return True

    def build(self, series: RunSeries, log_x: bool) -> None:
        raise NotImplementedError

    # ---- helpers for charts over epochs
    def plot_lines(self, series: RunSeries, lines: list[tuple[str, Color, str]], log_x: bool,
                   transform: Transform) -> tuple[float, float] | None:
        """Plot (key, color, label) columns against epochs; returns the (low, high) of what was drawn."""
        buckets = max(16, self.size.width - 10)
        x_all = epoch_axis(series.epochs, log_x)
        lows, highs = [], []
        for key, color, label in lines:
            y_all = transform(series.values(key))
            # Progress measures exist on some lines only: drop the gaps before downsampling.
            present = np.isfinite(y_all)
            x, y = downsample_minmax(x_all[present], y_all[present], buckets)
            if y.size:
                self.plt.plot(x.tolist(), y.tolist(), color=color, label=label, marker="braille")
                lows.append(float(np.min(y)))
                highs.append(float(np.max(y)))
        return (min(lows), max(highs)) if lows else None

    def epoch_axis_decorations(self, series: RunSeries, log_x: bool) -> None:
        """The x label and ticks, and a vertical line at each phase event so far."""
        plt = self.plt
        plt.xlabel("epoch + 1 (log)" if log_x else "epoch")
        if not len(series):
            return
        for event in series.phases.events:
            plt.vertical_line(float(epoch_axis(np.array([event.epoch]), log_x)[0]), color=EVENT_COLORS[event.name])
        x_all = epoch_axis(series.epochs, log_x)
        tick_maker = log_ticks if log_x else linear_ticks
        ticks, labels = tick_maker(float(x_all[0]), float(x_all[-1]))
        plt.xticks(ticks, labels)

    def log_y_axis(self, span: tuple[float, float] | None) -> None:
        if span is None:
            return
        low, high = span
        ticks, labels = log_ticks(low, high)
        self.plt.yticks(ticks, labels)
        self.plt.ylim(math.floor(low) if high - low < 1 else low, high)


class MetricChart(SeriesChart):
    """Train and test series of one metric ("loss" or "acc"), with the phase events."""

    def __init__(self, metric: str, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self.metric = metric

    def build(self, series: RunSeries, log_x: bool) -> None:
        is_loss = self.metric == "loss"
        self.plt.title("loss (log scale)" if is_loss else "accuracy (%)")
        self.epoch_axis_decorations(series, log_x)
        lines: list[tuple[str, Color, str]] = [(f"train_{self.metric}", TRAIN_COLOR, "train"),
                                               (f"test_{self.metric}", TEST_COLOR, "test")]
        span = self.plot_lines(series, lines, log_x, log10_safe if is_loss else (lambda v: 100.0 * v))
        if is_loss:
            self.log_y_axis(span)
        else:
            self.plt.ylim(0, 100)
            self.plt.yticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100"])


class MeasureLossChart(SeriesChart):
    """Restricted and excluded loss beside train and test loss, on one log axis (the paper's figure 5)."""

    def build(self, series: RunSeries, log_x: bool) -> None:
        self.plt.title("loss (log): restricted, excluded")  # plotext drops a title wider than the chart
        self.epoch_axis_decorations(series, log_x)
        lines: list[tuple[str, Color, str]] = [
            ("restricted_loss", RESTRICTED_COLOR, "restricted"), ("excluded_loss", EXCLUDED_COLOR, "excluded"),
            ("train_loss", TRAIN_COLOR, "train"), ("test_loss", TEST_COLOR, "test")]
        self.log_y_axis(self.plot_lines(series, lines, log_x, log10_safe))


class SparsityChart(SeriesChart):
    """Gini of W_E and W_L (0 = spread over all frequencies, 1 = one frequency) and Σw² over its start."""

    def build(self, series: RunSeries, log_x: bool) -> None:
        self.plt.title("Gini; weight norm")
        self.epoch_axis_decorations(series, log_x)
        norms = series.values("weight_norm")
        finite = norms[np.isfinite(norms)]
        initial = float(finite[0]) if finite.size and finite[0] > 0 else math.nan
        self.plot_lines(series, [("gini_embed", RESTRICTED_COLOR, "Gini W_E"),
                                 ("gini_unembed", EXCLUDED_COLOR, "Gini W_L")], log_x, lambda v: v)
        span = self.plot_lines(series, [("weight_norm", NORM_COLOR, "Σw² / start")], log_x,
                               lambda v: v / initial)
        high = max(1.0, span[1]) if span else 1.0
        self.plt.ylim(0, high)


class FrequencyChart(SeriesChart):
    """The embedding's Fourier norm per frequency at the latest measurement, key frequencies labelled."""

    def build(self, series: RunSeries, log_x: bool) -> None:
        plt = self.plt
        norms = series.freq_norms
        if not norms:
            plt.title("W_E Fourier norms: none yet")
            return
        keys = set(series.key_freqs)
        key_text = " ".join(str(k) for k in series.key_freqs) or "none yet"
        plt.title(f"W_E: key {key_text}")
        freqs = list(range(1, len(norms) + 1))
        other = [(k, v) for k, v in zip(freqs, norms) if k not in keys and math.isfinite(v)]
        key = [(k, v) for k, v in zip(freqs, norms) if k in keys and math.isfinite(v)]
        for points, color in ((other, OTHER_FREQ_COLOR), (key, RESTRICTED_COLOR)):
            if points:
                xs, ys = zip(*points)
                plt.bar(list(xs), list(ys), color=color, width=0.4, marker="braille")
        plt.xlabel(f"frequency k (epoch {series.freq_epoch:,})")
        ticks = sorted(keys) if keys else linear_ticks(1, len(norms))[0]
        plt.xticks([float(t) for t in ticks], [str(int(t)) for t in ticks])
        plt.xlim(0.5, len(norms) + 0.5)
