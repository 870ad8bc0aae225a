"""Run summaries for `list` and the runs screen, and the cache that keeps the screen's polling cheap."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.run import summary as runs
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import RunSummaryCache, list_runs


def _write_run(root: Path, tag: str, epochs: list[int]) -> RunPaths:
    paths = RunPaths.of(tag, root)
    tiny_config(tag=tag, num_epochs=100).save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in epochs:
            writer.write({"epoch": epoch, "train_loss": 1.0, "test_loss": 1.0, "train_acc": 1.0,
                          "test_acc": epoch / 100, "lr": 1e-3, "weight_norm": 1.0, "elapsed_s": 0.0})
    return paths


def test_cache_rereads_only_changed_runs(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_run(root, "a", [0, 10])
    changing = _write_run(root, "b", [0, 10])
    calls: list[str] = []
    real = runs.summarize
    monkeypatch.setattr(runs, "summarize", lambda paths: calls.append(paths.tag) or real(paths))
    cache = RunSummaryCache()
    first = cache.summaries(root)
    assert [s.tag for s in first] == ["a", "b"] and calls == ["a", "b"]
    assert [s.tag for s in cache.summaries(root)] == ["a", "b"] and calls == ["a", "b"]  # nothing changed
    with RunLogWriter(changing.log) as writer:
        writer.write({"epoch": 100, "train_loss": 1.0, "test_loss": 1.0, "train_acc": 1.0, "test_acc": 1.0,
                      "lr": 1e-3, "weight_norm": 1.0, "elapsed_s": 0.0})
    summaries = cache.summaries(root)
    assert calls == ["a", "b", "b"]
    assert summaries[1].status == "finished" and summaries[1].grokked_epoch == 100 and summaries[1].epoch_text == "100/100"
    assert [(s.tag, s.status, s.best_test_acc) for s in summaries] == \
        [(s.tag, s.status, s.best_test_acc) for s in list_runs(root)]


def test_cache_notices_a_trainer_that_died(root: Path) -> None:
    paths = _write_run(root, "a", [0, 10])
    # A real holder: the lock is the kernel's (flock), so a file naming a live PID alone locks nothing.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from grok_tui.run.lock import RunLock; from grok_tui.run.paths import RunPaths; "
                               "RunLock(RunPaths.of('a', sys.argv[1])).acquire(); print('held', flush=True); "
                               "time.sleep(60)", str(root)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    cache = RunSummaryCache()
    try:
        assert cache.summaries(root)[0].status == "running"
    finally:
        holder.kill()
        holder.wait()
    assert cache.summaries(root)[0].status == "stopped"  # same files, but the lock's process is gone


# The run lock's own tests (the race, kill -9, hostile contents, a full disk) are in test_reliability_lock.py.
