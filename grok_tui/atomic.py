"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

Write to a temporary file in the same folder, flush and fsync it, rename it over the target (atomic on
POSIX), then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NoReturn


def _read_umask() -> int:
    current = os.umask(0)  # the only way to read the umask is to set it; put it straight back
    os.umask(current)
    return current


# Read once at import (normally in the main thread): setting the umask later could race other threads.
_UMASK = _read_umask()

# Temp files are named .<name>.<random>.tmp beside the file they will replace.
TEMP_SUFFIX = ".tmp"


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


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
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as err:  # e.g. a read-only folder: the error names a random temp name, not the file
        raise_naming(err, path)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the mode an open() would
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise_naming(err, path)
        raise
    fsync_dir(path.parent)


def raise_naming(err: OSError, path: Path) -> NoReturn:
    """Raise `err`, or the same error naming `path` when `err` names no file or only a temp file of it.

    A full disk fails at write, flush or fsync with an OSError that names no file (ENOSPC comes from the
    handle), and a read-only folder fails with one naming the random temp file: either way the CLI's
    one-line error and the TUI's notification could not say which file was not written. An error that
    names some other file (say, a font savefig could not read), or has no errno, is raised as it is.
    """
    name = err.filename
    temp = isinstance(name, str) and Path(name).parent == path.parent and Path(name).name.startswith(
        _temp_prefix(path)) and name.endswith(TEMP_SUFFIX)
    if err.errno is None or not (name is None or temp):
        raise err
    raise OSError(err.errno, err.strerror, str(path)) from err  # OSError(errno, ...) is e.g. a PermissionError


def leftover_temps(path: Path) -> list[Path]:
    """Temp files of atomic writes of `path` that never finished: a process killed (kill -9, power cut)
    between creating its temp file and renaming it over `path` leaves one behind."""
    path = Path(path)
    pattern = glob.escape(_temp_prefix(path)) + "*" + TEMP_SUFFIX
    return sorted(path.parent.glob(pattern))


def remove_leftover_temps(path: Path) -> int:
    """Delete leftover_temps(path); returns how many. Only for a caller that is the one writer of `path`
    (the trainer holds the run's lock): another writer's temp file in flight would look the same."""
    removed = 0
    for temp in leftover_temps(path):
        try:
            temp.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Atomically replace `path` with whatever `write(handle)` writes (e.g. torch.save, savefig)."""
    with atomic_open(path) as handle:
        write(handle)
