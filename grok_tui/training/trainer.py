"""train_grokking(): the paper's training loop, with logging, checkpoints, exact resume and a stop event.

As in Nanda et al. 2023: full batch (one AdamW step per epoch over the whole training set), betas
(0.9, 0.98), the learning rate scaled by min(step / warmup_steps, 1) (so the very first step has lr 0,
as in the released code), and cross-entropy on the last position with log-softmax in float64.

A log record at epoch e describes the model after e optimizer steps; epoch 0 is the initial model.
Train and test metrics are computed at log points only, in one no-grad pass over all p^2 inputs.
The trainer knows nothing about any UI: it writes the run log and calls `on_log` if given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grok_tui.core.atomic import check_removable, check_targets
from grok_tui.core.config import Config, ConfigError
from grok_tui.experiment.memory import (
    available_bytes,
    check_fits,
    estimate_bytes,
)
from grok_tui.run.checkpoint import (
    load_checkpoint,
    validate_checkpoint,
)
from grok_tui.run.lock import RunLock
from grok_tui.run.log import Record
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import Event
from grok_tui.run.sessions import Session, automatic_threads, begin_session
from grok_tui.run.snapshots import (
    check_snapshot_dir,
    remove_all_snapshots,
)
from grok_tui.experiment.evaluation import ENGINES, EVAL_CHUNK_BYTES, TRAIN_CHUNK_BYTES
from grok_tui.training.loop import StopSignal, TrainResult, TrainingLoop


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
    on_replace: Callable[[], None] | None = None,
) -> TrainResult:
    """Train (or continue) the run named by config.tag under `root` (default: the current folder).

    resume=True continues from models/<tag>/checkpoint.pth when there is one; resume=False replaces the
    run. Returns when num_epochs are done or `stop_event` is set (checked after every epoch).
    engine="reference" runs the readable model on all positions instead of the exact fast path.
    `on_event` is called once for each phase event (grok_tui/run/phases.py) when it happens; `on_session`
    once before the first epoch, with the session's environment as recorded in logs/<tag>/sessions.jsonl;
    a resume with nothing to train (the run is at num_epochs, or done by stop_after_grok) is no session:
    not recorded, and `on_session` is not called. `on_replace` (resume=False) is called once every check
    has passed, just before the run's files are removed.
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
    with RunLock(paths) as lock:
        if not resume:
            if on_replace is not None:
                on_replace()
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
        threads = config.threads or automatic_threads()  # 0: as many as the machine has free now
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            if device.type == "cuda":
                use_deterministic_cuda()
            loop = TrainingLoop(config, paths, device, checkpoint, stop_event, on_log, ENGINES[engine], on_event,
                                still_owned=lock.verify)
            if loop.epoch < config.num_epochs and not loop.early_stop_due():
                session = begin_session(paths.sessions, start_epoch, device, threads)
                if on_session is not None:
                    on_session(session)
            return loop.run()
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


