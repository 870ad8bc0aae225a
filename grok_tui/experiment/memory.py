"""Memory at large p: the logits of a log point kept compactly, and a run refused before it starts when it
cannot fit in this machine's memory.

At p=997 the logits of all 994,009 inputs are 994,009 x 998 float32 values, 3.96 GB: more than the rest of
a run together. A log point at such a size keeps the residual stream at '=' instead ([n_pairs, d_model]:
0.51 GB at d_model=128) and rebuilds the logits from it a block of rows (the metrics) or a block of
classes (the progress measures) at a time. A run whose evaluation fits in one chunk (p=113) keeps the
whole logits exactly as before, so its numbers are unchanged bit for bit.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from grok_tui.core.config import Config, ConfigError
from grok_tui.experiment.data import Dataset
from grok_tui.experiment.engine import last_position_residual
from grok_tui.experiment.model import SimpleTransformer


class ResidualLogits:
    """The logits of every input as residual @ W_U, computed on demand for a slice of rows ([a:b]) or of
    classes ([:, a:b]): what metrics_of and ProgressMeasures read, without the [n_pairs, d_vocab] tensor."""

    def __init__(self, residual: torch.Tensor, unembed: torch.Tensor):
        self.residual = residual  # [n_pairs, d_model]
        self.unembed = unembed  # [d_model, d_vocab]
        self.shape = torch.Size((residual.shape[0], unembed.shape[1]))
        self.device = residual.device
        self.dtype = residual.dtype

    @classmethod
    @torch.inference_mode()
    def of(cls, model: SimpleTransformer, data: Dataset, chunk_rows: int) -> "ResidualLogits":
        a, b = data.tokens[:, 0], data.tokens[:, 1]
        residual = torch.empty((len(a), model.W_U.shape[0]), dtype=model.W_U.dtype, device=model.W_U.device)
        for start in range(0, len(a), chunk_rows):
            residual[start:start + chunk_rows] = last_position_residual(model, a[start:start + chunk_rows],
                                                                        b[start:start + chunk_rows])
        return cls(residual, model.W_U.detach())

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, key: Any) -> torch.Tensor:
        with torch.inference_mode():
            if isinstance(key, slice):  # rows
                return self.residual[key] @ self.unembed  # [rows, d_vocab]
            rows, classes = key
            if rows != slice(None) or not isinstance(classes, slice):
                raise IndexError("ResidualLogits takes [a:b] (rows) or [:, a:b] (classes)")
            return self.residual @ self.unembed[:, classes]  # [n_pairs, classes]


# ---------------------------------------------------------------- will it fit?

GB = 1e9
TORCH_BASE_BYTES = 450 * 2**20  # the interpreter, torch and numpy themselves (a p=23 run peaks near this)


def available_bytes() -> int | None:
    """Memory this process can still use: MemAvailable from /proc/meminfo (Linux), else free pages from
    sysconf; None when neither says."""
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle.read(64 * 1024).splitlines():
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def estimate_bytes(config: Config, train_chunk_bytes: int, eval_chunk_bytes: int) -> int:
    """Peak bytes of a run of `config`, roughly and on the high side: torch itself, the parameters with
    their gradients, Adam's two moments (SGD's one buffer counted as two) (and a Grokfast filter's state), the
    dataset, one training chunk (of the minibatch, with a batch size),
    one evaluation chunk, the log point's logits (or residual stream) and the progress measures' blocks."""
    d_model, d_mlp, d_vocab, p = config.d_model, config.mlp_width, config.d_vocab, config.p
    n_pairs = config.n_pairs
    params = d_vocab * d_model * 2 + 3 * d_model + 4 * d_model * d_model + 2 * d_model * d_mlp + d_mlp + d_model
    copies = 4 + (1 if config.grokfast == "ema" else config.grokfast_window if config.grokfast == "ma" else 0)
    per_row_train = 2 * (4 * (8 * d_model + 2 * d_mlp + 2 * d_vocab) + 8 * 3 * d_vocab)
    rows_per_step = config.batch_size or config.n_train  # a minibatch, or the whole training set
    training = min(rows_per_step * per_row_train, max(train_chunk_bytes, per_row_train))
    per_row_eval = 4 * (8 * d_model + 2 * d_mlp + 2 * d_vocab) + 16 * d_vocab  # as trainer.eval_chunk_rows
    evaluation = min(n_pairs * per_row_eval, max(eval_chunk_bytes, per_row_eval))
    eval_rows = max(1, eval_chunk_bytes // per_row_eval)
    kept = 4 * n_pairs * (d_vocab if n_pairs <= eval_rows else d_model)  # the log point's logits or residual
    measures = 8 * 6 * p * p * 4 if config.measure_every else 0  # float64 grids of a few classes, and the losses
    dataset = 8 * n_pairs * 6  # tokens, labels, indices (int64)
    return TORCH_BASE_BYTES + 4 * params * copies + training + evaluation + kept + measures + dataset


def check_fits(config: Config, estimate: int, available: int | None) -> None:
    """ConfigError (one line naming p and d_model, with the estimate) when the run cannot fit."""
    if available is not None and estimate > available:
        raise ConfigError([
            f"p, d_model: a run with p={config.p} and d_model={config.d_model} needs about {estimate / GB:.1f} GB "
            f"of memory, and this machine has {available / GB:.1f} GB available; use a smaller p or d_model, "
            "or free memory"])
