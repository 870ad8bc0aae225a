"""Weight snapshots (grok_tui/run/snapshots.py): cadence, equality with the trained model, atomic writes under
kill -9, cut-back and rewrite on resume, --fresh, and hostile files in the snapshot folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from grok_tui.core.errors import CheckpointError, UnsafeTargetError
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import cut_back_snapshots, list_snapshots, load_snapshot, snapshot_dir, snapshot_path
from grok_tui.training.trainer import train_grokking
from conftest import tiny_config

SNAP = dict(num_epochs=250, log_every=25, checkpoint_every=100, snapshot_every=50, measure_every=0, threads=1)


def _weights(paths: RunPaths, epoch: int) -> dict[str, torch.Tensor]:
    return load_snapshot(snapshot_path(paths, epoch), tiny_config())


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_snapshots_at_every_multiple_including_epoch_0_equal_the_trained_model(root: Path) -> None:
    result = train_grokking(tiny_config(**SNAP), root=root)
    paths = result.paths
    assert [s.epoch for s in list_snapshots(paths)] == [0, 50, 100, 150, 200, 250]
    assert _equal(_weights(paths, 250), {k: v.float() for k, v in result.model.state_dict().items()})
    # The snapshot at 100 is the model a run of 100 epochs ends with (training is deterministic).
    short = train_grokking(tiny_config(**{**SNAP, "num_epochs": 100, "tag": "short"}), root=root)
    assert _equal(_weights(paths, 100), short.model.state_dict())
    assert not _equal(_weights(paths, 100), _weights(paths, 150))
    assert all(s.size < 20_000 for s in list_snapshots(paths))  # weights only: no optimizer state


def test_no_snapshots_by_default(root: Path) -> None:
    result = train_grokking(tiny_config(num_epochs=20), root=root)
    assert list_snapshots(result.paths) == [] and not snapshot_dir(result.paths).exists()


class Crash(Exception):
    pass


def test_resume_cuts_back_and_rewrites_the_snapshots_past_the_checkpoint_equal(root: Path) -> None:
    whole = train_grokking(tiny_config(**{**SNAP, "tag": "whole"}), root=root).paths

    def crash_at_175(record: dict[str, object]) -> None:
        if record["epoch"] == 175:
            raise Crash  # a crash between checkpoints: checkpoint at 100, snapshots up to 150 on disk

    with pytest.raises(Crash):
        train_grokking(tiny_config(**SNAP), root=root, on_log=crash_at_175)
    paths = RunPaths.of("tiny", root)
    assert [s.epoch for s in list_snapshots(paths)] == [0, 50, 100, 150]
    # Mark the snapshot past the checkpoint: the resumed run must replace it, not keep it.
    snapshot_path(paths, 150).write_bytes(snapshot_path(paths, 0).read_bytes())
    stale = snapshot_path(paths, 150).stat().st_ino
    train_grokking(tiny_config(**SNAP), root=root)
    assert [s.epoch for s in list_snapshots(paths)] == [0, 50, 100, 150, 200, 250]
    assert snapshot_path(paths, 150).stat().st_ino != stale
    for epoch in (0, 50, 100, 150, 200, 250):
        assert _equal(_weights(paths, epoch), _weights(whole, epoch)), epoch


def test_cut_back_removes_later_snapshots_and_leftover_temps_only(root: Path) -> None:
    paths = train_grokking(tiny_config(**{**SNAP, "num_epochs": 150}), root=root).paths
    temp = snapshot_dir(paths) / ".epoch_000000200.pth.abc123.tmp"
    temp.write_bytes(b"half a snapshot")
    other = snapshot_dir(paths) / "notes.txt"
    other.write_text("mine")
    assert cut_back_snapshots(paths, 60) == [100, 150]
    assert [s.epoch for s in list_snapshots(paths)] == [0, 50]
    assert not temp.exists() and other.read_text() == "mine"


KILLER = textwrap.dedent("""
    import os, signal, sys
    import torch
    from grok_tui.trainer import train_grokking
    from tests.conftest import tiny_config

    real_save = torch.save

    def save_then_die(obj, handle, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 100 and "optimizer" not in obj:
            real_save(obj, handle, *args, **kwargs)
            handle.truncate(handle.tell() // 2)  # half of the snapshot reached the file, then kill -9
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, handle, *args, **kwargs)

    torch.save = save_then_die
    train_grokking(tiny_config(**{config}), root=sys.argv[1])
""")


def test_a_kill_during_a_snapshot_write_leaves_no_snapshot_that_loads(root: Path) -> None:
    script = KILLER.replace("{config}", repr(SNAP))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-c", script, str(root)], env=env, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-500:]
    paths = RunPaths.of("tiny", root)
    assert [s.epoch for s in list_snapshots(paths)] == [0, 50]  # no epoch_...100.pth at all
    temps = [p for p in snapshot_dir(paths).iterdir() if p.name.startswith(".")]
    assert len(temps) == 1 and temps[0].stat().st_size > 0  # the half-written temp file is there...
    with pytest.raises(CheckpointError, match="cannot be loaded as a grok-tui snapshot"):
        load_snapshot(temps[0], tiny_config())  # ...and does not load as a snapshot
    train_grokking(tiny_config(**SNAP), root=root)  # no checkpoint was written yet: trained again from 0
    assert [s.epoch for s in list_snapshots(paths)] == [0, 50, 100, 150, 200, 250]
    assert not [p for p in snapshot_dir(paths).iterdir() if p.name.startswith(".")]


def test_fresh_removes_the_snapshots_and_refuses_a_folder_in_their_place(root: Path) -> None:
    paths = train_grokking(tiny_config(**{**SNAP, "num_epochs": 100}), root=root).paths
    train_grokking(tiny_config(**{**SNAP, "num_epochs": 40, "snapshot_every": 0}), resume=False, root=root)
    assert not snapshot_dir(paths).exists()
    train_grokking(tiny_config(**{**SNAP, "num_epochs": 100}), resume=False, root=root)
    odd = snapshot_path(paths, 500)
    odd.mkdir()
    with pytest.raises(UnsafeTargetError, match="nothing was deleted"):
        train_grokking(tiny_config(**SNAP), resume=False, root=root)
    assert paths.checkpoint.exists() and [s.epoch for s in list_snapshots(paths)] == [0, 50, 100]


def test_a_file_in_place_of_the_snapshot_folder_is_refused_before_training(root: Path) -> None:
    paths = RunPaths.of("tiny", root)
    paths.model_dir.mkdir(parents=True)
    snapshot_dir(paths).write_text("not a folder")
    with pytest.raises(UnsafeTargetError, match="snapshot folder"):
        train_grokking(tiny_config(**SNAP), root=root)
    assert not paths.log.exists() and not paths.checkpoint.exists()


def test_hostile_snapshot_files_are_refused_in_one_line(root: Path) -> None:
    paths = train_grokking(tiny_config(**{**SNAP, "num_epochs": 50}), root=root).paths
    good = snapshot_path(paths, 50)
    with pytest.raises(CheckpointError, match="not the epoch of its name"):
        load_snapshot(snapshot_path(paths, 0).rename(snapshot_path(paths, 7)), tiny_config())
    with pytest.raises(CheckpointError, match="has shape"):
        load_snapshot(good, tiny_config(d_model=32, tag="other"))
    torch.save({"format": 1, "epoch": 50, "model": {"W_E": torch.zeros(3)}}, good)
    with pytest.raises(CheckpointError, match="model weights missing"):
        load_snapshot(good, tiny_config())
    good.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="cannot be loaded"):
        load_snapshot(good, tiny_config())
    snapshot_path(paths, 900).mkdir()  # a folder with a snapshot's name is not a snapshot
    assert [s.epoch for s in list_snapshots(paths)] == [7, 50]


def test_list_shows_how_many_snapshots_and_their_size(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from grok_tui.cli.main import main
    from grok_tui.run.snapshots import disk_usage, format_bytes

    paths = train_grokking(tiny_config(**{**SNAP, "num_epochs": 100}), root=root).paths
    train_grokking(tiny_config(tag="plain", num_epochs=10, threads=1), root=root)
    capsys.readouterr()
    assert main(["list", "--root", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "SNAPSHOTS"
    size = format_bytes(disk_usage(list_snapshots(paths)))
    assert lines[2].startswith("tiny") and lines[2].endswith(f"3 ({size})")
    assert lines[1].startswith("plain") and lines[1].endswith("-")
