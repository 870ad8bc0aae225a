"""train_grokking(): the paper's training loop, with logging, checkpoints, exact resume and a stop event.

As in Nanda et al. 2023: full batch (one AdamW step per epoch over the whole training set), betas
(0.9, 0.98), the learning rate scaled by min(step / warmup_steps, 1) (so the very first step has lr 0,
as in the released code), and cross-entropy on the last position with log-softmax in float64.

A log record at epoch e describes the model after e optimizer steps; epoch 0 is the initial model.
Train and test metrics are computed at log points only, in one no-grad pass over all p^2 inputs.
The trainer knows nothing about any UI: it writes the run log and calls `on_log` if given.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from grok_tui.atomic import check_removable, check_targets
from grok_tui.checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint, validate_checkpoint
from grok_tui.config import Config, ConfigError
from grok_tui.data import Dataset, make_dataset
from grok_tui.engine import last_position_logits
from grok_tui.interventions import make_filter, orthogonalize_gradients
from grok_tui.losses import example_losses
from grok_tui.environment import Session, begin_session, default_threads
from grok_tui.errors import TrainingError
from grok_tui.measures import ProgressMeasures
from grok_tui.memory import ResidualLogits, available_bytes, check_fits, estimate_bytes
from grok_tui.model import SimpleTransformer, float64_device, squared_norms, sum_squared_weights
from grok_tui.phases import Event, PhaseTracker, early_stop_due, save_events, track
from grok_tui.runlog import Record, RunLogWriter, cut_back, read_log
from grok_tui.runs import RunLock, RunPaths
from grok_tui.stopclock import stopped_seconds
from grok_tui.snapshots import (check_snapshot_dir, cut_back_snapshots, remove_all_snapshots, save_snapshot,
                                snapshot_due)


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


# How the last-position logits are computed: the exact fast engine (default), or the readable reference
# model run on all three positions (for checking the engine against it).
LogitsFn = Callable[[SimpleTransformer, torch.Tensor, torch.Tensor], torch.Tensor]


def reference_logits(model: SimpleTransformer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    equals = torch.full_like(a, model.W_E.shape[1] - 1)
    return model(torch.stack([a, b, equals], dim=1))[:, -1]  # [batch, d_vocab]


ENGINES: dict[str, LogitsFn] = {"fast": last_position_logits, "reference": reference_logits}


@dataclass
class TrainResult:
    config: Config
    paths: RunPaths
    model: SimpleTransformer
    epoch: int  # epochs completed
    status: str  # "finished", "stopped" (stop event) or "early_stopped" (stop_after_grok epochs after grokking)
    last: Record | None  # the last record written by this call


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device that is missing is a config error."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError([f"device: {name} was asked for but CUDA is not available here"])
    if name == "mps" and not mps_ok:
        raise ConfigError(["device: mps was asked for but is not available here"])
    return torch.device(name)


def make_optimizer(params: Any, config: Config) -> torch.optim.AdamW:
    """The paper's AdamW, with Adam's epsilon from the config (torch's 1e-8 by default)."""
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay,
                             betas=tuple(config.betas), eps=config.adam_eps)  # type: ignore[arg-type]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_factor(warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        return min(step / warmup_steps, 1.0) if warmup_steps > 0 else 1.0

    return factor


# The training step's forward and backward run over chunks of the training set whose activations fit in
# about this many bytes, their gradients added up; at p=997 the full batch's float64 loss alone would take
# several GB. A training set that fits in one chunk (every p up to 307 at the paper's widths) takes one
# step exactly as without chunking.
TRAIN_CHUNK_BYTES = 512 * 2**20


def train_chunk_rows(model: SimpleTransformer) -> int:
    """Rows per training chunk: a row's float32 activations and logits, its float64 loss terms, and the
    gradients of all of them."""
    d_model, d_mlp, d_vocab = model.W_in.shape[1], model.W_in.shape[0], model.W_U.shape[1]
    per_row = 2 * (4 * (8 * d_model + 2 * d_mlp + 2 * d_vocab) + 8 * 3 * d_vocab)  # bytes, forward + backward
    return max(1, TRAIN_CHUNK_BYTES // per_row)


# Evaluation runs over all p^2 inputs in chunks of rows whose temporaries fit in about this many bytes:
# at p=997 one pass would hold 994,009 x 998 logits in float32 and twice over in float64 (12+ GB). A batch
# that fits in one chunk (p=113: 12,769 rows) is computed in one pass, exactly as without chunking.
EVAL_CHUNK_BYTES = 256 * 2**20


def eval_chunk_rows(model: SimpleTransformer) -> int:
    """Rows per evaluation chunk: the float32 activations and logits of a row plus its float64 log-softmax."""
    d_model, d_mlp, d_vocab = model.W_in.shape[1], model.W_in.shape[0], model.W_U.shape[1]
    per_row = 4 * (8 * d_model + 2 * d_mlp + 2 * d_vocab) + 8 * 2 * d_vocab  # bytes
    return max(1, EVAL_CHUNK_BYTES // per_row)


@torch.inference_mode()
def all_logits(model: SimpleTransformer, data: Dataset, logits_fn: LogitsFn = last_position_logits) -> torch.Tensor:
    """The logits at '=' for every input of the task: [n_pairs, d_vocab], in chunks of eval_chunk_rows."""
    a, b = data.tokens[:, 0], data.tokens[:, 1]
    rows = eval_chunk_rows(model)
    if len(a) <= rows:
        return logits_fn(model, a, b)
    first = logits_fn(model, a[:rows], b[:rows])  # [rows, d_vocab]
    out = torch.empty((len(a), first.shape[1]), dtype=first.dtype, device=first.device)  # [n_pairs, d_vocab]
    out[:rows] = first
    del first
    for start in range(rows, len(a), rows):
        out[start:start + rows] = logits_fn(model, a[start:start + rows], b[start:start + rows])
    return out


def evaluate(model: SimpleTransformer, data: Dataset, logits_fn: LogitsFn = last_position_logits,
             loss: str = "softmax") -> dict[str, float]:
    """Loss and accuracy on train and test, from one pass over every input."""
    return metrics_of(all_logits(model, data, logits_fn), data, loss=loss)


@torch.inference_mode()
def metrics_of(logits: torch.Tensor | ResidualLogits, data: Dataset, chunk_rows: int | None = None,
               loss: str = "softmax") -> dict[str, float]:
    """Loss and accuracy on train and test from the logits of every input.

    The loss is the run's own (softmax or StableMax cross-entropy), always in float64: a measurement,
    whatever precision training uses. It runs on chunks of rows (default: as many as fit in
    EVAL_CHUNK_BYTES); each row's loss is computed on its own, so the result is the same, bit for bit,
    for any chunking.
    """
    device = float64_device(logits.device)  # the float64 device (the CPU for MPS) holds the results
    data = data.to(device)
    n = logits.shape[0]
    rows = chunk_rows if chunk_rows is not None else max(1, EVAL_CHUNK_BYTES // (16 * max(1, logits.shape[1])))
    losses = torch.empty(n, dtype=torch.float64, device=device)  # [n_pairs]
    correct = torch.empty(n, dtype=torch.float64, device=device)  # [n_pairs]
    for start in range(0, n, rows):
        chunk = logits[start:start + rows]  # [rows, d_vocab]
        labels = data.labels[start:start + rows]  # [rows]
        losses[start:start + rows] = example_losses(chunk, labels, loss)
        correct[start:start + rows] = (chunk.argmax(dim=-1).to(device) == labels).double()
    return {
        "train_loss": losses[data.train_idx].mean().item(),
        "test_loss": losses[data.test_idx].mean().item(),
        "train_acc": correct[data.train_idx].mean().item(),
        "test_acc": correct[data.test_idx].mean().item(),
    }


def _run_files(paths: RunPaths) -> tuple[Path, ...]:
    """The files a training session writes (the lock aside), checkpoint first."""
    return (paths.checkpoint, paths.log, paths.curves_png, paths.measures_png, paths.events, paths.sessions,
            paths.config)


def _remove_run_files(paths: RunPaths) -> None:
    """--fresh: remove the run's own files (and only those), checkpoint first. Every one is checked first,
    so that a folder or a FIFO in place of one refuses the whole removal instead of half of it."""
    files = _run_files(paths)
    for path in files:
        check_removable(path)
    remove_all_snapshots(paths, check_only=True)
    for path in files:
        path.unlink(missing_ok=True)
    remove_all_snapshots(paths)


def _stored_config(paths: RunPaths, checkpoint: dict[str, Any] | None) -> Config | None:
    if checkpoint is not None:
        try:
            return Config.from_dict(checkpoint["config"])
        except (ConfigError, TypeError) as err:
            raise ConfigError([f"{paths.checkpoint}: its config cannot be read ({err})"]) from None
    if paths.config.exists():
        return Config.load(paths.config)
    return None


def _refuse_changed_experiment(config: Config, stored: Config) -> None:
    changed = config.experiment_differences(stored)
    if changed:
        raise ConfigError([
            f"tag: run {config.tag!r} was trained with different settings ({', '.join(changed)}); "
            "resume with the run's own values, pick a new --tag, or pass --fresh to replace it"
        ])


def train_grokking(
    config: Config,
    resume: bool = True,
    stop_event: StopSignal | None = None,
    on_log: Callable[[Record], None] | None = None,
    root: Path | str | None = None,
    *,
    engine: str = "fast",
    on_event: Callable[[Event], None] | None = None,
    on_session: Callable[[Session], None] | None = None,
) -> TrainResult:
    """Train (or continue) the run named by config.tag under `root` (default: the current folder).

    resume=True continues from models/<tag>/checkpoint.pth when there is one; resume=False replaces the
    run. Returns when num_epochs are done or `stop_event` is set (checked after every epoch).
    engine="reference" runs the readable model on all positions instead of the exact fast path.
    `on_event` is called once for each phase event (grok_tui/phases.py) when it happens; `on_session`
    once before the first epoch, with the session's environment as recorded in logs/<tag>/sessions.jsonl.
    Training uses config.threads torch threads (0: the process's default), set on the calling thread
    and restored when this returns.
    """
    if engine not in ENGINES:
        raise ConfigError([f"engine: must be one of {', '.join(ENGINES)} (got {engine!r})"])
    config.check()
    device = resolve_device(config.device)
    if device.type == "cpu":  # before anything is written: a run that cannot fit is refused with an estimate
        check_fits(config, estimate_bytes(config, TRAIN_CHUNK_BYTES, EVAL_CHUNK_BYTES), available_bytes())
    paths = RunPaths.of(config.tag, root)
    with RunLock(paths):
        if not resume:
            _remove_run_files(paths)
        check_targets(_run_files(paths))  # a FIFO, folder or dangling symlink in their place: refused now
        check_snapshot_dir(paths)
        checkpoint = load_checkpoint(paths.checkpoint, device) if paths.checkpoint.exists() else None
        stored = _stored_config(paths, checkpoint)
        if stored is not None:
            _refuse_changed_experiment(config, stored)
        if checkpoint is not None:  # every entry, before the log is cut back or anything is written
            validate_checkpoint(checkpoint, config, paths.checkpoint)
        start_epoch = int(checkpoint["epoch"]) if checkpoint is not None else 0
        if start_epoch > config.num_epochs:
            raise ConfigError([f"num_epochs: must be at least the checkpoint's epoch {start_epoch} "
                               f"to resume run {config.tag!r} (got {config.num_epochs})"])
        config.save(paths.config)
        threads = config.threads or default_threads()
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            if device.type == "cuda":
                use_deterministic_cuda()
            session = begin_session(paths.sessions, start_epoch, device, threads)
            if on_session is not None:
                on_session(session)
            return TrainingLoop(config, paths, device, checkpoint, stop_event, on_log, ENGINES[engine],
                                on_event).run()
        finally:
            torch.set_num_threads(previous_threads)


def use_deterministic_cuda() -> None:
    """Deterministic kernels on CUDA (index_add_, the loss's gather backward, cuBLAS).

    cuBLAS needs a fixed workspace for that, chosen by an environment variable read when torch first
    creates a cuBLAS handle: set here, before the run's first CUDA operation, unless the user chose one.
    warn_only: an op without a deterministic CUDA kernel warns once instead of failing the run; the
    session record then still says deterministic (torch's flag), so the README lists this caveat.
    """
    import os

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


class TrainingLoop:
    """One training session: builds the model and optimizer (or restores them) and runs the epochs."""

    def __init__(self, config: Config, paths: RunPaths, device: torch.device,
                 checkpoint: dict[str, Any] | None, stop_event: StopSignal | None,
                 on_log: Callable[[Record], None] | None, logits_fn: LogitsFn = last_position_logits,
                 on_event: Callable[[Event], None] | None = None):
        self.config, self.paths, self.device = config, paths, device
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
        self.phases = track(read_log(paths.log)) if checkpoint is not None else PhaseTracker()
        save_events(paths.events, self.phases.events)
        self.started, self.stopped_before = time.perf_counter(), stopped_seconds()
        self.last: Record | None = None

    def elapsed(self) -> float:
        """Training time: wall time less the time the process was stopped (Ctrl-Z; grok_tui/stopclock.py)."""
        return self.elapsed_before + time.perf_counter() - self.started - (stopped_seconds() - self.stopped_before)

    def step(self) -> None:
        self.backward()
        if self.grad_filter is not None:
            self.grad_filter.apply(self.params)
        if self.config.orthograd:
            orthogonalize_gradients(self.params)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def backward(self) -> None:
        """The gradient of the mean training loss over the whole training set (full batch), in chunks of
        train_chunk_rows when it does not fit in one."""
        config, n = self.config, len(self.train_labels)
        rows = train_chunk_rows(self.model)
        if n <= rows:
            logits = self.logits_fn(self.model, self.train_a, self.train_b)  # [n_train, d_vocab]
            example_losses(logits, self.train_labels, config.loss, config.softmax_precision).mean().backward()
            return
        for start in range(0, n, rows):  # each chunk adds its share of the mean's gradient
            logits = self.logits_fn(self.model, self.train_a[start:start + rows], self.train_b[start:start + rows])
            losses = example_losses(logits, self.train_labels[start:start + rows], config.loss,
                                    config.softmax_precision)
            (losses.sum() / n).backward()

    def record(self) -> Record:
        logits = self.log_point_logits()
        metrics = metrics_of(logits, self.data, loss=self.config.loss)
        if not all(math.isfinite(v) for v in metrics.values()):
            raise TrainingError(
                f"training diverged at epoch {self.epoch} (loss is not finite); the last good checkpoint "
                f"(epoch {self.last_checkpoint_epoch}) is kept; try a smaller lr"
            )
        record: Record = {
            "epoch": self.epoch, **metrics,
            "lr": self.optimizer.param_groups[0]["lr"],  # the rate the next step will use
            "weight_norm": sum_squared_weights(self.model),
        }
        if self.measures is not None and self.measure_due():
            record.update(self.measures.measure(self.model, logits).as_record())
            # The published code's per-parameter weight norms: W_U's is where Slingshots show.
            record.update({f"sq_norm_{name}": value for name, value in squared_norms(self.model).items()})
        record["elapsed_s"] = round(self.elapsed(), 4)
        return record

    def log_point_logits(self) -> torch.Tensor | ResidualLogits:
        """Every input's logits: the whole tensor when the evaluation fits one chunk (as before, bit for bit),
        else kept as the residual stream and rebuilt by blocks (grok_tui/memory.py: 0.5 GB, not 4, at p=997)."""
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
        """One epoch: a step, then the log line and checkpoint due at the new epoch.

        Returns "stopped" (stop event) or "early_stopped" (stop_after_grok reached, checked on log
        lines only, so the run ends on one), else None.
        """
        config = self.config
        self.step()
        self.epoch += 1
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
    from grok_tui.plotting import export_run

    try:
        export_run(paths.tag, root=paths.root)
    except (OSError, ValueError, RuntimeError) as err:
        import warnings

        warnings.warn(f"could not write the figures in {paths.log_dir}: {err}", stacklevel=2)
