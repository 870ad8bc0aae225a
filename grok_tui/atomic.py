"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

Write to a temporary file in the same folder, flush and fsync it, rename it over the target (atomic on
POSIX), then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _read_umask() -> int:
    current = os.umask(0)  # the only way to read the umask is to set it; put it straight back
    os.umask(current)
    return current


# Read once at import (normally in the main thread): setting the umask later could race other threads.
_UMASK = _read_umask()


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some filesystems (and Windows) do not allow opening a folder; the rename still happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces `path` atomically, on error `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the mode an open() would
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Atomically replace `path` with whatever `write(handle)` writes (e.g. torch.save, savefig)."""
    with atomic_open(path) as handle:
        write(handle)
