"""Evaluation in chunks (issue 16, item 8): bounded memory at large p, the same numbers at small p.

At p=997 one evaluation pass held all 994,009 x 998 logits in float32 and twice over in float64 (the
log-softmax), 12+ GB. trainer.all_logits now computes the logits in chunks of rows and metrics_of the
float64 log-softmax in chunks. A batch that fits in one chunk (the paper's p=113) is computed exactly as
before; the metrics are the same bit for bit for any chunking, since each row's loss is computed alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from grok_tui.experiment import evaluation as trainer
from grok_tui.experiment.data import make_dataset
from grok_tui.experiment.engine import last_position_logits
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.experiment.evaluation import all_logits, evaluate, metrics_of


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


# ---------------------------------------------------------------- the log point at large p (grok_tui/experiment/memory.py)


def trained_tiny_model(p: int = 31):  # type: ignore[no-untyped-def]
    """A model a few steps from initialization, with a config that measures."""
    config = tiny_config(p=p, d_model=32, num_heads=2, measure_every=1)
    torch.manual_seed(0)
    model = SimpleTransformer(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3)  # spikier logits than at initialization
    return config, model, make_dataset(config)


def test_residual_logits_rebuild_the_logits_by_rows_and_by_classes() -> None:
    from grok_tui.experiment.memory import ResidualLogits

    _, model, data = trained_tiny_model()
    whole = all_logits(model, data)
    kept = ResidualLogits.of(model, data, chunk_rows=50)
    assert kept.shape == whole.shape and len(kept) == len(whole)
    scale = float(whole.abs().max())  # float32 sums in another order: equal to float32 rounding of the scale
    torch.testing.assert_close(kept[100:300], whole[100:300], rtol=0, atol=1e-6 * scale)
    torch.testing.assert_close(kept[:, 5:9], whole[:, 5:9], rtol=0, atol=1e-6 * scale)
    with pytest.raises(IndexError):
        kept[:, 3]


def test_the_measures_by_class_blocks_equal_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from grok_tui.measures import progress_measures as measures
    from grok_tui.measures.progress_measures import ProgressMeasures
    from grok_tui.experiment.memory import ResidualLogits

    config, model, data = trained_tiny_model()
    logits = all_logits(model, data)
    progress = ProgressMeasures(config.p, config.operation, data)
    assert measures.CLASS_BLOCK_VALUES // config.p**2 >= config.d_vocab  # one block at p=31: the unchunked computation
    whole = progress.measure(model, logits)
    again = progress.measure(model, logits.clone())
    assert whole == again  # one block: the same bits every time
    monkeypatch.setattr(measures, "CLASS_BLOCK_VALUES", 3 * config.p**2)  # blocks of 3 classes
    chunked = progress.measure(model, logits)
    from_residual = progress.measure(model, ResidualLogits.of(model, data, chunk_rows=97))
    for result in (chunked, from_residual):
        assert result.key_freqs == whole.key_freqs and result.embed_freq_norms == whole.embed_freq_norms
        assert (result.gini_embed, result.gini_unembed) == (whole.gini_embed, whole.gini_unembed)
        assert result.restricted_loss == pytest.approx(whole.restricted_loss, rel=1e-6)
        assert result.excluded_loss == pytest.approx(whole.excluded_loss, rel=1e-6)


def test_a_log_point_keeps_the_whole_logits_when_they_fit_and_the_residual_when_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grok_tui.experiment.memory import ResidualLogits
    from grok_tui.run.paths import RunPaths
    from grok_tui.training.loop import TrainingLoop

    config = tiny_config(p=31, d_model=32, num_heads=2, measure_every=1, log_every=1)
    paths = RunPaths.of(config.tag, tmp_path)
    loop = TrainingLoop(config, paths, torch.device("cpu"), None, None, None)
    assert isinstance(loop.log_point_logits(), torch.Tensor)
    whole = loop.record()
    monkeypatch.setattr(trainer, "EVAL_CHUNK_BYTES", 64 * 1024)
    assert isinstance(loop.log_point_logits(), ResidualLogits)
    chunked = loop.record()
    for key, value in whole.items():
        if key == "elapsed_s":
            continue
        if isinstance(value, float):
            assert chunked[key] == pytest.approx(value, rel=1e-5, abs=1e-9), key
        else:
            assert chunked[key] == value, key


# ---------------------------------------------------------------- refused before training when it cannot fit


def test_a_run_that_cannot_fit_is_refused_with_an_estimate_and_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from grok_tui.cli.main import main

    from grok_tui.training import trainer as training

    monkeypatch.setattr(training, "available_bytes", lambda: 10**9)  # a machine with 1 GB free
    status = main(["train", "--root", str(tmp_path), "--tag", "big", "--p", "503", "--num-epochs", "1"])
    err = capsys.readouterr().err.splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith("grok-tui: error: p, d_model: a run with p=503 and d_model=128 needs about ")
    assert " GB of memory, and this machine has 1.0 GB available" in err[0]
    assert list(tmp_path.iterdir()) == []  # no folder, no lock, no config


def test_the_estimate_grows_with_p_and_d_model_and_fits_the_paper_run_anywhere() -> None:
    from grok_tui.core.config import Config, ConfigError
    from grok_tui.experiment.memory import available_bytes, check_fits, estimate_bytes

    def estimate(**fields: object) -> int:
        return estimate_bytes(Config(**fields), trainer.TRAIN_CHUNK_BYTES, trainer.EVAL_CHUNK_BYTES)  # type: ignore[arg-type]

    assert estimate(p=113) < estimate(p=503) < estimate(p=997) < 4e9  # chunked: p=997 fits in 4 GB
    assert estimate(p=997, d_model=1024, num_heads=4) > 2 * estimate(p=997)
    check_fits(Config(), estimate(), None)  # nothing known about the machine: not refused
    with pytest.raises(ConfigError, match="p=113 and d_model=128"):
        check_fits(Config(), estimate(), estimate() - 1)
    available = available_bytes()
    assert available is None or available > 0
