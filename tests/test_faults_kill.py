"""Fault injection: `kill -9` of a headless `grok-tui train` at random moments, 20 times in a row.

The run uses the tiny model with log_every=1 and checkpoint_every=1, so that most of each epoch is spent
writing the log line and the checkpoint (flush, fsync, torch.save, rename, fsync of the folder) and a
random kill often lands in the middle of one of those writes. The kill moments come from a fixed
random.Random seed, so the sequence is reproducible up to the machine's speed. Each kill waits until
the process is seen training (a new epoch in the log), so kills never land in interpreter start-up.

After every kill: the checkpoint loads; the log's complete lines are all records, with epochs exactly
0, 1, ..., L (strictly increasing, no duplicates, nothing skipped); a half-written last line is never
returned as a record; the checkpoint is at most checkpoint_every epochs behind the log (the work lost
by the kill); the temp files of interrupted checkpoint writes do not pile up; and the next `grok-tui
train` resumes (it takes over the dead process's lock, cuts the log back to the checkpoint and trains
on). While killing, the run's schedule is longer than any cycle can reach (num_epochs 1,000,000); after
the last kill it is resumed with `--num-epochs M` (M = 20 epochs past its checkpoint, a schedule change
that a resume allows) and runs to the end untouched. It must then equal an uninterrupted run of the
same config (num_epochs M) trained in-process: every parameter and optimizer tensor torch.equal, every
logged value except elapsed_s equal.

Each trainer is a real `python -m grok_tui.cli train` process. Cost: a start pays ~2 s of CPU for
`import torch`, so a cycle (start, resume, train, kill, check) takes ~3.5 s and the module ~85 s on a
2-core machine with one core busy elsewhere. (Starting the next process while the current one trains,
to overlap its imports, measured no faster there: the cycle is CPU-bound.) `pytest -s` prints what the
kills hit and how long they took.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from grok_tui.core.atomic import leftover_temps
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.core.config import Config
from grok_tui.run.log import RunLogReader, last_record, parse_record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking

KILLS = 20
SEED = 20240606  # the kill moments: fixed, so the test is reproducible
MAX_DELAY_S = 0.15  # a kill lands uniformly within this long after the process is seen training
NUM_EPOCHS = 1_000_000  # while killing: no cycle can reach the end, however fast the machine
TAIL_EPOCHS = 20  # the last, untouched start trains this far past the last kill's checkpoint
CHECKPOINT_EVERY = 1
TAG = "killed"
TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--device", "cpu"]
FLAGS = [*TINY, "--num-epochs", str(NUM_EPOCHS), "--log-every", "1", "--checkpoint-every", str(CHECKPOINT_EVERY)]
# The machine's default thread count, as a user gets it: results do not depend on it
# (tests/test_reproducible.py), so the killed subprocesses and the in-process reference must agree as they are.
ENV = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
ENV["PYTHONUNBUFFERED"] = "1"
START_TIMEOUT_S = 90.0  # generous: a loaded 2-core machine


def start(root: Path, *flags: str) -> subprocess.Popen[bytes]:
    """`grok-tui train --root ROOT --tag killed FLAGS` as a process of its own."""
    return subprocess.Popen([sys.executable, "-m", "grok_tui.cli", "train", "--root", str(root), "--tag", TAG,
                             *flags], cwd=root, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes appended here are killed at teardown if a failed test left them running."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_for_epoch(proc: subprocess.Popen[bytes], log: Path, epoch: int) -> None:
    """Poll until the log holds a complete record for `epoch` or later: this process is training."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        last = last_record(log)
        if last is not None and last["epoch"] >= epoch:
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"trainer exited with {proc.returncode} before epoch {epoch}:\n{err.decode()}")
        time.sleep(0.01)
    pytest.fail(f"no epoch {epoch} in {log} after {START_TIMEOUT_S} s")


@dataclass
class KillStats:
    """What the kills hit, for the failure messages and the report (pytest -s prints it)."""

    kills: int = 0
    lost_epochs: list[int] = field(default_factory=list)  # logged epochs the checkpoint did not cover
    partial_last_line: int = 0  # kills that left a half-written log line
    between_log_and_checkpoint: int = 0  # the log line of an epoch written, its checkpoint not yet renamed
    checkpoint_temps: list[int] = field(default_factory=list)  # .checkpoint.pth.*.tmp after each kill: 1 = the
    # kill landed inside a checkpoint write (torch.save, fsync or rename)
    other_temps: int = 0  # temp files of config.json or of the log's cut-back, after the last kill


def check_after_kill(paths: RunPaths, config: Config, previous_checkpoint: int, stats: KillStats) -> int:
    """Every invariant a kill must leave intact; returns the checkpoint's epoch."""
    data = paths.log.read_bytes()
    *complete, tail = data.split(b"\n")
    # Every newline-terminated line is a whole record: a half line is only ever the unterminated tail.
    parsed = [parse_record(line) for line in complete]
    assert all(record is not None for record in parsed), [line for line, r in zip(complete, parsed, strict=True) if r is None]
    reader = RunLogReader(paths.log)
    records = reader.read_all()
    assert reader.skipped == 0, f"{reader.skipped} garbage lines in the log"
    epochs = [r["epoch"] for r in records]
    assert epochs == list(range(len(epochs))), f"epochs not 0..L strictly increasing: {epochs}"
    assert len(records) == len(complete)  # the unterminated tail (if any) is not returned as a record
    if tail:
        stats.partial_last_line += 1

    checkpoint = load_checkpoint(paths.checkpoint)  # raises CheckpointError if it does not load
    ckpt_epoch = int(checkpoint["epoch"])
    assert checkpoint["config"] == config.to_dict()
    assert ckpt_epoch >= previous_checkpoint, "the checkpoint went backwards"
    last_logged = epochs[-1]
    lost = last_logged - ckpt_epoch
    assert 0 <= lost <= config.checkpoint_every, (
        f"checkpoint at epoch {ckpt_epoch}, log at {last_logged}: {lost} epochs lost (at most "
        f"{config.checkpoint_every} allowed), or the checkpoint is ahead of its log lines")
    stats.lost_epochs.append(lost)
    stats.between_log_and_checkpoint += lost > 0
    # A temp file means this kill cut a checkpoint write short (between the log line of an epoch and the
    # rename of its checkpoint). The previous kill's one is gone: that kill left the log one epoch past
    # the checkpoint, and the epoch this process was waited for came after its first checkpoint, whose
    # save removes leftovers. So at most one, and only with an epoch lost.
    temps = len(leftover_temps(paths.checkpoint))
    assert temps <= 1, f"{temps} temp files of interrupted checkpoint writes pile up in {paths.model_dir}"
    assert temps <= lost
    stats.checkpoint_temps.append(temps)
    stats.other_temps = len(leftover_temps(paths.log)) + len(leftover_temps(paths.config))
    return ckpt_epoch


def test_kill_9_twenty_times_then_the_run_equals_an_uninterrupted_one(
    tmp_path: Path, reap: list[subprocess.Popen[bytes]]
) -> None:
    config = Config(tag=TAG, p=11, d_model=16, num_heads=2, frac_train=0.5, device="cpu", num_epochs=NUM_EPOCHS,
                    log_every=1, checkpoint_every=CHECKPOINT_EVERY)
    root = tmp_path / "killed"
    root.mkdir()
    paths = RunPaths.of(TAG, root)
    rng = random.Random(SEED)
    stats = KillStats()
    began = time.monotonic()
    checkpoint_epoch = 0
    for kill in range(KILLS):
        last = last_record(paths.log)
        # First start: wait for epoch 2, so that epoch 1's checkpoint is on disk. Later: one epoch more than
        # the log held, i.e. this process resumed (took over the lock, cut the log back) and is training.
        target = 2 if last is None else last["epoch"] + 1
        proc = start(root, *FLAGS) if kill == 0 else start(root)  # a resume keeps the run's own config
        reap.append(proc)
        wait_for_epoch(proc, paths.log, target)
        time.sleep(rng.uniform(0.0, MAX_DELAY_S))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, (
            f"kill {kill}: the trainer had already exited with {proc.returncode}\n{err.decode()}")
        stats.kills += 1
        assert paths.lock.exists()  # the dead process's lock stays behind; the next start must take it over
        checkpoint_epoch = check_after_kill(paths, config, checkpoint_epoch, stats)
    killing_s = time.monotonic() - began

    # The last start runs to the end, untouched.
    end = checkpoint_epoch + TAIL_EPOCHS
    final = start(root, "--num-epochs", str(end))
    reap.append(final)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    assert not paths.lock.exists()
    killed_log = read_log(paths.log)
    assert [r["epoch"] for r in killed_log] == list(range(end + 1))
    killed_state = load_checkpoint(paths.checkpoint)
    assert killed_state["epoch"] == end
    assert leftover_temps(paths.checkpoint) == []  # every interrupted write's temp file was cleaned up
    print(f"\n{stats}\nkill cycles: {killing_s:.1f} s, {killing_s / KILLS:.2f} s per start and kill; "
          f"checkpoint at epoch {checkpoint_epoch} after the last kill")

    # The same config, trained in one go in this process, at this process's thread count.
    reference = RunPaths.of(TAG, tmp_path / "whole")
    whole = train_grokking(dataclasses.replace(config, num_epochs=end), root=reference.root)
    whole_state = load_checkpoint(reference.checkpoint)

    model = whole.model.state_dict()
    assert list(killed_state["model"]) == list(model)
    for name, tensor in model.items():
        assert torch.equal(killed_state["model"][name], tensor), f"parameter {name} differs"
    killed_moments = list(killed_state["optimizer"]["state"].values())
    whole_moments = list(whole_state["optimizer"]["state"].values())
    assert len(killed_moments) == len(whole_moments) == len(model)
    for a, b in zip(killed_moments, whole_moments, strict=True):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(a[key], b[key]), f"optimizer {key} differs"

    def without_time(records: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]

    whole_log = read_log(reference.log)
    assert len(killed_log) == len(whole_log) == end + 1
    for killed_record, whole_record in zip(without_time(killed_log), without_time(whole_log), strict=True):
        assert killed_record == whole_record, f"epoch {whole_record['epoch']} differs"


def test_a_checkpoint_save_removes_the_temp_files_of_killed_saves_only(tmp_path: Path) -> None:
    """What a kill during torch.save leaves (.checkpoint.pth.<random>.tmp) goes at the next save; nothing
    else in the folder is touched. (The random kills above hit this only by chance.)"""
    from grok_tui.run.checkpoint import save_checkpoint

    folder = tmp_path / "models" / TAG
    folder.mkdir(parents=True)
    leftovers = [folder / ".checkpoint.pth.k3j9x2ab.tmp", folder / ".checkpoint.pth.zz_01234.tmp"]
    others = [folder / ".config.json.k3j9x2ab.tmp", folder / "checkpoint.pth.bak", folder / ".checkpoint.pth.tmp.keep",
              folder / "notes.tmp"]
    for path in leftovers + others:
        path.write_bytes(b"half a checkpoint")
    assert leftover_temps(folder / "checkpoint.pth") == sorted(leftovers)
    state = {"epoch": 3, "config": {}, "model": {"w": torch.ones(2)}, "optimizer": {}, "scheduler": {}, "rng": {}}
    save_checkpoint(folder / "checkpoint.pth", state)
    assert leftover_temps(folder / "checkpoint.pth") == []
    assert all(path.read_bytes() == b"half a checkpoint" for path in others)
    assert load_checkpoint(folder / "checkpoint.pth")["epoch"] == 3
