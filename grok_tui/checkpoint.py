"""Checkpoints: everything needed to continue a run bit for bit, written atomically, loaded safely.

A checkpoint holds the model, optimizer and scheduler states, the epoch, the elapsed training time,
the config and every RNG state (torch, CUDA, numpy, python). Training is full batch and has no dropout,
so the RNG states do not change the numbers today; they are kept so that anything random added later
still resumes exactly. Files are loaded with `torch.load(weights_only=True)`: a checkpoint from someone
else can hold tensors and plain values, never code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grok_tui.atomic import atomic_write_with, remove_leftover_temps
from grok_tui.errors import CheckpointError

FORMAT = 1


def rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # numpy's state holds an ndarray, which weights_only loading refuses: store it as a tensor.
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write `state` (plus the format number) to `path`; the old file survives any failure.

    The caller must be the only writer of `path` (the trainer holds the run's lock): temp files of earlier,
    interrupted saves of `path` are deleted.
    """
    payload = {"format": FORMAT, **state}
    atomic_write_with(Path(path), lambda handle: torch.save(payload, handle))
    # A trainer killed (kill -9) in the middle of an earlier save left that save's temp file behind, a
    # whole checkpoint's size each time. Only the trainer holding the run's lock writes its checkpoint,
    # so any other temp file of this path is such a leftover.
    remove_leftover_temps(Path(path))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with weights_only=True; any failure is a CheckpointError naming the file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint there") from None
    except Exception as err:  # torch raises many kinds here: UnpicklingError, RuntimeError, EOFError, ...
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: cannot be loaded as a grok-tui checkpoint ({first_line[:200]}); "
            "it was left as it is; use --fresh to start the run over"
        ) from None
    missing = [key for key in ("format", "epoch", "config", "model", "optimizer", "scheduler", "rng")
               if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(
            f"{path}: not a grok-tui checkpoint (missing {', '.join(missing)}); "
            "it was left as it is; use --fresh to start the run over"
        )
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state['format']!r} is not supported (expected {FORMAT})")
    return dict(state)
