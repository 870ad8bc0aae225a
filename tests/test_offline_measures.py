"""Offline progress measures (grok_tui/measures/offline.py, `grok-tui measures`, `plot --measures --offline`):
one fixed key set over the snapshots, on a run whose snapshots carry planted key frequencies."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from grok_tui.cli.main import main
from grok_tui.core.config import Config
from grok_tui.experiment.data import make_dataset
from grok_tui.measures.progress_measures import ProgressMeasures
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.measures.offline import (ClassBlockLogits, final_residual, measure_run, merged_records, offline_measures_path)
from grok_tui.figures.offline import offline_png_path
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import save_snapshot
from grok_tui.experiment.evaluation import all_logits, reference_logits
from grok_tui.training.trainer import train_grokking
from conftest import tiny_config

P = 23
CONFIG = Config(tag="planted", p=P, d_model=16, num_heads=2, frac_train=0.5, device="cpu")
# What the planted snapshots' embeddings carry: the "final" model (the last snapshot: the run has no
# checkpoint) uses frequencies 3 and 7; the earlier ones use 5 only.
PLANTED = {0: [5], 100: [5], 200: [3, 7]}


def _planted_model(epoch: int) -> SimpleTransformer:
    torch.manual_seed(epoch)
    model = SimpleTransformer(CONFIG)
    a = torch.arange(P, dtype=torch.float32)
    with torch.no_grad():
        model.W_E[:, :P] *= 1e-3  # faint noise everywhere...
        for i, k in enumerate(PLANTED[epoch]):  # ...and strong planted frequencies
            model.W_E[2 * i, :P] += torch.cos(2 * math.pi * k * a / P)
            model.W_E[2 * i + 1, :P] += torch.sin(2 * math.pi * k * a / P)
    return model


def _planted_run(root: Path) -> RunPaths:
    paths = RunPaths.of(CONFIG.tag, root)
    paths.log_dir.mkdir(parents=True)
    CONFIG.save(paths.config)
    for epoch in PLANTED:
        save_snapshot(paths, epoch, _planted_model(epoch))
    return paths


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_keys_final_measures_every_snapshot_with_the_final_models_frequencies(root: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    paths = _planted_run(root)
    before = _files(root)
    assert main(["measures", CONFIG.tag, "--root", str(root)]) == 0
    assert "key frequencies 3, 7 (from the last snapshot (epoch 200))" in capsys.readouterr().out
    records = read_log(offline_measures_path(paths))
    assert [r["epoch"] for r in records] == [0, 100, 200]
    assert [r["key_freqs"] for r in records] == [[3, 7]] * 3
    # The run's own files are untouched; the measures are a file of their own.
    after = _files(root)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {str(offline_measures_path(paths).relative_to(root))}


def test_keys_live_and_keys_given_by_hand(root: Path) -> None:
    _planted_run(root)
    live = measure_run(CONFIG.tag, "live", root).records
    assert [r["key_freqs"] for r in live] == [PLANTED[e] for e in PLANTED]
    given = measure_run(CONFIG.tag, [5], root).records
    assert [r["key_freqs"] for r in given] == [[5]] * 3
    # The restricted loss depends on the key set: the same snapshot measured with other keys differs.
    final = measure_run(CONFIG.tag, "final", root).records
    assert final[0]["restricted_loss"] != pytest.approx(given[0]["restricted_loss"], rel=1e-6)


def test_offline_values_equal_the_live_functions_on_the_full_logits(root: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounded-memory path (residual + class blocks on demand) gives the live measures' numbers."""
    import grok_tui.measures.progress_measures as measures_module

    paths = train_grokking(tiny_config(p=23, d_model=32, num_heads=4, num_epochs=100, log_every=50,
                                       measure_every=50, snapshot_every=50, threads=1), root=root).paths
    monkeypatch.setattr(measures_module, "CLASS_BLOCK_VALUES", 23 * 23 * 5)  # 5 classes a block: several
    offline = measure_run("tiny", "live", root).records
    live = [r for r in read_log(paths.log) if "restricted_loss" in r]
    assert [r["epoch"] for r in live] == [r["epoch"] for r in offline] == [0, 50, 100]
    for mine, theirs in zip(offline, live):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "restricted_loss",
                    "excluded_loss", "gini_embed", "gini_unembed"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-9), (mine["epoch"], key)
        assert mine["key_freqs"] == theirs["key_freqs"]


def test_class_block_logits_are_the_full_logits_block_by_block() -> None:
    config = Config(p=P, d_model=16, num_heads=2, frac_train=0.5)
    torch.manual_seed(1)
    model = SimpleTransformer(config)
    data = make_dataset(config)
    full = all_logits(model, data, reference_logits)  # [n_pairs, d_vocab]
    lazy = ClassBlockLogits(final_residual(model, data), model.W_U)
    assert lazy.shape == tuple(full.shape)
    assert torch.allclose(lazy[:, 4:9], full[:, 4:9], atol=1e-5)
    measures = ProgressMeasures(P, "add", data)
    assert measures.restricted_and_excluded(lazy, [2, 5]) == pytest.approx(  # type: ignore[arg-type]
        measures.restricted_and_excluded(full, [2, 5]), rel=1e-6)


def test_plot_offline_draws_the_figure_and_merges_the_measures_into_the_log(root: Path) -> None:
    paths = train_grokking(tiny_config(num_epochs=100, snapshot_every=50, measure_every=20, threads=1),
                           root=root).paths
    assert main(["plot", "tiny", "--measures", "--offline", "--root", str(root)]) == 2  # not measured yet
    assert main(["measures", "tiny", "--keys", "1", "--root", str(root)]) == 0
    assert main(["plot", "tiny", "--measures", "--offline", "--root", str(root)]) == 0
    assert offline_png_path(paths).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    merged = merged_records(read_log(paths.log), read_log(offline_measures_path(paths)))
    measured = [r for r in merged if "restricted_loss" in r]
    assert [r["epoch"] for r in measured] == [0, 50, 100]  # the live ones at 20, 40, ... are left out
    assert all(r["key_freqs"] == [1] for r in measured)
    assert len(merged) == len(read_log(paths.log))  # every snapshot epoch is a log line here


@pytest.mark.parametrize("argv,message", [
    (["measures", "nope"], "no run 'nope'"),
    (["measures", "bare"], "run 'bare' has no snapshots"),
    (["measures", "planted", "--keys", "0,3"], "keys: frequencies must be whole numbers from 1 to 11 for this run"),
    (["measures", "planted", "--keys", "x"], "keys: must be final, live or a comma list"),
    (["plot", "planted", "--offline"], "goes with --measures"),
])
def test_bad_requests_are_one_line_and_exit_2(root: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                             message: str) -> None:
    _planted_run(root)
    bare = RunPaths.of("bare", root)
    bare.log_dir.mkdir(parents=True)
    CONFIG.save(bare.config)
    assert main([*argv, "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("grok-tui: error: ") and message in err, err


def test_a_corrupt_snapshot_is_skipped_and_reported_the_others_measured(root: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    paths = _planted_run(root)
    broken = next(p for p in (paths.model_dir / "snapshots").iterdir() if "100" in p.name)
    broken.write_bytes(broken.read_bytes()[:100])  # truncated, as a disk that filled up would leave it
    assert main(["measures", CONFIG.tag, "--keys", "5", "--root", str(root)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("grok-tui:")]  # not the bar
    assert len(err) == 1 and err[0].startswith("grok-tui: warning: skipped: ") and broken.name in err[0], err
    assert [r["epoch"] for r in read_log(offline_measures_path(paths))] == [0, 200]


def test_every_snapshot_corrupt_is_one_line_and_exit_2(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _planted_run(root)
    for snapshot in (paths.model_dir / "snapshots").iterdir():
        snapshot.write_bytes(b"not a snapshot")
    assert main(["measures", CONFIG.tag, "--keys", "5", "--root", str(root)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("grok-tui: error: run 'planted': none of its 3 snapshots could be read")
    assert not offline_measures_path(paths).exists()


def test_a_folder_that_cannot_be_written_is_found_before_any_snapshot_is_measured(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root writes anywhere, so the read-only folder is an injected EACCES on the probe file."""
    import grok_tui.core.atomic as atomic
    import grok_tui.measures.offline as offline

    paths = _planted_run(root)
    loaded: list[Path] = []
    real_load = offline.load_snapshot
    monkeypatch.setattr(offline, "load_snapshot", lambda path, config: loaded.append(path) or real_load(path, config))

    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(paths.log_dir))

    monkeypatch.setattr(atomic.tempfile, "TemporaryFile", read_only)
    with pytest.raises(PermissionError):
        measure_run(CONFIG.tag, [5], root=root)
    assert loaded == [] and not offline_measures_path(paths).exists()
