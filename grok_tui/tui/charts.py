"""The live loss and accuracy charts (textual-plotext), drawn from a RunSeries.

plotext rebuilds the whole chart on every refresh, on the UI thread, so each chart is downsampled to
its width first (min and max kept per bucket: spikes survive) and redrawn only when the data, the
size or the x scale changed. plotext's own log scale is never used (it re-applies the log on every
rebuild); the loss is plotted as log10(loss) with tick labels written as 1e-3, 1e0, ...; a log x axis
is log10(epoch + 1).
"""

from __future__ import annotations

import math

import numpy as np
from textual_plotext import PlotextPlot

from grok_tui.series import RunSeries, downsample_minmax, linear_ticks, log10_safe, log_ticks

TRAIN_COLOR = "cyan"
TEST_COLOR = "red"
MEMORIZED_COLOR = "gray"
GROKKED_COLOR = "green"


def epoch_axis(epochs: np.ndarray, log_x: bool) -> np.ndarray:
    return np.log10(epochs + 1.0) if log_x else epochs.astype(float)


class MetricChart(PlotextPlot):
    """One chart: train and test series of a metric, with the memorization and grokking markers."""

    def __init__(self, metric: str, *, id: str | None = None) -> None:  # noqa: A002 - textual's name
        super().__init__(id=id)
        self.metric = metric  # "loss" or "acc"
        self._drawn_key: tuple[object, ...] | None = None

    def draw(self, series: RunSeries, log_x: bool, force: bool = False) -> bool:
        """Rebuild the chart if anything it shows changed; returns True when it was redrawn."""
        last_epoch = series.last["epoch"] if series.last else None
        key = (len(series), last_epoch, log_x, self.size.width, self.size.height)
        if key == self._drawn_key and not force:
            return False
        self._drawn_key = key
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        is_loss = self.metric == "loss"
        plt.title("loss (log scale)" if is_loss else "accuracy (%)")
        plt.xlabel("epoch + 1 (log)" if log_x else "epoch")
        buckets = max(16, self.size.width - 10)
        lows, highs = [], []
        if len(series):
            x_all = epoch_axis(series.epochs, log_x)
            for name, color in (("train", TRAIN_COLOR), ("test", TEST_COLOR)):
                values = series.values(f"{name}_{self.metric}")
                y_all = log10_safe(values) if is_loss else 100.0 * values
                x, y = downsample_minmax(x_all, y_all, buckets)
                finite = np.isfinite(y)
                if finite.any():
                    plt.plot(x[finite].tolist(), y[finite].tolist(), color=color, label=name, marker="braille")
                    lows.append(float(np.min(y[finite])))
                    highs.append(float(np.max(y[finite])))
            for epoch, color in ((series.memorized_epoch, MEMORIZED_COLOR), (series.grokked_epoch, GROKKED_COLOR)):
                if epoch is not None:
                    plt.vertical_line(float(epoch_axis(np.array([epoch]), log_x)[0]), color=color)
            tick_maker = log_ticks if log_x else linear_ticks
            ticks, labels = tick_maker(float(x_all[0]), float(x_all[-1]))
            plt.xticks(ticks, labels)
        if is_loss and lows:
            low, high = min(lows), max(highs)
            ticks, labels = log_ticks(low, high)
            plt.yticks(ticks, labels)
            plt.ylim(math.floor(low) if high - low < 1 else low, high)
        elif not is_loss:
            plt.ylim(0, 100)
            plt.yticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100"])
        self.refresh()
        return True
