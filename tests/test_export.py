"""`grok-tui export` (grok_tui/measures/export.py): the TransformerLens export loads as documented and gives the reference
model's logits on all p^2 inputs; grok-tui's state dict and the npz round-trip; bad requests are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from grok_tui.measures.loaded_run import load_run
from grok_tui.cli.main import main
from grok_tui.core.config import Config
from grok_tui.measures.export import transformerlens_state_dict
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.training.trainer import train_grokking
from conftest import tiny_config

CONFIG = tiny_config(p=23, d_model=32, num_heads=4, d_mlp=48, num_epochs=150, log_every=50, measure_every=0,
                     snapshot_every=50, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    train_grokking(CONFIG, root=root)
    return root


def _export(root: Path, out: Path, *flags: str) -> None:
    assert main(["export", "tiny", *flags, "--out", str(out), "--root", str(root)]) == 0


def _load_as_documented(path: Path) -> torch.nn.Module:
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    exported = torch.load(path, weights_only=True)
    model = HookedTransformer(HookedTransformerConfig(**exported["config"]))
    model.load_state_dict({**model.state_dict(), **exported["state_dict"]})
    return model


@pytest.mark.parametrize("epoch", [None, 50])
def test_transformerlens_logits_equal_the_reference_models_on_every_input(trained: Path, tmp_path: Path,
                                                                         epoch: int | None) -> None:
    pytest.importorskip("transformer_lens")  # the analysis extra (in dev too): present in CI
    out = tmp_path / "tl.pt"
    _export(trained, out, *(["--epoch", str(epoch)] if epoch is not None else []))
    tl_model = _load_as_documented(out)
    run = load_run("tiny", epoch=epoch, root=trained)
    assert run.epoch == (epoch if epoch is not None else 150)
    tokens = run.data.tokens  # all p^2 inputs `a b =`
    with torch.no_grad():
        theirs = tl_model(tokens)  # [p^2, 3, d_vocab]
        ours = run.model(tokens)
    assert theirs.shape == ours.shape == (23 * 23, 3, 24)
    assert torch.allclose(theirs, ours, atol=1e-5, rtol=0)
    # The check can fail: W_O laid out without its transpose gives other logits.
    wrong = torch.load(out, weights_only=True)
    w_o = wrong["state_dict"]["blocks.0.attn.W_O"]
    wrong["state_dict"]["blocks.0.attn.W_O"] = w_o.flatten().reshape(w_o.shape[::-1]).transpose(0, 2).contiguous()
    tl_model.load_state_dict({**tl_model.state_dict(), **wrong["state_dict"]})
    with torch.no_grad():
        assert (tl_model(tokens) - ours).abs().max() > 1e-3


def test_transformerlens_names_shapes_and_config(trained: Path) -> None:
    run = load_run("tiny", root=trained)
    state = transformerlens_state_dict(run.model.state_dict(), run.config)
    assert state["embed.W_E"].shape == (24, 32) and state["blocks.0.attn.W_Q"].shape == (4, 32, 8)
    assert state["blocks.0.attn.W_O"].shape == (4, 8, 32) and state["blocks.0.mlp.W_in"].shape == (32, 48)
    assert state["unembed.W_U"].shape == (32, 24)
    for bias in ("blocks.0.attn.b_Q", "blocks.0.attn.b_K", "blocks.0.attn.b_V", "blocks.0.attn.b_O", "unembed.b_U"):
        assert not state[bias].any(), bias  # the paper's model has no attention or unembedding biases


def test_state_dict_and_npz_round_trip(trained: Path, tmp_path: Path) -> None:
    run = load_run("tiny", epoch=100, root=trained)
    _export(trained, tmp_path / "own.pt", "--epoch", "100", "--format", "state-dict")
    own = torch.load(tmp_path / "own.pt", weights_only=True)
    model = SimpleTransformer(Config.from_dict(own["config"]))
    model.load_state_dict(own["state_dict"])
    assert own["epoch"] == 100
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), run.model.state_dict().values()))
    _export(trained, tmp_path / "w.npz", "--epoch", "100", "--format", "npz")
    arrays = np.load(tmp_path / "w.npz", allow_pickle=False)
    assert int(arrays["epoch"]) == 100 and json.loads(str(arrays["config_json"]))["p"] == 23
    for name, tensor in run.model.state_dict().items():
        assert np.array_equal(arrays[name], tensor.numpy()), name
    assert arrays["W_O"].shape == (32, 32) and arrays["W_E"].shape == (32, 24)  # the paper code's layout


def test_an_existing_regular_file_is_replaced_whole(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.npz"
    out.write_bytes(b"old" * 100_000)
    _export(trained, out, "--format", "npz")
    assert np.load(out)["epoch"] == 150 and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("flags,message", [
    (["nope", "--out", "{tmp}/x.pt"], "no run 'nope'"),
    (["tiny", "--epoch", "75", "--out", "{tmp}/x.pt"], "no snapshot at epoch 75 (snapshots: 0, 50, 100, 150"),
    (["tiny", "--out", "{tmp}"], "is a folder, not a regular file"),
    (["tiny", "--out", "{root}/models/tiny/snapshots/epoch_000000000.pth"], "where grok-tui keeps runs and sweeps"),
    (["tiny", "--format", "onnx", "--out", "{tmp}/x.pt"], "invalid choice: 'onnx'"),
])
def test_bad_requests_are_refused_in_one_line_before_anything_is_written(
        trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    before = {p: p.stat().st_mtime_ns for p in trained.rglob("*")}
    argv = [f.replace("{tmp}", str(tmp_path)).replace("{root}", str(trained)) for f in flags]
    assert main(["export", *argv, "--root", str(trained)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("grok-tui: error: ") and message in err, err
    assert not (tmp_path / "x.pt").exists()
    assert {p: p.stat().st_mtime_ns for p in trained.rglob("*")} == before
