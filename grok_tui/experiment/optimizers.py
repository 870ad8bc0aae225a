"""The optimizer and its schedule, as in the paper's code: AdamW with betas (0.9, 0.98) and a linear warmup
min(step / warmup_steps, 1) (the very first step has lr 0), and the seeding of every RNG a run uses.

Defined here, beside the experiment, because both the trainer and the checkpoint (which validates a saved
optimizer state against a fresh optimizer's) build it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from grok_tui.core.config import Config


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
