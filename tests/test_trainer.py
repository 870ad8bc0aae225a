"""train_grokking: logging cadence, checkpoints, exact resume, cut-back, refusals, stop, lock, divergence."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.core.config import ConfigError
from grok_tui.run.log import CORE_KEYS, encode_record, read_log
from grok_tui.core.errors import RunLockedError
from grok_tui.run.paths import RunPaths
from grok_tui.core.errors import TrainingError
from grok_tui.training.trainer import train_grokking


def _without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


@pytest.mark.figures
def test_log_cadence_keys_and_files(root: Path) -> None:
    config = tiny_config(num_epochs=95, log_every=10, checkpoint_every=40)
    seen: list[dict] = []
    result = train_grokking(config, on_log=seen.append, root=root)
    paths = RunPaths.of("tiny", root)
    records = read_log(paths.log)
    assert [r["epoch"] for r in records] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    assert seen == records  # on_log gets exactly what was written
    for record in records:
        assert set(CORE_KEYS) <= set(record)
        assert all(isinstance(record[k], (int, float)) for k in CORE_KEYS)
    assert records[0]["lr"] == 0.0  # warmup: the first step uses lr * min(0/10, 1), as in the paper's code
    assert records[-1]["lr"] == pytest.approx(config.lr)
    assert result.status == "finished" and result.epoch == 95
    assert load_checkpoint(paths.checkpoint)["epoch"] == 95
    assert json.loads(paths.config.read_text())["num_epochs"] == 95
    assert paths.curves_png.stat().st_size > 10_000  # the automatic PNG at completion
    assert not paths.lock.exists()


def test_resume_is_exact(root: Path) -> None:
    """2,000 epochs in one go equal 1,000 + resume + 1,000: parameters and every logged value."""
    whole = train_grokking(tiny_config(tag="whole", num_epochs=2000, log_every=50, checkpoint_every=500),
                           root=root)
    first = train_grokking(tiny_config(tag="split", num_epochs=1000, log_every=50, checkpoint_every=500),
                           root=root)
    assert first.epoch == 1000
    second = train_grokking(tiny_config(tag="split", num_epochs=2000, log_every=50, checkpoint_every=500),
                            root=root)
    assert second.epoch == 2000
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), name
    whole_log = read_log(RunPaths.of("whole", root).log)
    split_log = read_log(RunPaths.of("split", root).log)
    assert _without_time(whole_log) == _without_time(split_log)
    assert len(split_log) == 2000 // 50 + 1


def test_resume_cuts_log_back_to_checkpoint(root: Path) -> None:
    """Lines written after the last checkpoint (a crash) are redone once, never duplicated."""
    paths = RunPaths.of("tiny", root)
    train_grokking(tiny_config(num_epochs=100, checkpoint_every=50), root=root)
    reference = read_log(paths.log)
    # Pretend the process died at epoch 130 after the checkpoint at 100: stale lines and a half line.
    with open(paths.log, "a") as handle:
        for epoch in (110, 120, 130):
            handle.write(encode_record({**reference[-1], "epoch": epoch, "train_loss": 123.0}))
        handle.write('{"epoch": 140, "train_lo')
    train_grokking(tiny_config(num_epochs=150, checkpoint_every=50), root=root)
    epochs = [r["epoch"] for r in read_log(paths.log)]
    assert epochs == list(range(0, 151, 10))
    assert all(r["train_loss"] != 123.0 for r in read_log(paths.log))
    assert not paths.log.read_text().endswith("train_lo")


def test_stop_event_saves_checkpoint_and_log_line(root: Path) -> None:
    stop = threading.Event()
    config = tiny_config(num_epochs=10_000, log_every=1000, checkpoint_every=1000)

    def stop_at_37(record: dict) -> None:
        stop.set()  # set during epoch 0's log call: the run stops after the next epoch

    result = train_grokking(config, stop_event=stop, on_log=stop_at_37, root=root)
    paths = RunPaths.of("tiny", root)
    assert result.status == "stopped" and result.epoch == 1
    assert [r["epoch"] for r in read_log(paths.log)] == [0, 1]
    assert load_checkpoint(paths.checkpoint)["epoch"] == 1
    assert not paths.curves_png.exists()  # the PNG is written when a run completes
    # And it continues from there.
    result = train_grokking(tiny_config(num_epochs=30, log_every=10), root=root)
    assert [r["epoch"] for r in read_log(paths.log)] == [0, 1, 10, 20, 30]


def test_changed_experiment_is_refused_and_nothing_is_touched(root: Path) -> None:
    train_grokking(tiny_config(num_epochs=20), root=root)
    paths = RunPaths.of("tiny", root)
    before = (paths.log.read_bytes(), paths.checkpoint.read_bytes(), paths.config.read_bytes())
    with pytest.raises(ConfigError) as err:
        train_grokking(tiny_config(num_epochs=40, p=13, lr=2e-3), root=root)
    message = str(err.value)
    assert "p (11 -> 13)" in message and "lr" in message and "--fresh" in message
    assert (paths.log.read_bytes(), paths.checkpoint.read_bytes(), paths.config.read_bytes()) == before


def test_more_epochs_and_other_cadence_may_change_on_resume(root: Path) -> None:
    train_grokking(tiny_config(num_epochs=20, log_every=10), root=root)
    train_grokking(tiny_config(num_epochs=30, log_every=5, checkpoint_every=7, device="cpu"), root=root)
    epochs = [r["epoch"] for r in read_log(RunPaths.of("tiny", root).log)]
    assert epochs == [0, 10, 20, 25, 30]


def test_fewer_epochs_than_the_checkpoint_is_refused(root: Path) -> None:
    train_grokking(tiny_config(num_epochs=20), root=root)
    with pytest.raises(ConfigError, match="num_epochs: must be at least the checkpoint's epoch 20"):
        train_grokking(tiny_config(num_epochs=10), root=root)


def test_finished_run_resumed_again_changes_nothing(root: Path) -> None:
    train_grokking(tiny_config(num_epochs=20), root=root)
    paths = RunPaths.of("tiny", root)
    before = paths.log.read_bytes()
    result = train_grokking(tiny_config(num_epochs=20), root=root)
    assert result.epoch == 20 and result.status == "finished"
    assert paths.log.read_bytes() == before


def test_fresh_replaces_the_run(root: Path) -> None:
    train_grokking(tiny_config(num_epochs=40), root=root)
    result = train_grokking(tiny_config(num_epochs=20, p=13), resume=False, root=root)
    paths = RunPaths.of("tiny", root)
    assert result.epoch == 20
    assert [r["epoch"] for r in read_log(paths.log)] == [0, 10, 20]
    assert load_checkpoint(paths.checkpoint)["config"]["p"] == 13


def test_second_trainer_on_same_tag_is_refused_with_pid(root: Path) -> None:
    paths = RunPaths.of("tiny", root)
    paths.log_dir.mkdir(parents=True)
    # A real holder: the lock is the kernel's (flock), so a file naming a live PID alone locks nothing.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from grok_tui.run.lock import RunLock; from grok_tui.run.paths import RunPaths; "
                               "RunLock(RunPaths.of('tiny', sys.argv[1])).acquire(); print('held', flush=True); "
                               "time.sleep(60)", str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RunLockedError, match=f"PID {holder.pid}"):
            train_grokking(tiny_config(num_epochs=5), root=root)
        assert not paths.log.exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder is dead now: its lock is stale and is taken over.
    result = train_grokking(tiny_config(num_epochs=5), root=root)
    assert result.epoch == 5 and not paths.lock.exists()


def test_divergence_stops_with_message_and_keeps_last_checkpoint(root: Path) -> None:
    train_grokking(tiny_config(num_epochs=20, checkpoint_every=10), root=root)
    paths = RunPaths.of("tiny", root)
    checkpoint_before = paths.checkpoint.read_bytes()
    # Poison the optimizer state so the next steps produce non-finite weights.
    state = torch.load(paths.checkpoint, weights_only=True)
    for slot in state["optimizer"]["state"].values():
        slot["exp_avg"].fill_(float("inf"))
    torch.save(state, paths.checkpoint)
    checkpoint_before = paths.checkpoint.read_bytes()
    with pytest.raises(TrainingError, match="not finite"):
        train_grokking(tiny_config(num_epochs=60, checkpoint_every=10), root=root)
    assert paths.checkpoint.read_bytes() == checkpoint_before
    assert all(math.isfinite(r["train_loss"]) for r in read_log(paths.log))


def test_missing_cuda_is_a_config_error(root: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error path is for machines without it")
    with pytest.raises(ConfigError, match="device: cuda"):
        train_grokking(tiny_config(device="cuda"), root=root)
    assert not (root / "logs").exists()


def test_invalid_config_writes_nothing(root: Path) -> None:
    with pytest.raises(ConfigError, match="p: must be a prime"):
        train_grokking(tiny_config(p=12), root=root)
    assert not (root / "logs").exists() and not (root / "models").exists()


def test_headless_modules_do_not_import_textual() -> None:
    code = (
        "import sys; import grok_tui.cli, grok_tui.trainer, grok_tui.plotting, grok_tui.analysis, grok_tui.core, grok_tui.experiment, grok_tui.run, grok_tui.run.summary, grok_tui.measures.offline, grok_tui.figures.comparison, grok_tui.training, grok_tui.sweeps.local_executor, grok_tui.sweeps.figure, grok_tui.cli.progress;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext', 'plotext')"
        " or m == 'matplotlib.pyplot'];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert done.returncode == 0, done.stdout + done.stderr
