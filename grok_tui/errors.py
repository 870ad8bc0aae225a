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
