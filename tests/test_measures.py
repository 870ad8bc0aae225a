"""Progress measures (grok_tui/measures/progress_measures.py): the Fourier basis, planted signals, restricted and excluded
loss on logits built by hand, Gini, the group frames, and measuring a real model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grok_tui.core.config import Config
from grok_tui.experiment.data import make_dataset
from grok_tui.measures.progress_measures import (ProgressMeasures, fourier_2d, fourier_basis, frequency_norms, gini, group_frame, inverse_fourier_2d, key_components, key_frequencies, primitive_root)
from grok_tui.experiment.model import SimpleTransformer


@pytest.mark.parametrize("n", [3, 4, 11, 12, 46, 47, 113])
def test_basis_is_orthonormal_for_odd_and_even_sizes(n: int) -> None:
    basis = fourier_basis(n)
    gram = basis.matrix @ basis.matrix.T
    assert torch.allclose(gram, torch.eye(n, dtype=torch.float64), atol=1e-12)
    assert basis.n_freqs == n // 2
    assert sorted(set(basis.freqs.tolist())) == list(range(n // 2 + 1))
    assert (n % 2 == 0) == (n // 2 not in basis.sin_row)  # the Nyquist frequency has no sine


def test_planted_embedding_frequency_is_found() -> None:
    p, w = 47, 9
    a = torch.arange(p, dtype=torch.float64)
    weights = torch.randn(8, p, dtype=torch.float64) * 1e-3  # faint noise everywhere...
    weights[0] += torch.cos(2 * math.pi * w * a / p)  # ...and one strong frequency
    weights[1] += torch.sin(2 * math.pi * w * a / p + 0.3)
    norms = frequency_norms(weights, fourier_basis(p))
    assert int(torch.argmax(norms)) + 1 == w
    assert key_frequencies(norms) == [w]


def test_planted_logit_signal_cos_w_a_plus_b_lives_in_its_frequency_block() -> None:
    p, w = 31, 4
    basis = fourier_basis(p)
    a = torch.arange(p, dtype=torch.float64)
    grid = torch.cos(2 * math.pi * w * (a[:, None] + a[None, :]) / p)[:, :, None]  # [p, p, 1]
    coefficients = fourier_2d(grid, basis)[:, :, 0]
    energy = coefficients**2
    rows = basis.freqs
    block = (rows[:, None] == w) & (rows[None, :] == w)
    assert float(energy[block].sum()) == pytest.approx(float(energy.sum()))  # all of it at frequency w
    assert float(energy.sum()) == pytest.approx(float((grid**2).sum()))  # Parseval: orthonormal transform
    assert torch.allclose(inverse_fourier_2d(fourier_2d(grid, basis), basis), grid.double(), atol=1e-10)


@pytest.mark.parametrize("n,sign", [(13, 1), (13, -1), (12, 1), (12, -1)])
def test_key_components_equal_a_direct_projection_on_cos_and_sin_of_a_plus_minus_b(n: int, sign: int) -> None:
    torch.manual_seed(0)
    basis = fourier_basis(n)
    grid = torch.randn(n, n, 3, dtype=torch.float64)
    freqs = [2, n // 2]  # an ordinary frequency and the largest one (Nyquist when n is even)
    kept = inverse_fourier_2d(key_components(fourier_2d(grid, basis), basis, freqs, sign), basis)
    # The same projection in input space: onto the normalized functions cos/sin(2πk(a ± b)/n).
    i = torch.arange(n, dtype=torch.float64)
    t = i[:, None] + sign * i[None, :]
    directions = []
    for k in freqs:
        for fn in (torch.cos, torch.sin):
            d = fn(2 * math.pi * k * t / n).flatten()
            if d.norm() > 1e-9:  # sin at the Nyquist frequency is identically 0
                directions.append(d / d.norm())
    D = torch.stack(directions)  # [m, n*n], orthonormal rows
    flat = grid.reshape(n * n, -1)
    expected = (D.T @ (D @ flat)).reshape(n, n, -1)
    assert torch.allclose(kept, expected, atol=1e-10)


def _measures(p: int, operation: str = "add") -> tuple[Config, ProgressMeasures]:
    config = Config(p=p, operation=operation, d_model=16, num_heads=2, frac_train=0.5)
    return config, ProgressMeasures(p, operation, make_dataset(config))


def _circuit_logits(config: Config, measures: ProgressMeasures, freqs: list[int]) -> torch.Tensor:
    """Logits of the paper's circuit, sum_k cos(w_k (a + b - c)), for every dataset row: [n_pairs, d_vocab]."""
    data = make_dataset(config)
    p = config.p
    a, b = data.tokens[:, 0].double(), data.tokens[:, 1].double()
    c = torch.arange(p, dtype=torch.float64)
    logits = torch.zeros(len(a), p + 1, dtype=torch.float64)
    for k in freqs:
        logits[:, :p] += 4.0 * torch.cos(2 * math.pi * k * (a[:, None] + b[:, None] - c[None, :]) / p)
    logits[:, p] = -20.0  # the '=' class: a constant, which the per-class mean keeps
    return logits


def test_restricted_loss_of_a_pure_circuit_equals_its_full_loss_and_excluded_is_chance() -> None:
    config, measures = _measures(23)
    keys = [3, 7, 10]
    logits = _circuit_logits(config, measures, keys)
    restricted, excluded = measures.restricted_and_excluded(logits, keys)
    labels = measures.grid_labels
    full = float(-torch.log_softmax(logits[measures.grid_rows], -1).gather(-1, labels[:, None]).mean())
    assert restricted == pytest.approx(full, rel=1e-9)
    # Everything the circuit put in the logits is removed: what is left is uniform over the p answers.
    assert excluded == pytest.approx(math.log(config.p), rel=1e-6)
    # Restricting to the wrong frequencies leaves only the mean: chance level, far above the full loss.
    wrong, _ = measures.restricted_and_excluded(logits, [1, 2])
    assert wrong == pytest.approx(math.log(config.p), rel=1e-6) and wrong > 3 * full


def test_gini_of_one_hot_is_about_one_and_of_constant_is_zero() -> None:
    one_hot = torch.zeros(56)
    one_hot[13] = 5.0
    assert gini(one_hot) == pytest.approx(55 / 56)
    assert gini(torch.full((56,), 2.5)) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < gini(torch.tensor([1.0, 2.0, 3.0, 10.0])) < 1.0
    assert gini(torch.zeros(5)) == 0.0


def test_random_embedding_has_no_key_frequency() -> None:
    for seed in range(5):
        torch.manual_seed(seed)
        model = SimpleTransformer(Config(p=113, seed=seed))
        norms = frequency_norms(model.W_E[:, :113], fourier_basis(113))
        assert key_frequencies(norms) == [], f"seed {seed}: a random init must show no circuit"


@pytest.mark.parametrize("p", [5, 7, 11, 113])
def test_primitive_root_generates_the_multiplicative_group(p: int) -> None:
    g = primitive_root(p)
    assert sorted(pow(g, i, p) for i in range(p - 1)) == list(range(1, p))


@pytest.mark.parametrize("operation,sign", [("add", 1), ("sub", -1), ("mul", 1), ("div", -1)])
def test_group_frame_turns_the_operation_into_addition_or_subtraction(operation: str, sign: int) -> None:
    p = 11
    order, frame_sign = group_frame(p, operation)
    assert frame_sign == sign
    n = len(order)
    config = Config(p=p, operation=operation)
    data = make_dataset(config)
    label_of = {(int(a), int(b)): int(c) for (a, b, _), c in zip(data.tokens.tolist(), data.labels.tolist())}
    for i in range(n):
        for j in range(n):
            assert label_of[(int(order[i]), int(order[j]))] == int(order[(i + sign * j) % n])


@pytest.mark.parametrize("operation", ["add", "sub", "mul", "div", "x2xyy2", "rand"])
def test_measuring_a_model_gives_finite_values_for_every_operation(operation: str) -> None:
    config, measures = _measures(13, operation)
    torch.manual_seed(0)
    model = SimpleTransformer(config)
    data = make_dataset(config)
    with torch.no_grad():
        logits = model(data.tokens)[:, -1]
    record = measures.measure(model, logits).as_record()
    for key in ("restricted_loss", "excluded_loss", "gini_embed", "gini_unembed"):
        assert math.isfinite(record[key]), key
    assert 0 <= record["gini_embed"] < 1 and 0 <= record["gini_unembed"] < 1
    n_freqs = (12 if operation in ("mul", "div") else 13) // 2
    assert len(record["embed_freq_norms"]) == n_freqs
    assert all(isinstance(k, int) and 1 <= k <= n_freqs for k in record["key_freqs"])
    assert np.all(np.array(record["embed_freq_norms"]) > 0)


def test_measuring_does_not_touch_the_random_number_generators() -> None:
    config, measures = _measures(13)
    model = SimpleTransformer(config)
    data = make_dataset(config)
    with torch.no_grad():
        logits = model(data.tokens)[:, -1]
    state = torch.get_rng_state()
    measures.measure(model, logits)
    assert torch.equal(state, torch.get_rng_state())


def test_class_blocks_give_the_same_losses_as_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large p is measured in blocks of output classes; the log-sum-exp across blocks must be exact."""
    import grok_tui.measures.progress_measures as measures_module

    config, measures = _measures(13, "sub")
    torch.manual_seed(1)
    logits = 3 * torch.randn(config.n_pairs, config.d_vocab)
    whole = measures.restricted_and_excluded(logits, [2, 5])
    monkeypatch.setattr(measures_module, "CLASS_BLOCK_VALUES", 13 * 13 * 3)  # blocks of 3 classes (and 2)
    blocked = measures.restricted_and_excluded(logits, [2, 5])
    assert blocked == pytest.approx(whole, rel=1e-12)
    # And both equal the plain float64 cross-entropy of the projected logits, built another way.
    grid = logits[measures.grid_rows].double().reshape(13, 13, -1)
    basis = fourier_basis(13)
    key_part = inverse_fourier_2d(key_components(fourier_2d(grid, basis), basis, [2, 5], -1), basis)
    restricted = (key_part + grid.mean(dim=(0, 1))).reshape(169, -1)
    expected = float(torch.nn.functional.cross_entropy(restricted, measures.grid_labels))
    assert whole[0] == pytest.approx(expected, rel=1e-12)
