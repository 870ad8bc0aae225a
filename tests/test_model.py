"""The paper's one-layer transformer: size, init, shapes, causality and the float64 loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from grok_tui.core.config import Config
from grok_tui.experiment.data import make_dataset
from grok_tui.experiment.model import SimpleTransformer, cross_entropy_float64, sum_squared_weights


def _model(seed: int = 0, **overrides) -> SimpleTransformer:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SimpleTransformer(Config(**overrides))


@pytest.fixture(scope="module")
def model() -> SimpleTransformer:
    return _model(0)


def test_parameter_count_at_defaults(model: SimpleTransformer) -> None:
    assert sum(p.numel() for p in model.parameters()) == 226_816


def test_parameter_shapes(model: SimpleTransformer) -> None:
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "W_E": (128, 114), "W_pos": (3, 128), "W_K": (4, 32, 128), "W_Q": (4, 32, 128),
        "W_V": (4, 32, 128), "W_O": (128, 128), "W_in": (512, 128), "b_in": (512,),
        "W_out": (128, 512), "b_out": (128,), "W_U": (128, 114),
    }


def test_init_scale_per_tensor(model: SimpleTransformer) -> None:
    for name, param in model.named_parameters():
        param = param.detach()
        if name.startswith("b_"):
            assert torch.count_nonzero(param) == 0, name
            continue
        expected = 1 / math.sqrt(114) if name == "W_U" else 1 / math.sqrt(128)
        tolerance = 0.15 if param.numel() < 1000 else 0.05  # W_pos has only 384 entries
        assert float(param.std()) == pytest.approx(expected, rel=tolerance), name
        assert abs(float(param.mean())) < 3 * expected / math.sqrt(param.numel()) + 1e-3, name


def test_sum_of_squared_weights_at_init(model: SimpleTransformer) -> None:
    total = sum_squared_weights(model)
    assert total == pytest.approx(1781, rel=0.03)
    direct = sum(float((p.detach().double() ** 2).sum()) for p in model.parameters())
    assert total == pytest.approx(direct, rel=1e-12)


def test_output_shape(model: SimpleTransformer) -> None:
    tokens = torch.tensor([[1, 2, 113], [0, 0, 113], [112, 5, 113], [7, 7, 113], [3, 4, 113]])
    logits = model(tokens)
    assert logits.shape == (5, 3, 114)
    assert logits.dtype == torch.float32
    assert bool(torch.isfinite(logits).all())


def test_small_config_shapes() -> None:
    m = _model(0, p=7, d_model=16, num_heads=2)
    logits = m(torch.tensor([[1, 2, 7]]))
    assert logits.shape == (1, 3, 8)
    assert m.W_in.shape == (64, 16)


@torch.no_grad()
def test_causality(model: SimpleTransformer) -> None:
    base = torch.tensor([[5, 9, 113], [0, 1, 113]])
    out = model(base)
    changed_pos1 = base.clone()
    changed_pos1[:, 1] = torch.tensor([70, 50])
    changed_pos2 = base.clone()
    changed_pos2[:, 2] = torch.tensor([3, 4])
    out1 = model(changed_pos1)
    out2 = model(changed_pos2)
    assert torch.equal(out1[:, 0], out[:, 0])
    assert torch.equal(out2[:, 0], out[:, 0])
    assert torch.equal(out2[:, 1], out[:, 1])
    # and information does flow forward: the later positions see the change
    assert not torch.allclose(out1[:, 2], out[:, 2])
    assert not torch.allclose(out2[:, 2], out[:, 2])


@torch.no_grad()
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_initial_loss_is_near_uniform(seed: int) -> None:
    config = Config()
    data = make_dataset(config)
    m = _model(seed)
    logits = m(data.tokens)[:, -1]
    loss = float(cross_entropy_float64(logits, data.labels))
    assert loss == pytest.approx(math.log(114), abs=0.1)


def test_cross_entropy_float64_matches_torch() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 114, generator=gen) * 3
    labels = torch.randint(0, 114, (64,), generator=gen)
    got = cross_entropy_float64(logits, labels)
    assert got.dtype == torch.float64
    expected = F.cross_entropy(logits.double(), labels)
    assert float(got) == pytest.approx(float(expected), rel=1e-12, abs=1e-15)
    # and it differs from a plain float32 computation only by rounding
    assert float(got) == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-5)


def test_float64_keeps_tiny_losses() -> None:
    # The correct class leads by 20: its float32 log-probability rounds to exactly 0 (1 + 2e-9 == 1 in
    # float32), so a float32 loss would be 0 and give no gradient; in float64 it is about 2e-9.
    logits = torch.tensor([[20.0, 0.0, 0.0], [0.0, 20.0, 0.0]], dtype=torch.float32)
    labels = torch.tensor([0, 1])
    float32_logprob = F.log_softmax(logits, dim=-1).gather(-1, labels[:, None])
    assert bool((float32_logprob == 0).all())  # the premise: float32 underflows here
    loss = cross_entropy_float64(logits, labels)
    assert float(loss) > 0
    assert float(loss) == pytest.approx(math.log1p(2 * math.exp(-20)), rel=1e-9)


def test_same_seed_same_init_different_seed_differs() -> None:
    a, b, c = _model(3), _model(3), _model(4)
    for (name, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert torch.equal(pa, pb), name
        if not name.startswith("b_"):
            assert not torch.equal(pa, pc), name


def test_init_follows_global_torch_seed() -> None:
    # Parameters come from the global torch RNG in creation order, as in the released code.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        m = SimpleTransformer(Config())
        torch.manual_seed(11)
        first = torch.randn(128, 114) / math.sqrt(128)
    assert torch.equal(m.W_E, first)


def test_float64_work_of_mps_tensors_goes_to_the_cpu() -> None:
    """Apple's MPS has no float64: the float64 loss, metrics and measures of an MPS run use the CPU."""
    from grok_tui.experiment.model import float64_device

    assert float64_device(torch.device("mps")) == torch.device("cpu")
    assert float64_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert float64_device(torch.device("cpu")) == torch.device("cpu")


def test_the_logged_weight_norms_are_the_same_bits_at_any_thread_count() -> None:
    """torch splits a CPU sum of more than 32,768 elements across threads, so W_in's and W_out's squared norms
    at the paper's widths (65,536 elements) changed in the last bits with --threads (the weights did not)."""
    from grok_tui.experiment.model import squared_norms, sum_squared_weights

    torch.manual_seed(3)
    module = torch.nn.Module()
    # W_in's shape at the paper's widths; entries over six decades, so rounding differences show (with this
    # seed torch's one sum gave 2610003164.74558 on one thread and ...7455807 on two, three and four).
    module.big = torch.nn.Parameter(torch.randn(512, 128) * torch.logspace(-3, 3, 128))
    module.small = torch.nn.Parameter(torch.randn(7, 5))
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 4):
            torch.set_num_threads(threads)
            results.append((squared_norms(module), sum_squared_weights(module)))
    finally:
        torch.set_num_threads(before)
    assert all(result == results[0] for result in results), results
    assert results[0][0]["small"] == float((module.small.double() ** 2).sum())  # small tensors: the one sum as before
