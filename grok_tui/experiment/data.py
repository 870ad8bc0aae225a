"""The modular-arithmetic task: every pair `a b =` with its label, and the seeded train/test split.

Follows the paper's released code exactly: the pairs are listed as (a, b) for a in 0..p-1, b in 0..p-1,
shuffled with Python's `random.seed(seed); random.shuffle(...)`, and the first int(frac_train * N)
are the training set. Python's Mersenne Twister is the same on every platform, so a seed gives the same
split everywhere, and seed 0 gives the published split (3830 train / 8939 test at p=113, frac 0.3).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from grok_tui.core.config import Config


@dataclass(frozen=True)
class Dataset:
    """All inputs of the task; train and test are index sets into them."""

    tokens: torch.Tensor  # [n_pairs, 3] int64: a, b, '=' (token p)
    labels: torch.Tensor  # [n_pairs] int64
    train_idx: torch.Tensor  # [n_train] int64, in shuffled order
    test_idx: torch.Tensor  # [n_test] int64, in shuffled order

    @property
    def train_tokens(self) -> torch.Tensor:
        return self.tokens[self.train_idx]

    @property
    def train_labels(self) -> torch.Tensor:
        return self.labels[self.train_idx]

    @property
    def test_tokens(self) -> torch.Tensor:
        return self.tokens[self.test_idx]

    @property
    def test_labels(self) -> torch.Tensor:
        return self.labels[self.test_idx]

    def to(self, device: torch.device | str) -> "Dataset":
        return Dataset(
            self.tokens.to(device), self.labels.to(device),
            self.train_idx.to(device), self.test_idx.to(device),
        )


def all_pairs(p: int, operation: str) -> tuple[np.ndarray, np.ndarray]:
    """Every input pair in the published order; div leaves out b = 0."""
    a = np.repeat(np.arange(p), p)  # [p*p]: 0,0,...,1,1,... (a-major, as the published list)
    b = np.tile(np.arange(p), p)  # [p*p]: 0,1,...,p-1,0,1,...
    if operation == "div":
        keep = b != 0
        a, b = a[keep], b[keep]
    return a.astype(np.int64), b.astype(np.int64)


def labels_for(a: np.ndarray, b: np.ndarray, p: int, operation: str, seed: int) -> np.ndarray:
    """(a op b) mod p for each pair."""
    if operation == "add":
        return (a + b) % p
    if operation == "sub":
        return (a - b) % p
    if operation == "mul":
        return (a * b) % p
    if operation == "div":
        inverse = np.array([pow(int(v), p - 2, p) for v in range(p)], dtype=np.int64)  # Fermat, p prime
        return (a * inverse[b]) % p
    if operation == "x2xyy2":
        return (a * a + a * b + b * b) % p
    if operation == "rand":
        # A fixed random answer per (a, b), drawn from the run's seed: nothing to generalize from.
        table = np.random.RandomState(seed).randint(0, p, size=(p, p))
        return table[a, b].astype(np.int64)
    raise ValueError(f"operation: unknown operation {operation!r}")


def split_order(n_pairs: int, seed: int) -> list[int]:
    """The published shuffle: random.seed(seed); random.shuffle(pairs), on a private generator."""
    order = list(range(n_pairs))
    random.Random(seed).shuffle(order)
    return order


def make_dataset(config: Config) -> Dataset:
    p = config.p
    a, b = all_pairs(p, config.operation)
    labels = labels_for(a, b, p, config.operation, config.seed)
    equals = np.full_like(a, p)
    tokens = np.stack([a, b, equals], axis=1)  # [n_pairs, 3]
    order = torch.tensor(split_order(len(a), config.seed), dtype=torch.int64)
    n_train = int(config.frac_train * len(a))
    return Dataset(
        tokens=torch.from_numpy(tokens),
        labels=torch.from_numpy(labels),
        train_idx=order[:n_train],
        test_idx=order[n_train:],
    )
