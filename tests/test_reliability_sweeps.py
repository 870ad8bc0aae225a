"""The local executor under attack (issue 23): a root runs no code (S1), a relative root is the root (S2), members
die with their parent and a re-run sees them (S8), a member stopped from outside is no success (M2), a device
that is not there is refused up front, and the table shows a training member's epoch.

The sweeps are tiny (p=11) and run in subprocesses, as a user's would. Waits poll the run's files with a
bounded deadline; nothing depends on how fast a member trains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.lock import RunLock, lock_owner
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import Member
from grok_tui.sweeps.local_executor import member_state

TIMEOUT_S = 300  # a whole sweep's subprocess at most; far past what a tiny one takes
WAIT_S = 120  # bounded waits for a member to start or to end


def tiny_flags(epochs: int, seeds: str = "0,1") -> list[str]:
    return ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--num-epochs", str(epochs),
            "--log-every", "10", "--checkpoint-every", "50", "--device", "cpu", "--seed", seeds]


def sweep(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grok_tui.cli", "sweep", *args, "--headless"], capture_output=True,
                          text=True, timeout=TIMEOUT_S, cwd=cwd, stdin=subprocess.DEVNULL)


def start_sweep(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "grok_tui.cli", "sweep", *args, "--headless"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its new parent) has stopped too.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def member_pids(root: Path, tags: list[str]) -> dict[str, int]:
    owners = {tag: lock_owner(RunPaths.of(tag, root)) for tag in tags}
    return {tag: int(owner["pid"]) for tag, owner in owners.items()  # type: ignore[call-overload]
            if owner is not None and isinstance(owner.get("pid"), int)}


# ---------------------------------------------------------------- S1: a root is data, never code


PLANT = "open({marker!r}, 'a').write('imported from the root\\n')\n"


def test_a_planted_package_or_module_in_the_root_is_never_imported(tmp_path: Path) -> None:
    root, marker = tmp_path / "root", tmp_path / "marker"
    (root / "grok_tui").mkdir(parents=True)
    for planted in (root / "grok_tui" / "__init__.py", root / "grok_tui" / "cli.py", root / "numpy.py",
                    root / "torch.py"):
        planted.write_text(PLANT.format(marker=str(marker)))
    result = sweep("planted", "--root", str(root), *tiny_flags(20))
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()
    assert all(member_state(m, root).state == "done" for m in _members(root, "planted", 2))


def _members(root: Path, name: str, count: int) -> list[Member]:
    from grok_tui.sweeps.grid import definition_path, load_definition, saved_members

    path = definition_path(root, name)
    members = saved_members(load_definition(path), path)
    assert len(members) == count
    return members


# ---------------------------------------------------------------- S2: a relative root


def test_a_relative_root_trains_members_under_it_and_list_and_plot_see_them(tmp_path: Path) -> None:
    result = sweep("rel", "--root", "here", *tiny_flags(20), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "here"
    assert not (root / "here").exists()
    assert sorted(p.name for p in (root / "logs").iterdir()) == ["rel.s0", "rel.s1"]
    assert all(member_state(m, root).state == "done" for m in _members(root, "rel", 2))
    again = sweep("rel", "--root", "here", cwd=tmp_path)  # nothing is trained twice
    assert again.returncode == 0 and "0 to train" in again.stdout, again.stderr
    listed = subprocess.run([sys.executable, "-m", "grok_tui.cli", "list", "--root", "here"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    assert "rel.s0" in listed.stdout and "rel.s1" in listed.stdout, listed.stderr


def test_the_executor_gives_members_an_absolute_root_and_no_working_folder_on_sys_path() -> None:
    from grok_tui.sweeps.local_executor import train_command

    command = train_command(tiny_config(), Path("relative"))
    assert command[1:4] == ["-P", "-m", "grok_tui.cli"]
    assert command[command.index("--root") + 1] == os.path.abspath("relative")


# ---------------------------------------------------------------- S8: members die with their parent


def test_members_die_with_a_killed_parent_after_their_epoch_and_a_rerun_trains_the_rest(tmp_path: Path) -> None:
    tags = ["orphan.s0", "orphan.s1"]
    parent = start_sweep("orphan", "--root", str(tmp_path), "--workers", "2", *tiny_flags(10_000_000))
    try:
        wait_for(lambda: len(member_pids(tmp_path, tags)) == 2, "both members to hold their locks")
        pids = member_pids(tmp_path, tags)
        wait_for(lambda: all(RunPaths.of(tag, tmp_path).log.exists() for tag in tags), "the members' logs")
        parent.kill()  # SIGKILL: the parent can tell nobody
        parent.wait(timeout=WAIT_S)
        wait_for(lambda: not any(alive(pid) for pid in pids.values()), "every member to end")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate()
    # Each stopped after its epoch, with a checkpoint (the death signal is SIGTERM).
    epochs = [int(load_checkpoint(RunPaths.of(tag, tmp_path).checkpoint)["epoch"]) for tag in tags]
    assert all(epoch > 0 for epoch in epochs)
    # A re-run sees them as stopped part-way and trains them on (to a budget just past where they stopped).
    rerun = sweep("orphan", "--root", str(tmp_path), "--workers", "2", *tiny_flags(max(epochs) + 20))
    assert rerun.returncode == 0 and "2 to train" in rerun.stdout, rerun.stderr
    assert [int(load_checkpoint(RunPaths.of(tag, tmp_path).checkpoint)["epoch"]) for tag in tags] == \
        [max(epochs) + 20] * 2


HOLDER = textwrap.dedent("""
    import sys, time
    from grok_tui.run.lock import RunLock
    from grok_tui.run.paths import RunPaths
    RunLock(RunPaths.of(sys.argv[2], sys.argv[1])).acquire()
    print("held", flush=True)
    time.sleep(600)
""")


def test_a_member_another_process_trains_is_not_counted_finished(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), "busy.s1"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = sweep("busy", "--root", str(tmp_path), *tiny_flags(20))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1, result.stderr
    assert f"being trained by another process, so not trained here: busy.s1 (training (PID {holder.pid}))" \
        in result.stderr
    assert "1 to train" in result.stdout


# ---------------------------------------------------------------- M2: stopped from outside


def test_a_member_stopped_from_outside_makes_the_sweep_fail_and_is_named(tmp_path: Path) -> None:
    parent = start_sweep("outside", "--root", str(tmp_path), *tiny_flags(10_000_000, seeds="0"))
    try:
        wait_for(lambda: len(member_pids(tmp_path, ["outside"])) == 1, "the member to hold its lock")
        os.kill(member_pids(tmp_path, ["outside"])["outside"], signal.SIGTERM)  # an admin's kill, `timeout`
        out, err = parent.communicate(timeout=WAIT_S)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.communicate()
    assert parent.returncode == 1, err
    assert "stopped from outside" in err and "outside;" in err
    assert int(load_checkpoint(RunPaths.of("outside", tmp_path).checkpoint)["epoch"]) > 0


# ---------------------------------------------------------------- minor: device, epochs of training members


def test_a_device_that_is_not_here_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    flags = tiny_flags(20)
    flags[flags.index("--device") + 1] = "mps"  # never there on Linux; cuda may be, on a GPU machine
    if sys.platform == "darwin":
        pytest.skip("mps may be there on macOS")
    result = sweep("nodev", "--root", str(tmp_path), *flags)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["grok-tui: error: device: mps was asked for but is not available here"]
    assert list(tmp_path.iterdir()) == []


def test_a_training_member_shows_the_epoch_of_its_log(tmp_path: Path) -> None:
    from grok_tui.run.log import RunLogWriter

    member = Member("m", {}, tiny_config(tag="m"))
    paths = RunPaths.of("m", tmp_path)
    with RunLogWriter(paths.log) as log:
        for epoch in (0, 10, 20):
            log.write({"epoch": epoch, "train_loss": 1.0, "test_loss": 1.0, "train_acc": 0.5, "test_acc": 0.5})
    with RunLock(paths):
        state = member_state(member, tmp_path)
    assert state.state.startswith("training (PID ") and state.epoch == 20
