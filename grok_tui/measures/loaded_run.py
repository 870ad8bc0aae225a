"""A run in a notebook, read-only: `run = load_run("TAG", epoch=None, root=".")`.

    run.model            the reference SimpleTransformer (grok_tui/experiment/model.py) with the checkpoint's weights, or
                         the snapshot's at `epoch`; eval mode, no gradients
    run.data             the task's inputs and labels with the run's seeded train/test split
                         (run.data.train_tokens, run.data.test_labels, ...)
    run.config           the run's Config
    run.epoch            the epoch of run.model's weights
    run.log              the training log as numpy columns: run.log["test_acc"], run.log["epoch"], ... (NaN on
                         lines without the value); list values (key_freqs, embed_freq_norms) as object columns
                         of lists (None on lines without one)
    run.records          the log's lines as dicts
    run.snapshot_epochs  the epochs with a weight snapshot (models/TAG/snapshots)
    run.at(epoch)        the model at another snapshot epoch

Nothing is written and no lock is taken, so it works on a run that is training (every file is written
atomically, so it reads whole files) and on a copy of someone else's run folder (loaded with
weights_only=True and checked against the run's config, like every file grok-tui reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grok_tui.core.config import Config, ConfigError
from grok_tui.core.errors import CheckpointError
from grok_tui.experiment.data import Dataset, make_dataset
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import Record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import check_weights, list_snapshots, load_snapshot


def run_config(paths: RunPaths) -> Config:
    """The run's config.json; a missing run is a ConfigError naming the tag."""
    if not paths.config.exists():
        raise ConfigError([f"tag: no run {paths.tag!r} under {paths.root.resolve() / 'logs'}"])
    return Config.load(paths.config)


def run_weights(paths: RunPaths, config: Config, epoch: int | None = None) -> tuple[int, dict[str, torch.Tensor], Path]:
    """(epoch, weights, file): the checkpoint's (epoch None), else the snapshot at `epoch` (or the checkpoint
    when it is at that epoch). A missing epoch is a ConfigError listing what there is."""
    snapshots = {s.epoch: s for s in list_snapshots(paths)}
    if epoch is None or epoch not in snapshots:
        state = load_checkpoint(paths.checkpoint) if paths.checkpoint.exists() else None
        if state is not None and (epoch is None or state["epoch"] == epoch):
            return int(state["epoch"]), check_weights(state["model"], config, paths.checkpoint), paths.checkpoint
        if epoch is None:
            raise CheckpointError(f"{paths.checkpoint}: run {paths.tag!r} has no checkpoint")
        there = describe_epochs(sorted(snapshots))
        at = f"; its checkpoint is at epoch {state['epoch']:,}" if state is not None else ""
        raise ConfigError([f"epoch: run {paths.tag!r} has no snapshot at epoch {epoch:,} (snapshots: {there}{at})"])
    snapshot = snapshots[epoch]
    return epoch, load_snapshot(snapshot.path, config), snapshot.path


def describe_epochs(epochs: list[int]) -> str:
    """'none', '0, 100, 200', or '0, 200, ..., 20,000 (101 in all)' for a message."""
    if not epochs:
        return "none"
    if len(epochs) <= 6:
        return ", ".join(f"{e:,}" for e in epochs)
    return f"{epochs[0]:,}, {epochs[1]:,}, ..., {epochs[-1]:,} ({len(epochs)} in all)"


def log_columns(records: list[Record]) -> dict[str, np.ndarray]:
    """Every key of the log as a column over its lines: numbers as float (NaN where a line lacks one);
    keys whose values are lists (key_freqs, embed_freq_norms) as an object column of those lists (None
    where a line lacks one), so run.log["key_freqs"][-1] is the last measurement's key frequencies."""
    def number(value: object) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    columns = {}
    for key in dict.fromkeys(k for r in records for k in r):
        values = [r.get(key) for r in records]
        numbers = [number(v) for v in values]
        if any(n is not None for n in numbers):
            columns[key] = np.array([n if n is not None else np.nan for n in numbers])
        elif any(isinstance(v, list) for v in values):
            column = np.empty(len(values), dtype=object)
            column[:] = [list(v) if isinstance(v, list) else None for v in values]
            columns[key] = column
    return columns


@dataclass
class Run:
    tag: str
    paths: RunPaths
    config: Config
    epoch: int
    model: SimpleTransformer
    data: Dataset
    records: list[Record] = field(repr=False)
    log: dict[str, np.ndarray] = field(repr=False)
    snapshot_epochs: list[int] = field(default_factory=list)

    def at(self, epoch: int | None) -> SimpleTransformer:
        """The model with the weights of the snapshot at `epoch` (None: the checkpoint's)."""
        return build_model(self.config, run_weights(self.paths, self.config, epoch)[1])


def build_model(config: Config, weights: dict[str, torch.Tensor]) -> SimpleTransformer:
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave the caller's RNG as it was
        model = SimpleTransformer(config)
    model.load_state_dict({name: tensor.float() for name, tensor in weights.items()})
    return model.eval().requires_grad_(False)


def load_run(tag: str, epoch: int | None = None, root: Path | str = ".") -> Run:
    """Run `tag` under `root`, its model at the checkpoint (epoch None) or at the snapshot of `epoch`."""
    paths = RunPaths.of(tag, root)
    config = run_config(paths)
    at, weights, _ = run_weights(paths, config, epoch)
    records = read_log(paths.log)
    return Run(tag=tag, paths=paths, config=config, epoch=at, model=build_model(config, weights),
               data=make_dataset(config), records=records, log=log_columns(records),
               snapshot_epochs=[s.epoch for s in list_snapshots(paths)])
