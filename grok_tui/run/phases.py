"""The three phases of grokking (Nanda et al. 2023, section 5.2), detected from the run log.

  memorized          train accuracy first reaches 99%: memorization is done;
  circuit_formation  after memorizing, the restricted loss has fallen to half its level at the first
                     measurement after memorization, and the excluded loss has doubled from its lowest
                     level since then (the train loss keeps falling after memorization, and the
                     excluded loss with it, until the train set starts to rely on the circuit): the
                     Fourier circuit now carries the train set (the paper's "circuit formation"; its
                     start is gradual, so this marks when it is unmistakable);
  grokked            test accuracy first reaches 99% (during the paper's "cleanup").

Events are a pure function of the log's records, so the trainer, `grok-tui list` and the TUI all find
the same epochs, and a resume (which cuts the log back to the checkpoint) recomputes them exactly.
The trainer keeps them in logs/<tag>/events.json for other programs to read.

Only the lines of the log cadence (epoch 0 and every log_every epochs) are read: an event is reported at
the first of them at or after its threshold is crossed. A line written off the cadence (at a stop, or at a
last epoch that is not a multiple of log_every) never makes or moves an event, so a run stopped and
resumed anywhere has the same events as one trained in one go (a stop at 1,228 once said "grokked at
1,228" where the uninterrupted run said 1,230). The trainer marks every line (`cadence`, run/log.py);
a line written before that mark existed counts as off the cadence when its epoch is not a multiple of the
run's log_every, when that is known.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from grok_tui.core.atomic import atomic_write_text, read_regular
from grok_tui.core.config import Config
from grok_tui.run.log import Record

GROKKED_ACC = 0.99  # the paper's and our threshold for "memorized" (train) and "grokked" (test)
RESTRICTED_FALL = 0.5  # restricted loss at most this fraction of its value just after memorizing
EXCLUDED_RISE = 2.0  # excluded loss at least this multiple of its lowest value since memorizing
EVENTS_MAX_BYTES = 1024 * 1024  # events.json holds three events (~300 bytes); past this it is not ours
EVENT_NAMES = ("memorized", "circuit_formation", "grokked")
# How a session ended, when that is not in the log: a run whose loss stopped being finite leaves no log
# line there (a NaN record is never written), so without this `list` could not tell it from a kill -9.
DIVERGED = "diverged"
EVENT_LABELS = {"memorized": "memorized", "circuit_formation": "circuit formation", "grokked": "grokked"}


@dataclass(frozen=True)
class Event:
    name: str
    epoch: int
    text: str  # one human line, e.g. "memorized: train accuracy reached 99% at epoch 1,400"


def _number(record: Record, key: str) -> float | None:
    value = record.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def on_cadence(record: Record, log_every: int | None = None) -> bool:
    """Whether a log line is one of the cadence's (epoch 0 and every log_every epochs), which alone make events.

    The trainer's own mark decides; a line without it (a log written before the mark existed) is on the
    cadence when its epoch is a multiple of `log_every` (the run's, from config.json), or when that is unknown.
    """
    mark = record.get("cadence")
    if isinstance(mark, bool):
        return mark
    return log_every is None or log_every < 1 or int(record["epoch"]) % log_every == 0


class PhaseTracker:
    """Feed it the log's records in order; it reports each event once, at the first cadence line that shows it.

    `log_every`: the run's log cadence, used only for lines without the trainer's `cadence` mark.
    """

    def __init__(self, log_every: int | None = None) -> None:
        self.log_every = log_every
        self.events: list[Event] = []
        self._reference_restricted: float | None = None  # at the first measurement after memorizing
        self._lowest_excluded = math.inf  # since memorizing

    def epoch_of(self, name: str) -> int | None:
        return next((event.epoch for event in self.events if event.name == name), None)

    def feed(self, record: Record) -> list[Event]:
        if not on_cadence(record, self.log_every):
            return []  # where a run was stopped must not decide when it memorized or grokked
        epoch = int(record["epoch"])
        found: list[Event] = []
        train_acc, test_acc = _number(record, "train_acc"), _number(record, "test_acc")
        if self.epoch_of("memorized") is None and train_acc is not None and train_acc >= GROKKED_ACC:
            found.append(Event("memorized", epoch, f"memorized: train accuracy reached 99% at epoch {epoch:,}"))
        memorized = self.epoch_of("memorized") is not None or bool(found)
        restricted, excluded = _number(record, "restricted_loss"), _number(record, "excluded_loss")
        if memorized and restricted is not None and excluded is not None \
                and self.epoch_of("circuit_formation") is None:
            if self._reference_restricted is None:
                self._reference_restricted = restricted
            elif restricted <= RESTRICTED_FALL * self._reference_restricted \
                    and excluded >= EXCLUDED_RISE * self._lowest_excluded and excluded > self._lowest_excluded:
                found.append(Event(
                    "circuit_formation", epoch,
                    f"circuit formation: restricted loss {restricted:.3g} (was {self._reference_restricted:.3g}), "
                    f"excluded loss {excluded:.3g} (lowest {self._lowest_excluded:.3g}) at epoch {epoch:,}",
                ))
            self._lowest_excluded = min(self._lowest_excluded, excluded)
        if self.epoch_of("grokked") is None and test_acc is not None and test_acc >= GROKKED_ACC:
            found.append(Event("grokked", epoch, f"grokked: test accuracy reached 99% at epoch {epoch:,}"))
        self.events.extend(found)
        return found

    def phase(self, has_data: bool = True) -> str:
        """The current phase in words, for the status panel and `grok-tui list`."""
        if self.epoch_of("grokked") is not None:
            return "grokked"
        if self.epoch_of("circuit_formation") is not None:
            return "circuit formation"
        if self.epoch_of("memorized") is not None:
            return "memorized"
        return "memorizing" if has_data else "no data yet"


def track(records: list[Record], log_every: int | None = None) -> PhaseTracker:
    tracker = PhaseTracker(log_every)
    for record in records:
        tracker.feed(record)
    return tracker


def grokked_epoch(events_path: Path) -> int | None:
    """The epoch a run grokked, from its events.json; None if it has not (or the file cannot be read)."""
    return next((e.epoch for e in load_events(events_path) if e.name == "grokked"), None)


def early_stop_due(config: Config, grokked_epoch: int | None, epoch: int) -> bool:
    """Whether a run at `epoch` that grokked at `grokked_epoch` is done by its stop_after_grok setting.

    Only on a cadence epoch, where the trainer checks it: a run stopped between two log lines past the
    mark goes on to the next one, as it would have without the stop.
    """
    return (config.stop_after_grok is not None and grokked_epoch is not None
            and epoch >= grokked_epoch + config.stop_after_grok and epoch % config.log_every == 0)


def save_events(path: Path, events: list[Event]) -> None:
    atomic_write_text(path, json.dumps([asdict(event) for event in events], indent=2) + "\n")


def diverged_epoch(path: Path) -> int | None:
    """The epoch a run's last session diverged at, from its events.json (a resume rewrites the file from
    the log, so a run that trains again is no longer marked), or None."""
    events = load_events(path)
    return events[-1].epoch if events and events[-1].name == DIVERGED else None


def load_events(path: Path) -> list[Event]:
    """events.json as written by the trainer; a missing or unreadable file is no events (a FIFO, a device,
    a folder or a file past EVENTS_MAX_BYTES too: refused unread by read_regular)."""
    try:
        data = json.loads(read_regular(path, EVENTS_MAX_BYTES))
        events = [Event(str(item["name"]), int(item["epoch"]), str(item["text"])) for item in data]
        return [event for event in events if event.name in (*EVENT_NAMES, DIVERGED)]  # names only the trainer writes
    except (OSError, ValueError, TypeError, KeyError, RecursionError):  # RecursionError: 200,000 '['
        return []
