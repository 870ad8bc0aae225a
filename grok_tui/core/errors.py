"""The errors grok-tui reports to users as one line. Kept free of heavy imports (torch, matplotlib) so
the CLI can catch them, and answer --help or a bad flag, without loading either."""

from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the run."""


class NoDataError(ValueError):
    """The run has no log records to plot."""


class RunLockedError(RuntimeError):
    """Another live process is training this run."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""


class UnsafeTargetError(OSError):
    """A path grok-tui was asked to write or delete is there but is not a regular file (a device node, a
    FIFO, a folder, a socket, a dangling symlink): it is refused and never replaced. An OSError, so code that
    reports write errors reports this too; the CLI checks it first and exits 2 (bad input) with its message."""

    def __init__(self, path: object, problem: str):
        super().__init__(f"{path}: {problem}")
        self.filename = str(path)
        self.message = f"{path}: {problem}"

    def __str__(self) -> str:
        return self.message
