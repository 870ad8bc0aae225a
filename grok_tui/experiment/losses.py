"""The training objective: cross-entropy of the '=' logits, per example, with softmax or StableMax.

* softmax in float64 (default): what the paper meant. In float32 (the released code's helper casts to
  float32) the correct class's log-probability rounds to exactly 0 once the loss is tiny, so the
  gradient vanishes unevenly and the loss spikes: `softmax_precision="float32"` reproduces that.
* StableMax (Prieto et al. 2025, arXiv 2501.04697): s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0,
  probabilities s(x_i) / sum_j s(x_j); it grows linearly, not exponentially, so it does not saturate the
  way softmax does (their "softmax collapse"). Accuracy stays the argmax of the logits either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grok_tui.experiment.model import float64_device

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """s(x): x + 1 for x >= 0, 1 / (1 - x) for x < 0.

    The negative branch is evaluated on min(x, 0), not x: torch.where differentiates both branches, and
    1 / (1 - x) at x = 1 is inf, whose zero-weighted gradient would still be NaN (0 * inf).
    """
    return torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))


def example_losses(logits: torch.Tensor, labels: torch.Tensor, loss: str = "softmax",
                   precision: str = "float64") -> torch.Tensor:
    """logits [batch, d_vocab], labels [batch] -> each example's cross-entropy [batch], in `precision`."""
    dtype = DTYPES[precision]
    # MPS has no float64: that math runs on the CPU, and autograd follows the copy.
    device = float64_device(logits.device) if dtype == torch.float64 else logits.device
    x = logits.to(device, dtype)
    labels = labels.to(device)[:, None]  # [batch, 1]
    if loss == "stablemax":
        s = stablemax_s(x)  # [batch, d_vocab]
        return -torch.log(s.gather(-1, labels) / s.sum(dim=-1, keepdim=True))[:, 0]
    if loss != "softmax":
        raise ValueError(f"loss: must be softmax or stablemax (got {loss!r})")
    return -F.log_softmax(x, dim=-1).gather(-1, labels)[:, 0]
