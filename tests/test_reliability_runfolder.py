"""A run folder deleted under a live trainer (issue 23, M4): the lock file went with it, so readers saw no
trainer and a second trainer could lock a new file. The trainer now checks every epoch that the lock file is
still the one it holds, and stops with a one-line error before writing anything more."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grok_tui.core.errors import TrainingError
from grok_tui.run.lock import RunLock, lock_owner
from grok_tui.run.paths import RunPaths

WAIT_S = 120


def test_verify_raises_once_the_lock_file_is_removed_or_replaced(tmp_path: Path) -> None:
    paths = RunPaths.of("t", tmp_path)
    with RunLock(paths) as lock:
        lock.verify()  # ours: nothing to say
        paths.lock.unlink()
        with pytest.raises(TrainingError, match="lock file was removed or replaced"):
            lock.verify()
        paths.lock.write_text("someone else's\n")  # a new file at the path: not ours either
        with pytest.raises(TrainingError):
            lock.verify()
    assert paths.lock.read_text() == "someone else's\n"  # release never removes a file it does not hold


def test_a_trainer_whose_run_folder_is_deleted_stops_with_one_line(tmp_path: Path) -> None:
    paths = RunPaths.of("gone", tmp_path)
    trainer = subprocess.Popen(
        [sys.executable, "-m", "grok_tui.cli", "train", "--tag", "gone", "--root", str(tmp_path), "--p", "11",
         "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--num-epochs", "10000000", "--log-every",
         "10", "--checkpoint-every", "50", "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + WAIT_S
        while not (lock_owner(paths) is not None and paths.log.exists()):
            assert trainer.poll() is None and time.monotonic() < deadline, "the trainer never started"
            time.sleep(0.1)
        shutil.rmtree(paths.log_dir)  # the lock file goes with it
        _, err = trainer.communicate(timeout=WAIT_S)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.communicate()
    assert trainer.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("grok-tui: error: ") and "lock file was removed or replaced" in last, err
    assert not paths.lock.exists()  # the trainer did not take a new lock for itself
