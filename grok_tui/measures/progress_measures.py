"""The paper's progress measures, computed on the training device while a run trains.

Nanda et al. 2023 (arXiv 2301.05217), section 5 and appendix: the trained network computes a+b mod p
with a few "key" frequencies w_k = 2πk/p, embedding each input as cos(w_k a), sin(w_k a) and reading the
answer off cos(w_k (a + b - c)). Progress measures track that circuit through training:
  * the Fourier norms of the embedding W_E per frequency, and the key frequencies among them;
  * restricted loss: the logits with everything removed but their components along cos/sin(w_k (a+b))
    for the key frequencies (and the per-class mean), scored on all inputs: low once the circuit works;
  * excluded loss: the logits with exactly those components removed, scored on the train set: rises as
    the train set comes to rely on the circuit instead of memorization;
  * Gini coefficients of the Fourier norms of W_E and of W_L = W_out^T W_U (neuron -> logit map, along its
    output axis): sparsity, which rises sharply during cleanup (the released code never computed it);
  * the sum of squared weights, which the trainer already logs.

Other operations use the same mathematics in the group frame where they become addition: `sub` is a - b;
`mul` and `div` are addition / subtraction of discrete logarithms on the cyclic group Z_p^* of order
p - 1 (tokens re-ordered as g^0, g^1, ... for a primitive root g; inputs with a 0 are left out), so their
frequencies are frequencies of Z_{p-1}. `x2xyy2` and the `rand` control have no such frame; they are
measured in the additive frame, where no circuit should appear.

Everything here is a pure function of the parameters: measurements never touch the RNG, so resume stays
exact and measuring does not change training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from grok_tui.experiment.data import Dataset
from grok_tui.experiment.memory import ResidualLogits
from grok_tui.experiment.model import SimpleTransformer, float64_device

# A frequency is "key" when its share of the embedding's Fourier energy (squared norms summed over all
# non-constant frequencies) is at least KEY_FACTOR times the even share 1/n_freqs (capped at 50%, for
# tiny p). A random embedding spreads its energy evenly (the largest share about 1.2x the even one at
# p=113 and p=47), so no frequency qualifies at initialization; the circuit's frequencies pass 1.5x
# early in circuit formation (at p=113 seed 0 frequency 14 by epoch 500), and a trained model puts
# nearly all of its energy on 3-6 of them (10-35% each) while the others fall towards 0. The paper
# picked its key frequencies by eye from the final model; a live measure can only use the present one.
# At most MAX_KEY_FREQS are kept (the largest); they are reported in increasing order.
KEY_FACTOR = 1.5
MAX_KEY_FREQS = 10
# Restricted and excluded loss transform the logits in blocks of classes of about this many float64
# values (32 MB): one block at p=113, and bounded memory at p=1000 (whose logits alone are 4 GB).
CLASS_BLOCK_VALUES = 4_000_000

# ---------------------------------------------------------------- Fourier basis


@dataclass(frozen=True)
class FourierBasis:
    """An orthonormal real Fourier basis of functions on Z_n, one basis function per row.

    Row 0 is the constant 1/sqrt(n); then cos(2πkx/n), sin(2πkx/n), normalized, for k = 1..(n-1)//2;
    for even n a last row cos(πx) (the Nyquist frequency n/2 has no sine).
    """

    matrix: torch.Tensor  # [n, n] float64, rows orthonormal
    freqs: torch.Tensor  # [n] int64: the frequency k of each row (0 for the constant)
    cos_row: dict[int, int]  # frequency -> row of its cosine
    sin_row: dict[int, int]  # frequency -> row of its sine (absent for the Nyquist frequency)

    @property
    def n(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_freqs(self) -> int:
        """Non-constant frequencies: 1 .. n // 2."""
        return self.n // 2


def fourier_basis(n: int, device: torch.device | str = "cpu") -> FourierBasis:
    x = torch.arange(n, dtype=torch.float64)
    rows, freqs = [torch.ones(n, dtype=torch.float64)], [0]
    cos_row, sin_row = {}, {}
    for k in range(1, (n - 1) // 2 + 1):
        cos_row[k], sin_row[k] = len(rows), len(rows) + 1
        rows += [torch.cos(2 * math.pi * k * x / n), torch.sin(2 * math.pi * k * x / n)]
        freqs += [k, k]
    if n % 2 == 0:
        cos_row[n // 2] = len(rows)
        rows.append(torch.cos(math.pi * x))
        freqs.append(n // 2)
    matrix = torch.stack(rows)
    matrix = matrix / matrix.norm(dim=1, keepdim=True)
    return FourierBasis(matrix.to(device), torch.tensor(freqs, device=device), cos_row, sin_row)


def frequency_norms(weights: torch.Tensor, basis: FourierBasis) -> torch.Tensor:
    """weights: [d, n], one column per group element -> [n // 2] norms of frequencies 1..n//2.

    Each frequency's norm combines its cosine and sine components over all d rows.
    """
    coefficients = weights.detach().to(basis.matrix.device, torch.float64) @ basis.matrix.T  # [d, n]
    energy = (coefficients**2).sum(dim=0)  # [n]
    per_freq = torch.zeros(basis.n_freqs + 1, dtype=torch.float64, device=energy.device)
    per_freq.index_add_(0, basis.freqs, energy)
    return per_freq[1:].sqrt()  # the constant (frequency 0) carries no circuit


def key_frequencies(norms: torch.Tensor) -> list[int]:
    """The frequencies (1-based) with at least KEY_FACTOR times the even share of energy, in increasing order."""
    energy = norms.double() ** 2
    total = float(energy.sum())
    if total <= 0:
        return []
    threshold = min(KEY_FACTOR / len(energy), 0.5)
    order = torch.argsort(energy, descending=True).tolist()
    return sorted(k + 1 for k in order[:MAX_KEY_FREQS] if float(energy[k]) / total >= threshold)


def gini(values: torch.Tensor) -> float:
    """Gini coefficient of non-negative values: 0 when all equal, (n-1)/n when one holds everything."""
    x = torch.sort(values.double().flatten()).values
    n, total = x.numel(), float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    rank = torch.arange(1, n + 1, dtype=torch.float64, device=x.device)
    return float(((2 * rank - n - 1) * x).sum() / (n * total))


def fourier_2d(grid: torch.Tensor, basis: FourierBasis) -> torch.Tensor:
    """grid: [n, n, c] values over (a, b) -> [n, n, c] components over (basis row of a, basis row of b)."""
    B = basis.matrix
    over_a = torch.einsum("ia,abc->ibc", B, grid.double())  # two matrix products: over a, then over b
    return torch.einsum("jb,ibc->ijc", B, over_a)


def inverse_fourier_2d(coefficients: torch.Tensor, basis: FourierBasis) -> torch.Tensor:
    B = basis.matrix
    return torch.einsum("ia,ibc->abc", B, torch.einsum("jb,ijc->ibc", B, coefficients))


def key_components(coefficients: torch.Tensor, basis: FourierBasis, freqs: list[int], sign: int) -> torch.Tensor:
    """The part of a 2D Fourier transform lying along cos(w(a ± b)) and sin(w(a ± b)) for `freqs`.

    With c_k, s_k the normalized basis rows, cos(w(a+b)) ∝ c⊗c - s⊗s and sin(w(a+b)) ∝ s⊗c + c⊗s (for a-b:
    c⊗c + s⊗s and s⊗c - c⊗s): each key frequency owns two unit directions in its 2x2 block, and the
    projection onto them is computed blockwise.
    """
    kept = torch.zeros_like(coefficients)
    for k in freqs:
        ck = basis.cos_row[k]
        if k not in basis.sin_row:  # Nyquist: cos(π(a ± b)) = cos(πa)cos(πb), a single direction
            kept[ck, ck] = coefficients[ck, ck]
            continue
        sk = basis.sin_row[k]
        cc, cs, sc, ss = (coefficients[ck, ck], coefficients[ck, sk],
                          coefficients[sk, ck], coefficients[sk, sk])
        along_cos = (cc - sign * ss) / 2  # projection coefficient / sqrt(2), once per entry
        along_sin = (sc + sign * cs) / 2
        kept[ck, ck], kept[sk, sk] = along_cos, -sign * along_cos
        kept[sk, ck], kept[ck, sk] = along_sin, sign * along_sin
    return kept


# ---------------------------------------------------------------- the operation's group frame


def primitive_root(p: int) -> int:
    """The smallest generator of Z_p^* (p prime)."""
    order = p - 1
    factors = {q for q in range(2, order + 1)
               if order % q == 0 and all(q % r for r in range(2, math.isqrt(q) + 1))}  # prime factors
    for g in range(2, p):
        if all(pow(g, order // q, p) != 1 for q in factors):
            return g
    return 1  # p = 2 has the trivial group; validation never lets p < 3 through


def group_frame(p: int, operation: str) -> tuple[np.ndarray, int]:
    """(tokens in group order, sign): the operation is element i ± element j of Z_n in this frame."""
    if operation in ("mul", "div"):
        g = primitive_root(p)
        order = np.array([pow(g, i, p) for i in range(p - 1)], dtype=np.int64)
        return order, (1 if operation == "mul" else -1)
    return np.arange(p, dtype=np.int64), (-1 if operation == "sub" else 1)


# ---------------------------------------------------------------- measuring a model


@dataclass
class Measurement:
    restricted_loss: float
    excluded_loss: float
    gini_embed: float
    gini_unembed: float
    key_freqs: list[int]
    embed_freq_norms: list[float]

    def as_record(self) -> dict[str, object]:
        return {
            "restricted_loss": self.restricted_loss, "excluded_loss": self.excluded_loss,
            "gini_embed": self.gini_embed, "gini_unembed": self.gini_unembed,
            "key_freqs": self.key_freqs,
            "embed_freq_norms": [float(f"{v:.5g}") for v in self.embed_freq_norms],
        }


class ProgressMeasures:
    """Everything that depends only on the task (basis, frame, index maps), built once per run."""

    def __init__(self, p: int, operation: str, data: Dataset):
        # Everything here is float64 work, on the data's device (the CPU for MPS, which has no float64).
        device = float64_device(data.tokens.device)
        data = data.to(device)
        order, self.sign = group_frame(p, operation)
        self.order = torch.from_numpy(order).to(device)  # [n] tokens in group order
        self.basis = fourier_basis(len(order), device)
        # Row of every (a, b) of the frame in the dataset (all present: div only lacks b = 0).
        row_of = torch.full((p, p), -1, dtype=torch.int64, device=device)
        row_of[data.tokens[:, 0], data.tokens[:, 1]] = torch.arange(len(data.tokens), device=device)
        self.grid_rows = row_of[self.order[:, None], self.order[None, :]].flatten()  # [n*n]
        is_train = torch.zeros(len(data.tokens), dtype=torch.bool, device=device)
        is_train[data.train_idx] = True
        self.grid_train = is_train[self.grid_rows]  # [n*n]
        self.grid_labels = data.labels[self.grid_rows]  # [n*n]

    def restricted_and_excluded(self, all_logits: torch.Tensor | ResidualLogits, keys: list[int]) -> tuple[float, float]:
        """(restricted loss on all inputs, excluded loss on the train set) of logits [n_pairs, d_vocab].

        Works on blocks of output classes (the transforms act on each class separately) so that the
        float64 temporaries stay near CLASS_BLOCK_VALUES values however large p is; the cross-entropy's
        log-sum-exp over classes is accumulated across the blocks, exactly.
        """
        n = self.basis.n
        labels = self.grid_labels
        n_classes = all_logits.shape[1]
        block = max(1, CLASS_BLOCK_VALUES // (n * n))
        device = self.grid_rows.device
        lse = torch.full((2, n * n), -math.inf, dtype=torch.float64, device=device)  # restricted, excluded
        correct = torch.zeros(2, n * n, dtype=torch.float64, device=device)
        for start in range(0, n_classes, block):
            stop = min(start + block, n_classes)
            block_logits = all_logits[:, start:stop].to(device, torch.float64)
            grid = block_logits[self.grid_rows].reshape(n, n, -1)  # [n, n, classes]
            key_part = inverse_fourier_2d(key_components(fourier_2d(grid, self.basis), self.basis, keys,
                                                         self.sign), self.basis)
            restricted = key_part + grid.mean(dim=(0, 1))  # plus the per-class mean over all inputs
            excluded = grid - key_part
            for i, logits in enumerate((restricted.reshape(n * n, -1), excluded.reshape(n * n, -1))):
                lse[i] = torch.logaddexp(lse[i], logits.logsumexp(dim=-1))
                here = (labels >= start) & (labels < stop)
                correct[i, here] = logits[here, labels[here] - start]
        losses = lse - correct  # [2, n*n]: -log p(label) of every input, restricted and excluded
        return float(losses[0].mean()), float(losses[1, self.grid_train].mean())

    def measure(self, model: SimpleTransformer, all_logits: torch.Tensor | ResidualLogits) -> Measurement:
        """all_logits: [n_pairs, d_vocab], the model's logits for every dataset row (already computed), or
        the same as a ResidualLogits (grok_tui/experiment/memory.py) that rebuilds each block of classes when asked."""
        with torch.no_grad():
            order = self.order.to(model.W_E.device)
            embed_norms = frequency_norms(model.W_E[:, order], self.basis)  # [n_freqs]
            neuron_to_logit = model.W_out.T @ model.W_U  # [d_mlp, d_vocab]: W_L
            unembed_norms = frequency_norms(neuron_to_logit[:, order], self.basis)
            keys = key_frequencies(embed_norms)
            restricted, excluded = self.restricted_and_excluded(all_logits, keys)
        return Measurement(
            restricted_loss=restricted,
            excluded_loss=excluded,
            gini_embed=gini(embed_norms),
            gini_unembed=gini(unembed_norms),
            key_freqs=keys,
            embed_freq_norms=embed_norms.tolist(),
        )
