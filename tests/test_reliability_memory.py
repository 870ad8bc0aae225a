"""Evaluation in chunks (issue 16, item 8): bounded memory at large p, the same numbers at small p.

At p=997 one evaluation pass held all 994,009 x 998 logits in float32 and twice over in float64 (the
log-softmax), 12+ GB. trainer.all_logits now computes the logits in chunks of rows and metrics_of the
float64 log-softmax in chunks. A batch that fits in one chunk (the paper's p=113) is computed exactly as
before; the metrics are the same bit for bit for any chunking, since each row's loss is computed alone.
"""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_config
from grok_tui import trainer
from grok_tui.data import make_dataset
from grok_tui.engine import last_position_logits
from grok_tui.model import SimpleTransformer
from grok_tui.trainer import all_logits, evaluate, metrics_of


def unchunked_metrics(logits: torch.Tensor, data) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The one-pass computation metrics_of replaced (its code before chunking)."""
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    losses = -logprobs.gather(-1, data.labels[:, None])[:, 0]
    correct = (logits.argmax(dim=-1) == data.labels).double()
    return {"train_loss": losses[data.train_idx].mean().item(), "test_loss": losses[data.test_idx].mean().item(),
            "train_acc": correct[data.train_idx].mean().item(), "test_acc": correct[data.test_idx].mean().item()}


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000, None])
def test_metrics_are_bitwise_equal_for_any_chunking(chunk_rows: int | None) -> None:
    config = tiny_config(p=31)
    data = make_dataset(config)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(len(data.labels), config.d_vocab, generator=generator) * 30  # spiky, far from uniform
    logits[::5] *= 1e-3
    assert metrics_of(logits, data, chunk_rows=chunk_rows) == unchunked_metrics(logits, data)


def test_a_batch_that_fits_one_chunk_is_one_pass_bit_for_bit() -> None:
    config = tiny_config(p=113, d_model=128, num_heads=4)  # the paper's sizes: 12,769 rows, one chunk
    model, data = SimpleTransformer(config), make_dataset(config)
    assert len(data.labels) <= trainer.eval_chunk_rows(model)
    whole = last_position_logits(model, data.tokens[:, 0], data.tokens[:, 1])
    assert torch.equal(all_logits(model, data), whole)
    assert evaluate(model, data) == unchunked_metrics(whole, data)


def test_chunked_logits_match_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny_config(p=31)
    model, data = SimpleTransformer(config), make_dataset(config)
    whole = all_logits(model, data)
    monkeypatch.setattr(trainer, "EVAL_CHUNK_BYTES", 100 * 1024)  # chunks of a few dozen rows
    rows = trainer.eval_chunk_rows(model)
    assert rows < len(data.labels) // 10
    chunked = all_logits(model, data)
    assert chunked.shape == whole.shape and chunked.dtype == whole.dtype
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)
    assert evaluate(model, data) == pytest.approx(unchunked_metrics(whole, data), rel=1e-6)
