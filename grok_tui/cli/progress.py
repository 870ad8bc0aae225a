"""The headless progress line of `grok-tui train`.

On a terminal the line is redrawn in place (at most a few times a second), cut to the terminal's
width by leaving out its least useful parts (a line that wraps would leave a copy behind at every
redraw); into a file or pipe each update is a whole line, at most one every few seconds, so
`nohup ... > train.out` stays readable.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from grok_tui.core.config import Config
from grok_tui.run.log import Record
from grok_tui.core.text import format_duration


def progress_line(config: Config, record: Record, epochs_per_s: float | None, width: int | None = None) -> str:
    """'epoch 1,200/3,000 ( 40.0%) | 81.3 ep/s | ETA 22s | loss 4.75e-07 / 3.21e-01 | acc 100.0% /  92.8%
    (train/test)'; with `width`, the least useful parts are left out until the line fits (a line that
    wraps cannot be redrawn in place)."""
    epoch = int(record["epoch"])
    total = config.num_epochs
    speed = f"{epochs_per_s:,.1f} ep/s" if epochs_per_s else "-- ep/s"
    eta = format_duration((total - epoch) / epochs_per_s) if epochs_per_s else "--"

    def num(key: str, fmt: str) -> str:
        value = record.get(key)
        return format(value, fmt) if isinstance(value, (int, float)) else "nan"

    # (what it says, the text before it, its rank: 1 is kept longest)
    parts = [
        (f"epoch {epoch:,}/{total:,}", "", 1),
        (f"({100 * epoch / total:5.1f}%)", " ", 5),
        (speed, " | ", 7),
        (f"ETA {eta}", " | ", 3),
        (f"loss {num('train_loss', '.2e')} / {num('test_loss', '.2e')}", " | ", 4),
        (f"acc {100 * record.get('train_acc', 0):5.1f}% / {100 * record.get('test_acc', 0):5.1f}%", " | ", 2),
        ("(train/test)", " ", 6),
    ]
    while True:
        line = "".join((before if i else "") + text for i, (text, before, _) in enumerate(parts))
        if width is None or len(line) <= width or len(parts) == 1:
            return line if width is None else line[:width]
        parts.remove(max(parts, key=lambda part: part[2]))


class ProgressPrinter:
    """An `on_log` callback that prints the progress line."""

    def __init__(self, config: Config, stream: TextIO | None = None):
        self.config = config
        self.stream = stream if stream is not None else sys.stdout
        self.interactive = self.stream.isatty()
        self.min_interval = 0.2 if self.interactive else 5.0
        self._last_print = -float("inf")
        self._first: tuple[int, float] | None = None  # (epoch, elapsed_s) of this session's first record
        self._pending: str | None = None
        self._shown: str | None = None  # the progress line on screen (interactive), to redraw after an event

    def epochs_per_s(self, record: Record) -> float | None:
        epoch, elapsed = int(record["epoch"]), float(record.get("elapsed_s", 0.0))
        if self._first is None:
            self._first = (epoch, elapsed)
            return None
        first_epoch, first_elapsed = self._first
        if elapsed <= first_elapsed or epoch <= first_epoch:
            return None
        return (epoch - first_epoch) / (elapsed - first_elapsed)

    def width(self) -> int | None:
        """Columns for the line on a terminal, one short of its width (a full last column wraps in some
        terminals); None into a file or pipe, where whole lines are wanted."""
        if not self.interactive:
            return None
        try:
            return max(20, os.get_terminal_size(self.stream.fileno()).columns - 1)
        except (OSError, ValueError, AttributeError):
            return 79

    def __call__(self, record: Record) -> None:
        line = progress_line(self.config, record, self.epochs_per_s(record), self.width())
        now = time.monotonic()
        if now - self._last_print < self.min_interval and record["epoch"] < self.config.num_epochs:
            self._pending = line
            return
        self._emit(line)
        self._last_print = now

    def event(self, text: str) -> None:
        """A phase event (grok_tui/run/phases.py): one line of its own, above the progress line."""
        if self.interactive:
            self.stream.write("\r\x1b[2K" + text + "\n" + (self._shown or ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _emit(self, line: str) -> None:
        self._pending = None
        if self.interactive:
            self._shown = line
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        """Print the last unprinted update, end the line, then `message` on its own line."""
        if self._pending is not None:
            self._emit(self._pending)
        if self.interactive and self._last_print > -float("inf"):
            self.stream.write("\n")
        self.stream.write(message + "\n")
        self.stream.flush()
