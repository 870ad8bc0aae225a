"""The run log `training_log.jsonl`: one JSON object per logged epoch, and an incremental reader.

Every consumer (the TUI charts, `watch`, `plot`, `list`) reads this file, never the trainer's memory,
so a run looks the same wherever and whenever it was trained. The writer emits each record as one
`write()` of a whole line and flushes it; the reader returns only complete lines, keeps a partial last
line for later, and starts over when the file was cut back (resume) or replaced.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from grok_tui.atomic import atomic_open, raise_naming

Record = dict[str, Any]

# Keys every record carries; progress measures add more on the lines where they are computed.
CORE_KEYS = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc", "lr", "weight_norm", "elapsed_s")

READ_CHUNK = 4 * 1024 * 1024  # bytes read per call at most, so a huge file never lands in memory at once
MAX_LINE = 1024 * 1024  # a "line" longer than this is garbage, not a record
_TAIL = 64  # bytes before the read offset remembered to notice an in-place rewrite


def _json_safe(value: Any) -> Any:
    # JSON has no NaN or inf; write them as null so every line stays valid JSON for any reader.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def encode_record(record: Record) -> str:
    return json.dumps({k: _json_safe(v) for k, v in record.items()}, separators=(",", ":")) + "\n"


def parse_record(line: bytes) -> Record | None:
    """A record from one line, or None when the line is not a JSON object with an integer epoch."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    epoch = record.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return None
    return record


class RunLogWriter:
    """Appends records, one whole line per write, flushed so that tailing readers see it at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(self.path, "a", encoding="utf-8")

    def write(self, record: Record) -> None:
        try:
            self._file.write(encode_record(record))
            self._file.flush()
        except OSError as err:
            raise_naming(err, self.path)  # a full disk's error names no file

    def sync(self) -> None:
        """Make the lines written so far durable (called when a checkpoint is written)."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            raise_naming(err, self.path)  # a full disk's error names no file

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()  # closes the file even when its last flush fails
            except OSError as err:
                raise_naming(err, self.path)  # a full disk's error names no file

    def __enter__(self) -> "RunLogWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except OSError:
            # The error on its way out is the one to report: after a failed write (disk full) the
            # unwritten line is still buffered and closing fails again on it.
            pass


@dataclass
class LogUpdate:
    records: list[Record]
    reset: bool = False  # True: the file was cut back or replaced; drop what was read before


@dataclass
class RunLogReader:
    """Reads a growing JSONL log incrementally by byte offset.

    `poll()` returns the complete records added since the last call. A partial last line is kept until
    its newline arrives. Lines that are not records are skipped and counted in `skipped`.
    """

    path: Path
    offset: int = 0
    skipped: int = 0
    _partial: bytes = b""
    _identity: tuple[int, int] | None = None
    _tail: bytes = b""
    _discarding: bool = field(default=False, repr=False)  # inside an over-long line

    def _restart(self) -> None:
        self.offset, self.skipped, self._partial, self._tail, self._discarding = 0, 0, b"", b"", False

    def _changed_under_us(self, handle: Any, stat: os.stat_result) -> bool:
        identity = (stat.st_dev, stat.st_ino)
        if self._identity is not None and identity != self._identity:
            return True  # replaced (the trainer rewrites the log atomically when it cuts it back)
        if stat.st_size < self.offset:
            return True  # truncated in place
        if self._tail:
            handle.seek(self.offset - len(self._tail))
            if handle.read(len(self._tail)) != self._tail:
                return True  # rewritten in place to the same or a larger size
        return False

    def poll(self, max_bytes: int = READ_CHUNK) -> LogUpdate:
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            reset = self._identity is not None
            self._identity = None
            if reset:
                self._restart()
            return LogUpdate([], reset)
        with handle:
            stat = os.fstat(handle.fileno())
            reset = self._changed_under_us(handle, stat)
            if reset:
                self._restart()
            self._identity = (stat.st_dev, stat.st_ino)
            handle.seek(self.offset)
            chunk = handle.read(max_bytes)
        self.offset += len(chunk)
        if chunk:
            self._tail = (self._tail + chunk)[-_TAIL:]
        return LogUpdate(self._parse(chunk), reset)

    def _parse(self, chunk: bytes) -> list[Record]:
        records: list[Record] = []
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # the bytes after the last newline: an unfinished line
        for line in lines:
            if self._discarding:  # the end of an over-long line
                self._discarding = False
                continue
            if not line.strip():
                continue
            record = parse_record(line)
            if record is None:
                self.skipped += 1
            else:
                records.append(record)
        if len(self._partial) > MAX_LINE:
            if not self._discarding:
                self.skipped += 1
            self._partial, self._discarding = b"", True
        return records

    def has_more(self) -> bool:
        """Whether the file holds bytes this reader has not read yet."""
        return self.offset < _size(self.path)

    def read_all(self) -> list[Record]:
        """Everything complete that is in the file now (polls until the end)."""
        records: list[Record] = []
        while True:
            update = self.poll()
            if update.reset:
                records = []
            records.extend(update.records)
            if not update.records and not self.has_more():
                return records


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def read_log(path: Path) -> list[Record]:
    """All complete records of a log file ([] if it does not exist)."""
    return RunLogReader(Path(path)).read_all()


def cut_back(path: Path, last_epoch: int) -> int:
    """Atomically rewrite the log keeping only records with epoch <= last_epoch; returns how many were kept.

    Used on resume: the checkpoint is at `last_epoch`, so later lines describe work that is about to be
    redone. Malformed lines are dropped too. A missing log stays missing.
    """
    path = Path(path)
    if not path.exists():
        return 0
    kept = [r for r in read_log(path) if r["epoch"] <= last_epoch]
    # Keep epochs strictly increasing even if an older writer left duplicates behind.
    unique: list[Record] = []
    for record in kept:
        if not unique or record["epoch"] > unique[-1]["epoch"]:
            unique.append(record)
    with atomic_open(path) as handle:
        handle.write("".join(encode_record(r) for r in unique).encode("utf-8"))
    return len(unique)


def last_record(path: Path, window: int = 64 * 1024) -> Record | None:
    """The last complete record, reading only the file's tail (for `list` on huge logs)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - window))
            data = handle.read()
    except FileNotFoundError:
        return None
    # Drop the first line when we started mid-file, and the last: it is empty or still being written.
    lines = data.split(b"\n")[1 if size > window else 0 : -1]
    for line in reversed(lines):
        if line.strip():
            record = parse_record(line)
            if record is not None:
                return record
    return None
