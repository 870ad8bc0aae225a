"""Reliability, third pass, the medium findings of issue 23: each test here failed on the code before its fix.

- M1: a real full disk (a small tmpfs) during a checkpoint or snapshot write is one line naming the file,
  exit 1, the previous checkpoint intact; torch's own writer hid the disk error behind a RuntimeError.
- M3: sparse, meta and nested tensors in a checkpoint or snapshot are refused in one line, exit 2, before
  config.json or sessions.jsonl is touched.
- M5: expanding a saved sweep against its known members is linear in the members.
- M6: a huge (sparse) events.json is skipped by every reader, in bounded memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.run.checkpoint import load_checkpoint, save_checkpoint
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import save_snapshot, snapshot_path
from grok_tui.training.trainer import train_grokking

TAG = "t"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def train_stopped_at(root: Path, epoch: int, **overrides: Any) -> RunPaths:
    """A run of `overrides` stopped (checkpointed, no end figures) just past `epoch`."""
    stop = threading.Event()
    config = tiny_config(tag=TAG, **overrides)
    train_grokking(config, root=root, stop_event=stop,
                   on_log=lambda record: stop.set() if record["epoch"] >= epoch else None)
    paths = RunPaths.of(TAG, root)
    assert epoch <= load_checkpoint(paths.checkpoint)["epoch"] < epoch + 5
    return paths


# ---------------------------------------------------------------- M1: a real full disk


@contextlib.contextmanager
def small_tmpfs(size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` mounted on a temp folder (root only), unmounted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="grok-tui-tmpfs-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
                                 capture_output=True, text=True)
    except FileNotFoundError:
        folder.rmdir()
        pytest.skip("no mount command here: a real full disk needs a small tmpfs")
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()}): a real full disk "
                    "needs one (CI and the dev containers run as root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


def fill_disk(folder: Path, leave: int) -> None:
    """Take all the free space of `folder`'s filesystem but `leave` bytes."""
    info = os.statvfs(folder)
    free = info.f_bavail * info.f_frsize
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*.tmp")]


PAGE = 4096  # tmpfs counts whole pages


def test_torch_writes_onto_a_really_full_disk_raise_the_disk_error_naming_the_file(tmp_path: Path) -> None:
    """At every level of free space, from none to enough: saved, or an OSError(ENOSPC) naming the file, the
    old file kept, no temp file. torch.save's zip writer turned some of these levels (the disk filling while
    its end of file was written) into RuntimeError('[enforce fail at inline_container.cc] unexpected pos')."""
    made = train_stopped_at(tmp_path / "made", 10, num_epochs=20, log_every=5, snapshot_every=5)
    state = load_checkpoint(made.checkpoint)
    model = SimpleTransformer(tiny_config(tag=TAG))
    outcomes = []
    with small_tmpfs(1024) as mount:
        shutil.copytree(tmp_path / "made", mount / "root")
        paths = RunPaths.of(TAG, mount / "root")
        writes = {paths.checkpoint: lambda: save_checkpoint(paths.checkpoint, state),
                  snapshot_path(paths, 5): lambda: save_snapshot(paths, 5, model)}
        for path, write in writes.items():
            before = path.read_bytes()
            for leave in range(0, len(before) + 2 * PAGE, PAGE):
                fill_disk(mount, leave)
                try:
                    write()
                    outcomes.append("saved")
                    path.write_bytes(before)
                except OSError as err:
                    assert (err.errno, err.filename) == (errno.ENOSPC, str(path)), err
                    assert path.read_bytes() == before
                    outcomes.append("refused")
                finally:
                    (mount / "filler").unlink()
                assert temp_files(mount) == []
    assert "saved" in outcomes and "refused" in outcomes


@pytest.mark.parametrize("leave", [PAGE, 2 * PAGE, 3 * PAGE])
def test_train_onto_a_really_full_disk_is_one_line_naming_the_checkpoint(
        leave: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grok-tui train` on a full tmpfs: exit 1, one line naming the checkpoint, the previous one intact."""
    train_stopped_at(tmp_path / "made", 30, num_epochs=60, log_every=5, checkpoint_every=10)
    with small_tmpfs(1024) as mount:
        shutil.copytree(tmp_path / "made", mount / "root")
        paths = RunPaths.of(TAG, mount / "root")
        before = paths.checkpoint.read_bytes()
        log = paths.log.read_bytes()
        fill_disk(mount, leave + PAGE)  # a page for config.json's rewrite: the checkpoint is what fails
        status, lines = cli(capsys, "train", "--root", str(mount / "root"), "--tag", TAG)
        assert status == 1, lines
        assert len(lines) == 1 and lines[0].startswith("grok-tui: error: "), lines
        assert f"{paths.checkpoint}: {os.strerror(errno.ENOSPC)}" in lines[0], lines
        assert paths.checkpoint.read_bytes() == before
        assert paths.log.read_bytes().startswith(log)
        assert temp_files(mount) == []
