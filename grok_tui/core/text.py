"""Numbers as the terminal shows them: durations, percentages, losses, and aligned tables of cells."""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def finite(value: object) -> float | None:
    """value as a float when it is a finite number (log values may be null, NaN or missing)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows of cells (the header first) as lines with every column left-aligned to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def format_percent(value: object) -> str:
    """A fraction as a percentage with one decimal; '-' when it is missing or not finite."""
    number = finite(value)
    return f"{100 * number:.1f}%" if number is not None else "-"


def format_sci(value: object) -> str:
    """A loss in scientific notation; '-' when it is missing or not finite."""
    number = finite(value)
    return f"{number:.2e}" if number is not None else "-"
