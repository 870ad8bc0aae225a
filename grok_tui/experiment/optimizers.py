"""The optimizer and its schedule, as in the paper's code: AdamW with betas (0.9, 0.98) and a linear warmup
min(step / warmup_steps, 1) over optimizer steps (the very first step has lr 0); the other optimizers of the
literature (Adam with coupled L2 weight decay, SGD with momentum); the seeding of every RNG a run uses and
the order of an epoch's minibatches.

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


def make_optimizer(params: Any, config: Config) -> torch.optim.Optimizer:
    """The config's optimizer: the paper's AdamW (decoupled weight decay), Adam (weight decay added to the
    gradient as an L2 term, as Grokfast's runs and devinterp's example use it) or SGD with momentum
    (dampening 0, not Nesterov); Adam's epsilon from the config (torch's 1e-8 by default)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    adam = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return adam(params, lr=config.lr, weight_decay=config.weight_decay, betas=tuple(config.betas),  # type: ignore[arg-type]
                eps=config.adam_eps)


def slot_keys(config: Config) -> tuple[str, ...]:
    """The tensors the config's optimizer keeps per weight once it has stepped: Adam's two moments (with a
    step count), SGD's momentum buffer, nothing for SGD without momentum."""
    if config.optimizer == "sgd":
        return ("momentum_buffer",) if config.momentum else ()
    return ("exp_avg", "exp_avg_sq")


# Keeps the minibatch order's stream apart from any other use of the run's seed (torch.manual_seed(seed)).
_BATCH_STREAM = 0x6261746368


def epoch_order(seed: int, epoch: int, n_train: int) -> torch.Tensor:
    """The order of the training pairs in epoch `epoch` (0-based), on the CPU: a permutation drawn from a
    generator seeded by (seed, epoch) alone, so a resumed run draws the same batches without saving any
    sampler state, and no other random number the run draws changes it."""
    entropy = np.random.SeedSequence([_BATCH_STREAM, seed, epoch]).generate_state(2, np.uint32)
    generator = torch.Generator().manual_seed(int(entropy[0]) << 32 | int(entropy[1]))
    return torch.randperm(n_train, generator=generator)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_factor(warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        return min(step / warmup_steps, 1.0) if warmup_steps > 0 else 1.0

    return factor
