"""`grok-tui sweep` on a terminal shows the sweep view while its members train (tmux, 80x24): the members
appear and finish in the table; q leaves with exit 0; SIGTERM stops every member with a checkpoint (143)."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.lock import lock_owner

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")

TINY = "--p 11 --d-model 16 --num-heads 2 --frac-train 0.5 --log-every 10 --measure-every 50 --device cpu"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def pane() -> Iterator[str]:
    name = f"grok-sweep-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def start(pane: str, root: Path, flags: str) -> tuple[Path, Path]:
    exit_file, pid_file = root / "exit_status", root / "pid"
    command = (f"cd {shlex.quote(str(root))} && echo $$ > pid && exec sh -c "
               + shlex.quote(f"{shlex.quote(sys.executable)} -m grok_tui.cli sweep t {TINY} {flags} --workers 2; "
                             f"echo $? > {shlex.quote(str(exit_file))}"))
    tmux("new-session", "-d", "-s", pane, "-x", "80", "-y", "24", command)
    return exit_file, pid_file


def wait(pane: str, text: str, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", pane, "-p")
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {text!r}; the pane shows:\n{screen}")


def wait_file(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return path.read_text().strip()


def sweep_pid(root: Path) -> int:
    """The sweep's own process: the child of the pane's shell running `grok_tui.cli sweep`."""
    shell = int(wait_file(root / "pid"))
    out = subprocess.run(["pgrep", "-f", "-P", str(shell), "grok_tui.cli sweep"], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def test_the_view_shows_the_members_to_the_end_and_q_leaves(tmp_path: Path, pane: str) -> None:
    exit_file, _ = start(pane, tmp_path, "--seed 0-1 --num-epochs 60")
    wait(pane, "t.s1")  # the members' table, in the view
    wait(pane, "every member")  # the notice once the executor has returned
    screen = wait(pane, "sweep t: 2 members, 2 done")  # the table re-reads the files every 2 s
    assert "median epochs to 99% test accuracy" in screen
    tmux("send-keys", "-t", pane, "q")
    assert wait_file(exit_file) == "0"
    for seed in (0, 1):
        paths = RunPaths.of(f"t.s{seed}", tmp_path)
        assert load_checkpoint(paths.checkpoint)["epoch"] == 60 == read_log(paths.log)[-1]["epoch"]


def test_sigterm_stops_every_member_with_a_checkpoint(tmp_path: Path, pane: str) -> None:
    exit_file, _ = start(pane, tmp_path, "--seed 0-1 --num-epochs 100000")
    wait(pane, "training (PID")
    paths = [RunPaths.of(f"t.s{seed}", tmp_path) for seed in (0, 1)]
    deadline = time.monotonic() + 60
    while not all(p.log.exists() and len(read_log(p.log)) > 2 for p in paths) and time.monotonic() < deadline:
        time.sleep(0.2)
    import os

    os.kill(sweep_pid(tmp_path), signal.SIGTERM)
    assert wait_file(exit_file) == "143"
    for member in paths:
        assert lock_owner(member) is None
        last = read_log(member.log)[-1]["epoch"]
        assert 0 < last < 100000 and load_checkpoint(member.checkpoint)["epoch"] == last
