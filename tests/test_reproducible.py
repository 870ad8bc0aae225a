"""Reproducible runs: the same config and seed give the same run, bit for bit, at any thread count.

What was not: the backward of advanced indexing (`table[a]`, index_put_ with accumulate) adds rows in an
order that depends on thread timing on the CPU, so with two torch threads two processes of one seed
drifted apart from the first step (the quick run grokked anywhere between epoch 1,160 and 1,630). The
engine and the reference model now gather with index_select / F.embedding, whose backward adds rows in
index order. These tests use configs big enough for torch's parallel kernels (the tiny test model's
tensors are below torch's grain size, so it never ran two threads at all).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.core.config import preset
from grok_tui.experiment.data import make_dataset
from grok_tui.experiment.engine import last_position_logits
from grok_tui.run.sessions import default_threads, read_sessions
from grok_tui.experiment.model import SimpleTransformer, cross_entropy_float64
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.experiment.evaluation import reference_logits
from grok_tui.experiment.optimizers import seed_everything
from grok_tui.training.trainer import train_grokking

QUICK = ["--preset", "quick", "--device", "cpu", "--log-every", "5"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # the machine's default thread count, as a user gets
    ENV.pop(name, None)
TIMEOUT = 300  # a loaded 2-core machine: two-thread processes beside a busy core slow down a lot
MULTI = max(2, default_threads())  # at least two threads, even on a one-core machine


def gradients(logits_fn: Any, config_name: str, threads: int, repeats: int) -> list[dict[str, torch.Tensor]]:
    """The first step's gradients of every parameter, computed `repeats` times at `threads` threads."""
    config = preset(config_name)
    seed_everything(0)
    data = make_dataset(config)
    model = SimpleTransformer(config)
    a, b = data.train_tokens[:, 0].contiguous(), data.train_tokens[:, 1].contiguous()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = []
        for _ in range(repeats):
            model.zero_grad(set_to_none=True)
            cross_entropy_float64(logits_fn(model, a, b), data.train_labels).backward()
            out.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
        return out
    finally:
        torch.set_num_threads(before)


def assert_all_equal(runs: list[dict[str, torch.Tensor]]) -> None:
    first = runs[0]
    assert len(first) == 11
    for i, other in enumerate(runs[1:], 1):
        for name, grad in first.items():
            assert torch.equal(grad, other[name]), f"repeat {i}: the gradient of {name} differs"


@pytest.mark.parametrize("logits_fn", [last_position_logits, reference_logits], ids=["fast", "reference"])
def test_gradients_are_bitwise_the_same_on_every_repeat_with_two_threads(logits_fn: Any) -> None:
    assert_all_equal(gradients(logits_fn, "quick", MULTI, repeats=8))


def test_gradients_do_not_depend_on_the_thread_count() -> None:
    runs = [gradients(last_position_logits, "quick", threads, repeats=1)[0] for threads in (1, 2, 3, 4)]
    assert_all_equal(runs)


@pytest.mark.slow
def test_paper_gradients_are_the_same_at_one_and_two_threads() -> None:
    assert_all_equal([gradients(last_position_logits, "paper", threads, repeats=2)[i]
                      for threads in (1, MULTI) for i in range(2)])


# ---------------------------------------------------------------- whole runs, in separate processes


def train(root: Path, *flags: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "grok_tui.cli", "train", "--root", str(root), "--tag", "q",
                             *QUICK, *flags], cwd=root, env=ENV, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err.decode(errors="replace")


def without_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


def assert_same_run(a: Path, b: Path) -> None:
    """Every logged value but elapsed_s, the events, and every checkpoint tensor, bitwise."""
    pa, pb = RunPaths.of("q", a), RunPaths.of("q", b)
    log_a, log_b = read_log(pa.log), read_log(pb.log)
    assert len(log_a) > 10
    assert without_time(log_a) == without_time(log_b)
    assert json.loads(pa.events.read_text()) == json.loads(pb.events.read_text())
    ca, cb = load_checkpoint(pa.checkpoint), load_checkpoint(pb.checkpoint)
    assert ca["epoch"] == cb["epoch"]
    for name, tensor in ca["model"].items():
        assert torch.equal(tensor, cb["model"][name]), f"parameter {name} differs"
    for state_a, state_b in zip(ca["optimizer"]["state"].values(), cb["optimizer"]["state"].values(), strict=True):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state_a[key], state_b[key]), f"optimizer {key} differs"
    assert ca["rng"]["torch"].equal(cb["rng"]["torch"])


def burn_a_core(seconds: float) -> subprocess.Popen[bytes]:
    """A process that keeps one core busy (and so makes the trainers' threads wait for it)."""
    return subprocess.Popen([sys.executable, "-c", f"import time\nend = time.time() + {seconds}\n"
                             "while time.time() < end: pass"], stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("loaded", [False, True], ids=["side-by-side", "beside-a-busy-core"])
def test_two_processes_at_the_default_thread_count_train_the_same_run(tmp_path: Path, loaded: bool) -> None:
    """Two `grok-tui train` of one config at once (so each loads the other), optionally with a third
    process burning a core: equal logs, events and checkpoints. At torch's default count, at least two
    threads, pinned: `--threads 0` would take only the cores free at the start (one, on a loaded machine)."""
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        root.mkdir()
    burner = burn_a_core(TIMEOUT) if loaded else None
    try:
        runs = [train(root, "--num-epochs", "60", "--threads", str(MULTI)) for root in roots]
        for run in runs:
            finish(run)
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    assert_same_run(*roots)
    sessions = read_sessions(RunPaths.of("q", roots[0]).sessions)
    assert [s["threads"] for s in sessions] == [MULTI]
    assert sessions[0]["deterministic"] is True


def test_one_and_two_threads_train_the_same_run(tmp_path: Path) -> None:
    roots = [tmp_path / "one", tmp_path / "two"]
    for root in roots:
        root.mkdir()
    runs = [train(roots[0], "--num-epochs", "60", "--threads", "1"),
            train(roots[1], "--num-epochs", "60", "--threads", str(MULTI))]
    for run in runs:
        finish(run)
    assert_same_run(*roots)
    assert [s["threads"] for s in read_sessions(RunPaths.of("q", roots[1]).sessions)] == [MULTI]


@pytest.mark.slow
def test_resume_at_the_default_thread_count_is_exact(tmp_path: Path) -> None:
    """The quick config, 2,000 epochs in one go equal 1,000 + resume + 1,000, at the default thread
    count (at least two threads), in this process; the resume changes the thread count on the way."""
    threads = MULTI
    config = preset("quick", tag="q", num_epochs=2000, log_every=50, measure_every=250, checkpoint_every=500,
                    device="cpu", threads=threads)
    whole = train_grokking(config, root=tmp_path / "whole")
    train_grokking(dataclasses.replace(config, num_epochs=1000), root=tmp_path / "split")
    split = train_grokking(dataclasses.replace(config, threads=1), root=tmp_path / "split")
    assert split.epoch == whole.epoch == 2000
    assert_same_run(tmp_path / "whole", tmp_path / "split")
    sessions = read_sessions(RunPaths.of("q", tmp_path / "split").sessions)
    assert [(s["start_epoch"], s["threads"]) for s in sessions] == [(0, threads), (1000, 1)]


def test_training_restores_the_callers_thread_count(tmp_path: Path) -> None:
    from conftest import tiny_config

    before = torch.get_num_threads()
    seen: list[int] = []
    train_grokking(tiny_config(num_epochs=20, threads=1), root=tmp_path,
                   on_log=lambda record: seen.append(torch.get_num_threads()))
    assert set(seen) == {1}  # the trainer trained on one thread ...
    assert torch.get_num_threads() == before  # ... and gave the caller its own count back


def test_sessions_record_every_start_and_resume(tmp_path: Path) -> None:
    from conftest import tiny_config

    sessions_seen = []
    train_grokking(tiny_config(num_epochs=20), root=tmp_path, on_session=sessions_seen.append)
    time.sleep(0.01)
    train_grokking(tiny_config(num_epochs=40, threads=1), root=tmp_path, on_session=sessions_seen.append)
    sessions = read_sessions(RunPaths.of("tiny", tmp_path).sessions)
    assert [s["start_epoch"] for s in sessions] == [0, 20]
    assert [s.record for s in sessions_seen] == sessions
    for key in ("time", "host", "device", "device_name", "threads", "cpu_capability", "deterministic", "torch",
                "numpy", "python", "grok_tui"):
        assert key in sessions[0], key
    assert sessions[0]["device"] == "cpu" and sessions[0]["torch"] == torch.__version__
    assert all(s.changes == [] for s in sessions_seen)  # same machine, same versions


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here): deterministic mode on CUDA")
def test_two_cuda_runs_are_bitwise_equal(tmp_path: Path) -> None:
    config = preset("quick", tag="q", num_epochs=100, device="cuda")
    for name in ("a", "b"):
        train_grokking(config, root=tmp_path / name)
    assert torch.are_deterministic_algorithms_enabled()
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert read_sessions(RunPaths.of("q", tmp_path / "a").sessions)[0]["deterministic"] is True
