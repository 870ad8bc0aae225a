"""`grok_tui.analysis.load_run`: a run in a notebook, read-only (no lock, nothing written), and the README's
notebook example run as it is written there."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from grok_tui.measures.loaded_run import load_run
from grok_tui.core.config import ConfigError
from grok_tui.experiment.data import make_dataset
from grok_tui.run.lock import RunLock
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking
from conftest import tiny_config

CONFIG = tiny_config(num_epochs=120, log_every=20, measure_every=40, snapshot_every=40, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    train_grokking(CONFIG, root=root)
    return root


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file()}


def test_load_run_gives_model_data_config_log_and_snapshots(trained: Path) -> None:
    result = train_grokking(CONFIG, root=trained)  # a finished run: resuming changes nothing, gives its model
    run = load_run("tiny", root=trained)
    assert run.epoch == 120 and run.config == CONFIG
    assert all(torch.equal(a, b) for a, b in zip(run.model.state_dict().values(), result.model.state_dict().values()))
    expected = make_dataset(CONFIG)
    assert torch.equal(run.data.tokens, expected.tokens) and torch.equal(run.data.train_idx, expected.train_idx)
    assert run.snapshot_epochs == [0, 40, 80, 120]
    assert list(run.log["epoch"]) == list(range(0, 121, 20))
    assert isinstance(run.log["test_acc"], np.ndarray) and run.log["test_acc"].shape == (7,)
    measured = ~np.isnan(run.log["restricted_loss"])  # measures on some lines only: NaN on the others
    assert list(run.log["epoch"][measured]) == [0, 40, 80, 120]
    assert not run.model.training and not any(p.requires_grad for p in run.model.parameters())


def test_load_run_at_a_snapshot_and_run_at(trained: Path) -> None:
    run = load_run("tiny", epoch=40, root=trained)
    assert run.epoch == 40
    again = run.at(80)
    assert not torch.equal(again.W_E, run.model.W_E)
    with torch.no_grad():
        logits = run.model(run.data.tokens)[:, -1]  # the reference model, on all inputs
    acc = (logits.argmax(-1)[run.data.train_idx] == run.data.train_labels).float().mean().item()
    assert acc == pytest.approx(run.log["train_acc"][list(run.log["epoch"]).index(40)], abs=1e-6)
    with pytest.raises(ConfigError, match="no snapshot at epoch 41"):
        load_run("tiny", epoch=41, root=trained)
    with pytest.raises(ConfigError, match="no run 'other'"):
        load_run("other", root=trained)


def test_load_run_takes_no_lock_and_writes_nothing(trained: Path) -> None:
    before = _tree(trained)
    with RunLock(RunPaths.of("tiny", trained)):  # a trainer holds the run: reading it still works
        load_run("tiny", epoch=80, root=trained)
        load_run("tiny", root=trained)
    assert _tree(trained) == before  # the lock file came and went with RunLock


def test_the_readme_notebook_example_runs(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "grok_tui.analysis import load_run" in b]
    assert len(blocks) == 1
    code = blocks[0].replace('TAG, EPOCH = "paper-s0", 20_000', 'TAG, EPOCH = "tiny", 80')
    assert code != blocks[0]
    monkeypatch.chdir(trained)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (trained / "fourier_norms.png").read_bytes()[:4] == b"\x89PNG"
    (trained / "fourier_norms.png").unlink()
