"""Signals to `grok-tui train` at any moment, and time stopped by Ctrl-Z (issue 16, item 10).

- A stop signal gives its own exit status whenever it arrives: 143 (SIGTERM), 129 (SIGHUP), 130 (SIGINT),
  also during the figures written after the last epoch (forced slow here), and for a second signal.
- elapsed_s counts training time: the time the process was stopped (SIGTSTP or SIGSTOP, then SIGCONT) is
  left out (grok_tui/run/stopclock.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--device", "cpu",
        "--measure-every", "0", "--threads", "1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
EXPORT_S = 4.0

# `grok-tui train` whose end-of-run figures take EXPORT_S seconds, announced by a marker file.
SLOW_EXPORT = f"""
import pathlib, sys, time
from grok_tui.figures import curves as plotting
marker, real = pathlib.Path(sys.argv[1]), plotting.export_run
def slow_export(tag, root=None, log_x=False):
    marker.write_text("exporting")
    time.sleep({EXPORT_S})
    return real(tag, root=root, log_x=log_x)
plotting.export_run = slow_export
from grok_tui.cli import main
sys.exit(main(sys.argv[2:]))
"""


def wait_until(condition, proc: subprocess.Popen[str], timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited early with {proc.returncode}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out")
        time.sleep(0.05)


@pytest.mark.parametrize("signum, count, status", [(signal.SIGTERM, 1, 143), (signal.SIGHUP, 1, 129),
                                                    (signal.SIGTERM, 2, 143)], ids=["TERM", "HUP", "TERM-twice"])
def test_a_signal_during_the_end_of_run_figures_exits_with_its_own_status(tmp_path: Path, signum: int, count: int,
                                                                          status: int) -> None:
    marker = tmp_path / "exporting"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_EXPORT, str(marker), "train", "--root", str(tmp_path),
                             "--tag", "sig", *TINY, "--num-epochs", "20", "--log-every", "10"],
                            env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until(marker.exists, proc)
        for _ in range(count):
            proc.send_signal(signum)
            time.sleep(0.3)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, (out, err)
    assert "Traceback" not in err, err
    log = [json.loads(line) for line in (tmp_path / "logs/sig/training_log.jsonl").read_text().splitlines()]
    assert log[-1]["epoch"] == 20  # the run itself had finished
    assert not (tmp_path / "logs/sig/train.lock").exists()


@pytest.mark.parametrize("stop_signal", [signal.SIGTSTP, signal.SIGSTOP], ids=["TSTP", "STOP"])
def test_elapsed_s_leaves_out_the_time_the_process_was_stopped(tmp_path: Path, stop_signal: int) -> None:
    log = tmp_path / "logs/z/training_log.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "grok_tui.cli", "train", "--root", str(tmp_path), "--tag", "z",
                             *TINY, "--num-epochs", "1000000", "--log-every", "20", "--checkpoint-every", "100000"],
                            env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, process_group=0)
    # A process group of its own, with its parent (pytest) in another group of the same session, as a shell
    # job is: the kernel discards SIGTSTP sent to an orphaned process group, which pytest's own group may be
    # when CI runs it without a terminal.
    stopped_s = 4.0
    try:
        wait_until(lambda: log.exists() and log.read_bytes().count(b"\n") >= 3, proc)
        os.kill(proc.pid, stop_signal)
        time.sleep(stopped_s)
        lines_while_stopped = log.read_bytes().count(b"\n")
        time.sleep(0.5)
        assert log.read_bytes().count(b"\n") == lines_while_stopped  # it really was stopped
        wall_before = time.monotonic()
        os.kill(proc.pid, signal.SIGCONT)
        wait_until(lambda: log.read_bytes().count(b"\n") >= lines_while_stopped + 3, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, (out, err)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    gaps = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(records, records[1:])]
    # The stop fell between two log lines; their elapsed_s differ by the training time only. The other
    # lines show what a 20-epoch step costs here (loaded machine: allow ample room, far below the stop).
    assert max(gaps) < stopped_s - 1.5, gaps
    assert time.monotonic() - wall_before < 60
