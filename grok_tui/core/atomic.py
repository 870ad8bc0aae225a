"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

Write to a temporary file in the same folder, flush and fsync it, rename it over the target (atomic on
POSIX), then fsync the folder so the rename itself survives a power cut.

What is replaced, everywhere (a user's `--out` and the files in run folders alike): a regular file, or
the regular file a symlink points to (the link stays; the temp file is made beside the file it points to
and renamed over it). Anything else that is there (a device node, a FIFO, a socket, a folder, a symlink
to one of those, a dangling symlink) is refused with UnsafeTargetError and left as it is: renaming over
/dev/null would replace the device, and writing through a dangling link would create a file wherever it
points.
"""

from __future__ import annotations

import glob
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NoReturn

from grok_tui.core.errors import UnsafeTargetError


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


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words, for messages."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink"),
             (stat.S_ISREG, "a regular file"))
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def check_target(path: Path) -> Path:
    """The file to replace when writing `path`: `path` itself (missing or a regular file), or the regular
    file it is a symlink to. Anything else raises UnsafeTargetError naming `path`; nothing is touched."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except NotADirectoryError:
        raise UnsafeTargetError(path, "a part of its folder path is a file, not a folder") from None
    if stat.S_ISREG(mode):
        return path
    if not stat.S_ISLNK(mode):
        raise UnsafeTargetError(path, f"is {kind_of(mode)}, not a regular file; it was left as it is (write "
                                      "to a file name that is free or a regular file)")
    try:
        target_mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UnsafeTargetError(path, f"is a symlink to {os.readlink(path)!r}, which does not exist; grok-tui "
                                      "does not create files through symlinks (remove the link or make its "
                                      "target a regular file)") from None
    except OSError as err:  # a loop (ELOOP), a folder that cannot be searched
        raise UnsafeTargetError(path, f"is a symlink that cannot be followed ({err.strerror})") from None
    if not stat.S_ISREG(target_mode):
        raise UnsafeTargetError(path, f"is a symlink to {kind_of(target_mode)}, not to a regular file; it was "
                                      "left as it is")
    return Path(os.path.realpath(path))


def check_writable(path: Path) -> Path:
    """check_target(), and a file created and removed beside `path`: a read-only folder is found before a
    long computation whose result could then not be written (permissions alone say nothing to root, or on
    a read-only mount). OSError names the folder."""
    target = check_target(path)
    with tempfile.TemporaryFile(dir=Path(path).parent, prefix=f".{Path(path).name}.", suffix=TEMP_SUFFIX):
        pass
    return target


def check_targets(paths: Iterable[Path]) -> None:
    """check_target() for each path, before a command writes any of them."""
    for path in paths:
        check_target(path)


def check_removable(path: Path) -> None:
    """Raise UnsafeTargetError unless `path` is missing, a regular file or a symlink (unlinking a symlink
    removes the link, never what it points to): --fresh checks every file this way before deleting any."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise UnsafeTargetError(path, "a part of its folder path is a file, not a folder; nothing was "
                                      "deleted") from None
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise UnsafeTargetError(path, f"is {kind_of(mode)}, not a file grok-tui wrote; nothing was deleted "
                                      "(move it away, then run again)")


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
    real = check_target(path)  # `path`, or the regular file it links to; anything else is refused
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(real), suffix=TEMP_SUFFIX, dir=real.parent)
    except OSError as err:  # e.g. a read-only folder: the error names a random temp name, not the file
        raise_naming(err, path, real)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the mode an open() would
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if check_target(real) != real:  # became something else while we wrote (a FIFO, a link): refuse it
            raise UnsafeTargetError(path, "changed into something other than a regular file while it was "
                                          "being written; it was left as it is")
        os.replace(tmp_name, real)
    except BaseException as err:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        disk_error = _write_error_under(err)
        if disk_error is not None:
            raise_naming(disk_error, path, real)
        if isinstance(err, OSError) and not isinstance(err, UnsafeTargetError):
            raise_naming(err, path, real)
        raise
    fsync_dir(real.parent)


def _write_error_under(err: BaseException) -> OSError | None:
    """The OSError (a full disk, an I/O error) behind torch.save's own error, or None for any other error.

    torch.save writes through a C++ zip writer: when a write fails, the zip file is still closed on the way
    out and its end-of-file check raises RuntimeError("[enforce fail at inline_container.cc] unexpected
    pos ...") with the OSError only as its context. Only that shape is recognised: a RuntimeError whose
    context is an OSError with an errno.
    """
    context = err.__context__
    if type(err) is RuntimeError and isinstance(context, OSError) and context.errno is not None \
            and not isinstance(context, UnsafeTargetError):
        return context
    return None


def raise_naming(err: OSError, path: Path, written: Path | None = None) -> NoReturn:
    """Raise `err`, or the same error naming `path` when `err` names no file or only a temp file of it.

    A full disk fails at write, flush or fsync with an OSError that names no file (ENOSPC comes from the
    handle), and a read-only folder fails with one naming the random temp file: either way the CLI's
    one-line error and the TUI's notification could not say which file was not written. An error that
    names some other file (say, a font savefig could not read), or has no errno, is raised as it is.
    `written` is the file actually replaced when `path` is a symlink to it (its temp files are beside it).
    Paths are compared absolute: mkstemp names its file absolute even when the folder is relative.
    """
    name = err.filename
    target = Path(os.path.abspath(written if written is not None else path))
    temp = isinstance(name, str) and _is_temp_of(Path(os.path.abspath(name)), target)
    if err.errno is None or not (name is None or temp):
        raise err
    raise OSError(err.errno, err.strerror, str(path)) from err  # OSError(errno, ...) is e.g. a PermissionError


def _is_temp_of(name: Path, target: Path) -> bool:
    return name.parent == target.parent and name.name.startswith(_temp_prefix(target)) and \
        name.name.endswith(TEMP_SUFFIX)


def leftover_temps(path: Path) -> list[Path]:
    """Temp files of atomic writes of `path` that never finished: a process killed (kill -9, power cut)
    between creating its temp file and renaming it over `path` leaves one behind."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # writes through a link leave their temp files beside its target
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


class NotRegularFile(UnsafeTargetError):
    """A file grok-tui was asked to read that is not a regular file (or is far larger than any it writes)."""


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for binary reading, if it is a regular file (or a symlink to one); anything else raises
    NotRegularFile naming it. The one way grok-tui opens a file it reads: every file is hostile input.

    Opened with O_NONBLOCK, so a FIFO put in a file's place cannot block the open waiting for a writer, and
    checked on the opened descriptor (fstat), so a file swapped after a check cannot slip through: a FIFO
    would block the first read, a device (/dev/zero) can be read forever. FileNotFoundError and the other
    OSErrors of open() pass through for the caller to handle.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile(path, f"is {kind_of(mode)}, not a regular file; it was not read")
    return os.fdopen(fd, "rb")


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (open_regular's rule); a larger one raises
    NotRegularFile without reading past `max_bytes + 1`."""
    with open_regular(path) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotRegularFile(path, f"is larger than {_size_text(max_bytes)}, more than grok-tui writes there; "
                                     "it was not read")
    return data


def _size_text(size: int) -> str:
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 2**10} KiB"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Atomically replace `path` with whatever `write(handle)` writes (e.g. torch.save, savefig)."""
    with atomic_open(path) as handle:
        write(handle)
