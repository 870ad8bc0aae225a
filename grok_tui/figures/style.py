"""What every figure shares: colours, sizes and fonts (a 3.5-inch paper column stays readable), the formats
written (.png, .pdf, .svg by the file's suffix), and the atomic save. Figures are built as
matplotlib.figure.Figure on the Agg canvas, never through pyplot, so this works over SSH."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from grok_tui.core.atomic import atomic_write_with
from grok_tui.run.log import Record

TRAIN_COLOR = "#1f77b4"


TEST_COLOR = "#d62728"


RESTRICTED_COLOR = "#9467bd"


EXCLUDED_COLOR = "#ff7f0e"


EVENT_COLORS = {"memorized": "#7f7f7f", "circuit_formation": "#17becf", "grokked": "#2ca02c"}


# One colour per group or run in a comparison: Okabe-Ito (readable for colour-blind readers), then tab10.
COMPARE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                  "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd")


SPECTRUM_TAGS = {"memorized": "memorized", "circuit_formation": "circuit", "grokked": "grokked"}


FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


CURVES_SIZE, MEASURES_SIZE, COMPARE_SIZE = (12.0, 4.8), (12.0, 11.4), (13.0, 4.2)


MIN_INCHES, MAX_INCHES, MAX_PIXELS = 1.0, 40.0, 100_000_000


class FigureFormatError(ValueError):
    """A figure path whose suffix names no format we write."""


def figure_format(path: Path | str) -> str:
    """The format a figure path's suffix names: png, pdf or svg (FigureFormatError otherwise)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise FigureFormatError(f"{path}: the file name must end in .png, .pdf or .svg (got {suffix or 'no suffix'!r})")
    return FORMATS[suffix]


def check_size(width: float, height: float, dpi: int) -> None:
    """A figure size in inches that a paper column or a screen can hold (ValueError otherwise)."""
    for name, value in (("width", width), ("height", height)):
        if not (MIN_INCHES <= value <= MAX_INCHES):
            raise ValueError(f"{name}: must be between {MIN_INCHES:g} and {MAX_INCHES:g} inches (got {value:g})")
    if width * height * dpi * dpi > MAX_PIXELS:
        raise ValueError(f"size: {width:g} x {height:g} inches at {dpi} dpi is over {MAX_PIXELS:,} pixels")


# The smallest sizes (inches) at which each figure was rendered and checked legible: titles, tick labels and
# legends apart, no legend over data. The comparison stacks its panels under 7.5 inches wide, which needs
# height; the measures figure's five panels and their legends need a page's quarter.
NARROW_COMPARISON = 7.5
MIN_SIZES = {"curves": (3.5, 2.6), "comparison": (3.5, 4.4), "wide comparison": (NARROW_COMPARISON, 3.0),
             "measures": (7.0, 9.0)}


def check_legible(figure: str, width: float, height: float) -> None:
    """A size at which `figure` (curves, comparison, measures) stays legible (ValueError naming the minimum)."""
    kind = "wide comparison" if figure == "comparison" and width >= NARROW_COMPARISON else figure
    least_width, least_height = MIN_SIZES[kind]
    if width < least_width or height < least_height:
        rule = f"at least {least_width:g} x {least_height:g} inches"
        if kind == "comparison":
            rule += (f" below {NARROW_COMPARISON:g} inches wide, where its panels are stacked "
                     f"({MIN_SIZES['wide comparison'][1]:g} inches high from {NARROW_COMPARISON:g} wide)")
        elif kind == "wide comparison":
            rule = f"at least {least_height:g} inches of height at {NARROW_COMPARISON:g} inches wide or more"
        raise ValueError(f"size: the {figure} figure needs {rule} to be legible (got {width:g} x {height:g})")


def font_sizes(width: float) -> dict[str, Any]:
    """matplotlib font settings for a figure `width` inches wide: 10 pt on a wide figure, down to 7 pt
    on a 3.5-inch one-column figure (the size it is printed at, so it stays readable)."""
    base = 10.0 if width >= 9 else 9.0 if width >= 6 else 8.0 if width >= 4.5 else 7.0
    return {"font.size": base, "axes.titlesize": base, "axes.labelsize": base, "xtick.labelsize": base - 1,
            "ytick.labelsize": base - 1, "legend.fontsize": base - 1, "figure.titlesize": base}


def wrap_title(title: str, fig: Figure) -> str:
    """The title broken into lines that fit the figure's width (a 3.5-inch figure holds ~55 characters at
    7 pt: DejaVu Sans averages ~0.6 em a character in these titles, digits and punctuation included)."""
    size = matplotlib.rcParams["figure.titlesize"]
    points = float(size) if isinstance(size, (int, float)) else float(matplotlib.rcParams["font.size"])
    per_line = max(20, int(0.95 * fig.get_figwidth() * 72 / (0.62 * points)))
    return "\n".join(textwrap.wrap(title, per_line)) or title


def short_objective(text: str, fig: Figure) -> str:
    """'StableMax cross-entropy' as 'StableMax CE' on a figure under 6 inches wide, where a y label has
    room for about 30 characters."""
    return text.replace("cross-entropy", "CE") if fig.get_figwidth() < 6 else text


@contextmanager
def styled(size: tuple[float, float]) -> Iterator[None]:
    with matplotlib.rc_context(font_sizes(size[0])):  # type: ignore[arg-type]
        yield


def series(records: list[Record], key: str) -> np.ndarray:
    """Values of `key` as floats; missing or null values become NaN (a gap in the line)."""
    values = [r.get(key) for r in records]
    return np.array([v if isinstance(v, (int, float)) else np.nan for v in values], dtype=float)


def has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def save_figure(fig: Figure, target: Path | str, dpi: int = 150) -> Path:
    """Write `fig` atomically in the format `target`'s suffix names (.png, .pdf, .svg)."""
    target = Path(target)
    fmt = figure_format(target)
    atomic_write_with(target, lambda handle: fig.savefig(handle, format=fmt, dpi=dpi))
    return target


def legend_columns(fig: Figure, labels: Sequence[str], narrow: bool, most: int = 3) -> int:
    """Legend columns that fit the figure's width: a label's width is estimated from its length in
    characters (about 0.6 of the font size each, plus the line sample), so long labels get one column."""
    if narrow:
        return 1
    size = matplotlib.rcParams["legend.fontsize"]
    font = float(size) if isinstance(size, (int, float)) else float(matplotlib.rcParams["font.size"])
    width = fig.get_figwidth() * 72  # points
    column = (max(len(label) for label in labels) * 0.6 + 4) * font
    return max(1, min(most, len(labels), int(width // column)))
