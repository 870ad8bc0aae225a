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
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from grok_tui.core.atomic import NotRegularFile, atomic_open, check_target, open_regular, raise_naming

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


# The shape of a record, checked on every line read, so that no reader (`list`, `plot`, `watch`, the TUI,
# the trainer's resume, the phase events) ever meets a value it cannot use: a line that breaks any rule is
# skipped and counted, never passed on. Keys not named here are passed on unchecked; no reader uses them.
EPOCH_MAX = 2**53  # every epoch is exact as a float too (charts and numpy hold epochs as floats)
NUMBER_KEYS = tuple(key for key in CORE_KEYS if key != "epoch") + (
    "restricted_loss", "excluded_loss", "gini_embed", "gini_unembed")  # a number or null
LIST_MAX = 100_000  # entries of key_freqs / embed_freq_norms at most (p <= 1000 gives 499)
_FLOAT_MAX = 1.7976931348623157e308


def _is_number(value: Any) -> bool:
    """A JSON number a reader can turn into a float (an int of 4,000 digits cannot: OverflowError)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_FLOAT_MAX <= value <= _FLOAT_MAX
    return isinstance(value, float)  # NaN and inf included: readers treat them as missing


def _well_formed(record: dict[Any, Any]) -> bool:
    epoch = record.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= EPOCH_MAX:
        return False
    if "cadence" in record and not isinstance(record["cadence"], bool):  # the phase events read it (run/phases.py)
        return False
    for key in NUMBER_KEYS:
        value = record.get(key)
        if value is not None and not _is_number(value):
            return False
    freqs = record.get("key_freqs")
    if freqs is not None and not (isinstance(freqs, list) and len(freqs) <= LIST_MAX and all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= LIST_MAX for k in freqs)):
        return False
    norms = record.get("embed_freq_norms")
    return norms is None or (isinstance(norms, list) and len(norms) <= LIST_MAX and all(
        v is None or _is_number(v) for v in norms))


def parse_record(line: bytes) -> Record | None:
    """A record from one line, or None when the line is not a JSON object of the record's shape: an
    integer epoch in [0, 2**53], numbers (or null) where numbers go, lists of them where lists go, a
    boolean `cadence` if any.

    Never raises: bad JSON or UTF-8, an integer past Python's 4,300-digit limit (ValueError), nesting so
    deep the parser recurses out (200,000 '[': RecursionError) are all None.
    """
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or not _well_formed(record):
        return None
    return record


def open_log(path: Path) -> BinaryIO | None:
    """The log opened for reading, or None when there is none. Anything but a regular file (a folder, a
    FIFO, a device) raises NotRegularFile instead of blocking or reading forever (atomic.open_regular)."""
    try:
        return open_regular(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


class RunLogWriter:
    """Appends records, one whole line per write, flushed so that tailing readers see it at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A regular file, or a symlink to one (appended through); anything else is refused (atomic.py).
        self._file: TextIO = open(check_target(self.path), "a", encoding="utf-8")

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
    its newline arrives. Lines that are not records are skipped and counted in `skipped`. A path that is
    not a regular file (a folder, a FIFO) reads as no records, with the reason in `problem`.
    """

    path: Path
    offset: int = 0
    skipped: int = 0
    problem: str = ""
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
            handle = open_log(self.path)
            self.problem = ""
        except NotRegularFile as err:
            handle, self.problem = None, str(err)
        if handle is None:
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

    def updates(self) -> Iterator[LogUpdate]:
        """The file's complete records as they are now, one poll at a time (at most READ_CHUNK bytes each),
        so that a reader can fold a huge log into a summary without holding all of it."""
        while True:
            update = self.poll()
            yield update
            if not update.records and not self.has_more():
                return

    def read_all(self) -> list[Record]:
        """Everything complete that is in the file now (polls until the end)."""
        records: list[Record] = []
        for update in self.updates():
            if update.reset:
                records = []
            records.extend(update.records)
        return records


def _size(path: Path) -> int:
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


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
        handle = open_log(path)
    except NotRegularFile:
        return None
    if handle is None:
        return None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - window))
        data = handle.read()
    # Drop the first line when we started mid-file, and the last: it is empty or still being written.
    lines = data.split(b"\n")[1 if size > window else 0 : -1]
    for line in reversed(lines):
        if line.strip():
            record = parse_record(line)
            if record is not None:
                return record
    return None
