"""Evaluating a model on the task: the logits at '=' for every input, in chunks that fit in memory, and the
loss and accuracy on train and test from them.

`ENGINES` names the two ways of computing the last position's logits: the exact fast engine
(grok_tui/experiment/engine.py, the default) and the readable reference model run on all three positions,
the ground truth the engine is tested against.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from grok_tui.experiment.data import Dataset
from grok_tui.experiment.engine import last_position_logits
from grok_tui.experiment.losses import example_losses
from grok_tui.experiment.memory import (
    ResidualLogits,
)
from grok_tui.experiment.model import (
    SimpleTransformer,
    float64_device,
)

# How the last-position logits are computed: the exact fast engine (default), or the readable reference
# model run on all three positions (for checking the engine against it).
LogitsFn = Callable[[SimpleTransformer, torch.Tensor, torch.Tensor], torch.Tensor]


def reference_logits(model: SimpleTransformer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    equals = torch.full_like(a, model.W_E.shape[1] - 1)
    return model(torch.stack([a, b, equals], dim=1))[:, -1]  # [batch, d_vocab]


ENGINES: dict[str, LogitsFn] = {"fast": last_position_logits, "reference": reference_logits}


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
