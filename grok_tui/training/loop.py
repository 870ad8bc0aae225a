"""One training session's loop: build (or restore) the model, optimizer and filters, then run the epochs.

As in Nanda et al. 2023 by default: full batch (one AdamW step per epoch over the whole training set), betas
(0.9, 0.98), the learning rate scaled by min(step / warmup_steps, 1) (so the very first step has lr 0,
as in the released code), and cross-entropy on the last position with log-softmax in float64.
With a batch size, an epoch is one pass over the training set in minibatches (the last one partial), in
an order drawn from (seed, epoch) alone (optimizers.epoch_order), so a run resumed at any checkpoint
(checkpoints fall on epoch ends) draws the same batches; the warmup counts optimizer steps.
A log record at epoch e describes the model after e epochs, `step` optimizer steps (e full batch); epoch 0
is the initial model.
Train and test metrics are computed at log points only, in one no-grad pass over all p^2 inputs. At the
end of a run the loop writes its figures (grok_tui/figures/curves.py); it knows nothing about any UI.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from grok_tui.core.atomic import remove_leftover_temps
from grok_tui.core.config import Config
from grok_tui.core.errors import TrainingError
from grok_tui.experiment.data import make_dataset
from grok_tui.experiment.engine import last_position_logits
from grok_tui.experiment.interventions import make_filter, orthogonalize_gradients
from grok_tui.experiment.losses import example_losses
from grok_tui.experiment.memory import (
    ResidualLogits,
)
from grok_tui.experiment.model import (
    SimpleTransformer,
    squared_norms,
    sum_squared_weights,
)
from grok_tui.measures.progress_measures import ProgressMeasures
from grok_tui.run.checkpoint import (
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from grok_tui.run.log import Record, RunLogWriter, cut_back, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import DIVERGED, Event, PhaseTracker, early_stop_due, save_events, track
from grok_tui.run.snapshots import (
    cut_back_snapshots,
    save_snapshot,
    snapshot_due,
)
from grok_tui.run.stopclock import stopped_seconds
from grok_tui.experiment.evaluation import LogitsFn, all_logits, eval_chunk_rows, metrics_of, train_chunk_rows
from grok_tui.experiment.optimizers import epoch_order, make_optimizer, seed_everything, warmup_factor


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class TrainResult:
    config: Config
    paths: RunPaths
    model: SimpleTransformer
    epoch: int  # epochs completed
    status: str  # "finished", "stopped" (stop event) or "early_stopped" (stop_after_grok epochs after grokking)
    last: Record | None  # the last record written by this call


class TrainingLoop:
    """One training session: builds the model and optimizer (or restores them) and runs the epochs."""

    def __init__(self, config: Config, paths: RunPaths, device: torch.device,
                 checkpoint: dict[str, Any] | None, stop_event: StopSignal | None,
                 on_log: Callable[[Record], None] | None, logits_fn: LogitsFn = last_position_logits,
                 on_event: Callable[[Event], None] | None = None, still_owned: Callable[[], None] | None = None):
        self.config, self.paths, self.device = config, paths, device
        self.still_owned = still_owned  # raises when the run's lock is no longer ours (RunLock.verify)
        self.stop_event, self.on_log, self.logits_fn, self.on_event = stop_event, on_log, logits_fn, on_event
        seed_everything(config.seed)
        self.data = make_dataset(config).to(device)
        train_tokens = self.data.train_tokens  # [n_train, 3]
        self.train_a = train_tokens[:, 0].contiguous()  # [n_train]
        self.train_b = train_tokens[:, 1].contiguous()  # [n_train]
        self.train_labels = self.data.train_labels  # [n_train]
        # Initialize on the CPU so a seed gives the same initial weights on every device.
        self.model = SimpleTransformer(config).to(device)
        self.params = list(self.model.parameters())
        self.optimizer = make_optimizer(self.params, config)
        self.grad_filter = make_filter(config)  # Grokfast, or None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_factor(config.warmup_steps))
        self.epoch, self.elapsed_before = 0, 0.0
        self.last_checkpoint_epoch: int | None = None
        if checkpoint is not None:
            self.model.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.scheduler.load_state_dict(checkpoint["scheduler"])
            if self.grad_filter is not None:
                self.grad_filter.load_state_dict(checkpoint["grokfast"])
            restore_rng_states(checkpoint["rng"])
            self.epoch = int(checkpoint["epoch"])
            self.elapsed_before = float(checkpoint.get("elapsed_s", 0.0))
            self.last_checkpoint_epoch = self.epoch
        # Lines after the checkpoint describe work about to be redone: cut them so epochs stay increasing.
        cut_back(paths.log, self.epoch if checkpoint is not None else -1)
        cut_back_snapshots(paths, self.epoch if checkpoint is not None else -1)  # rewritten when reached
        self.measures = ProgressMeasures(config.p, config.operation, self.data) if config.measure_every else None
        # Events are a function of the log: replaying the kept lines restores them exactly on resume.
        self.phases = track(read_log(paths.log), config.log_every) if checkpoint is not None \
            else PhaseTracker(config.log_every)
        save_events(paths.events, self.phases.events)
        self.started, self.stopped_before = time.perf_counter(), stopped_seconds()
        self.last: Record | None = None

    def elapsed(self) -> float:
        """Training time: wall time less the time the process was stopped (Ctrl-Z; grok_tui/run/stopclock.py)."""
        return self.elapsed_before + time.perf_counter() - self.started - (stopped_seconds() - self.stopped_before)

    def step(self) -> None:
        """One epoch: one full-batch optimizer step, or one per minibatch of this epoch's order."""
        size = self.config.batch_size
        if size == 0:
            self.optimizer_step(None)
            return
        order = epoch_order(self.config.seed, self.epoch, len(self.train_labels)).to(self.train_labels.device)
        for start in range(0, len(order), size):
            self.optimizer_step(order[start:start + size])

    def optimizer_step(self, batch: torch.Tensor | None) -> None:
        """One optimizer step on the mean loss over the training pairs at `batch` (None: all of them)."""
        self.backward(batch)
        if self.grad_filter is not None:
            self.grad_filter.apply(self.params)
        if self.config.orthograd:
            orthogonalize_gradients(self.params)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def backward(self, batch: torch.Tensor | None = None) -> None:
        """The gradient of the mean training loss over the training pairs at `batch` (None: the whole training
        set, full batch), in chunks of train_chunk_rows when they do not fit in one."""
        config = self.config
        a, b, labels = self.train_a, self.train_b, self.train_labels
        if batch is not None:
            a, b, labels = a[batch], b[batch], labels[batch]
        n, rows = len(labels), train_chunk_rows(self.model)
        if n <= rows:
            logits = self.logits_fn(self.model, a, b)  # [n, d_vocab]
            example_losses(logits, labels, config.loss, config.softmax_precision).mean().backward()
            return
        for start in range(0, n, rows):  # each chunk adds its share of the mean's gradient
            logits = self.logits_fn(self.model, a[start:start + rows], b[start:start + rows])
            losses = example_losses(logits, labels[start:start + rows], config.loss, config.softmax_precision)
            (losses.sum() / n).backward()

    def record(self) -> Record:
        logits = self.log_point_logits()
        metrics = metrics_of(logits, self.data, loss=self.config.loss)
        if not all(math.isfinite(v) for v in metrics.values()):
            text = (f"training diverged at epoch {self.epoch} (loss is not finite); "
                    + (f"the last good checkpoint (epoch {self.last_checkpoint_epoch:,}) is kept"
                       if self.last_checkpoint_epoch is not None else "no checkpoint was written yet")
                    + "; try a smaller lr")
            # Said in events.json too: the log holds no line for it, and `list` must not call the run stopped.
            save_events(self.paths.events, [*self.phases.events, Event(DIVERGED, self.epoch, text)])
            raise TrainingError(text)
        record: Record = {
            "epoch": self.epoch, "step": self.epoch * self.config.steps_per_epoch, **metrics,
            "lr": self.optimizer.param_groups[0]["lr"],  # the rate the next step will use
            "weight_norm": sum_squared_weights(self.model),
        }
        if self.measures is not None and self.measure_due():
            record.update(self.measures.measure(self.model, logits).as_record())
            # The published code's per-parameter weight norms: W_U's is where Slingshots show.
            record.update({f"sq_norm_{name}": value for name, value in squared_norms(self.model).items()})
        record["elapsed_s"] = round(self.elapsed(), 4)
        # False on a line written only because the run stopped or ended between two log points: the phase
        # events skip it, so they do not depend on where a run was stopped (grok_tui/run/phases.py).
        record["cadence"] = self.epoch % self.config.log_every == 0
        return record

    def log_point_logits(self) -> torch.Tensor | ResidualLogits:
        """Every input's logits: the whole tensor when the evaluation fits one chunk (as before, bit for bit),
        else kept as the residual stream and rebuilt by blocks (grok_tui/experiment/memory.py: 0.5 GB, not 4, at p=997)."""
        rows = eval_chunk_rows(self.model)
        if len(self.data.labels) <= rows or self.logits_fn is not last_position_logits:
            return all_logits(self.model, self.data, self.logits_fn)
        return ResidualLogits.of(self.model, self.data, rows)

    def measure_due(self) -> bool:
        """On the first regular log line at or after each multiple of measure_every (epoch 0 included).

        A function of the epoch alone, so a resumed run measures at the same epochs.
        """
        every, log_every = self.config.measure_every, self.config.log_every
        return self.epoch % log_every == 0 and self.epoch // every != (self.epoch - log_every) // every

    def checkpoint(self, log: RunLogWriter) -> None:
        log.sync()  # the log lines up to this epoch are durable before the checkpoint says so
        save_checkpoint(self.paths.checkpoint, {
            "epoch": self.epoch, "elapsed_s": self.elapsed(), "config": self.config.to_dict(),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": rng_states(),
            "grokfast": None if self.grad_filter is None else self.grad_filter.state_dict(),
        })
        self.last_checkpoint_epoch = self.epoch

    def write(self, log: RunLogWriter, record: Record) -> None:
        log.write(record)
        self.last = record
        if self.on_log is not None:
            self.on_log(record)
        events = self.phases.feed(record)
        if events:
            save_events(self.paths.events, self.phases.events)
            for event in events:
                if self.on_event is not None:
                    self.on_event(event)

    def snapshot(self) -> None:
        if snapshot_due(self.epoch, self.config.snapshot_every):
            save_snapshot(self.paths, self.epoch, self.model)

    def early_stop_due(self) -> bool:
        return early_stop_due(self.config, self.phases.epoch_of("grokked"), self.epoch)

    def advance(self, log: RunLogWriter) -> str | None:
        """One epoch of steps, then the log line and checkpoint due at the new epoch.

        Returns "stopped" (stop event) or "early_stopped" (stop_after_grok reached, checked on log
        lines only, so the run ends on one), else None.
        """
        config = self.config
        self.step()
        self.epoch += 1
        if self.still_owned is not None:  # before anything of this epoch is written
            self.still_owned()
        stopped = self.stop_event is not None and self.stop_event.is_set()
        last = stopped or self.epoch == config.num_epochs
        logged = last or self.epoch % config.log_every == 0
        if logged:
            self.write(log, self.record())
        early = logged and not last and self.early_stop_due()
        self.snapshot()  # before the checkpoint: a checkpoint at this epoch means its snapshot is on disk
        if last or early or self.epoch % config.checkpoint_every == 0:
            if not logged:
                self.record()  # never checkpoint weights that are already NaN
            self.checkpoint(log)
        return "stopped" if stopped else "early_stopped" if early else None

    def run(self) -> TrainResult:
        ended: str | None = "early_stopped" if self.early_stop_due() else None  # a resume of a finished one
        started_at = self.epoch
        with RunLogWriter(self.paths.log) as log:
            if self.epoch == 0:
                self.write(log, self.record())
                self.snapshot()
            while self.epoch < self.config.num_epochs and ended is None:
                ended = self.advance(log)
        if ended != "stopped" and self.epoch > started_at:  # a finished run resumed keeps its figures
            _write_curves(self.paths)
        return TrainResult(self.config, self.paths, self.model, self.epoch, ended or "finished", self.last)


def _write_curves(paths: RunPaths) -> None:
    """The automatic PNGs at the end of a run; a plotting problem must not fail a finished run."""
    from grok_tui.figures.curves import export_run

    for figure in (paths.curves_png, paths.measures_png):  # temp files of a session killed while writing them
        remove_leftover_temps(figure)  # ours to remove: the trainer holds the run's lock
    try:
        export_run(paths.tag, root=paths.root)
    except (OSError, ValueError, RuntimeError) as err:
        import warnings

        warnings.warn(f"could not write the figures in {paths.log_dir}: {err}", stacklevel=2)
