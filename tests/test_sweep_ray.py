"""The Ray executor against a real local Ray cluster: the same run folders as the local pool, and a member
whose worker is killed with SIGKILL is retried by Ray, resumes from its checkpoint, and ends equal to an
uninterrupted run. The cluster is started in this process (ray.init), with its temp folder inside the
test's temp folder and authentication off (no token state under ~/.ray), and shut down at the end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.lock import lock_owner
from grok_tui.training.trainer import train_grokking

ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install -e '.[ray]'); the dev extra has it")

TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--device", "cpu",
        "--log-every", "10", "--checkpoint-every", "50"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    # Ray's socket paths must be short: a folder of its own under /tmp, removed at the end.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    old = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        # One GPU declared as a logical resource (there is none here): --gpus-per-run is scheduled against it.
        context = ray.init(num_cpus=2, num_gpus=1, _temp_dir=temp, include_dashboard=False, logging_level="ERROR",
                           log_to_driver=False)
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = old
        shutil.rmtree(temp, ignore_errors=True)


def sweep(root: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "grok_tui.cli", "sweep", "r", "--root", str(root), *TINY, *flags],
                            cwd=root, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def without_time(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


def assert_same_runs(a: Path, b: Path, tags: list[str]) -> None:
    for tag in tags:
        pa, pb = RunPaths.of(tag, a), RunPaths.of(tag, b)
        assert without_time(read_log(pa.log)) == without_time(read_log(pb.log)), tag
        ca, cb = load_checkpoint(pa.checkpoint), load_checkpoint(pb.checkpoint)
        assert ca["epoch"] == cb["epoch"]
        for name, tensor in ca["model"].items():
            assert torch.equal(tensor, cb["model"][name]), f"{tag}: {name}"


def test_ray_trains_the_same_runs_as_the_local_pool(cluster: str, tmp_path: Path) -> None:
    flags = ["--seed", "0-1", "--weight-decay", "0.5,1", "--num-epochs", "60"]
    local, remote = tmp_path / "local", tmp_path / "ray"
    local.mkdir()
    remote.mkdir()
    # Each Ray member asks for half a GPU too: two share the cluster's one, and train on the CPU (no CUDA here).
    for root, extra in ((local, ["--workers", "2"]), (remote, ["--ray", cluster, "--gpus-per-run", "0.5"])):
        process = sweep(root, *flags, *extra)
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    assert "on the Ray cluster at" in out
    assert_same_runs(local, remote, ["r.wd0.5.s0", "r.wd0.5.s1", "r.wd1.s0", "r.wd1.s1"])


def test_a_killed_worker_is_retried_and_its_member_resumes_exactly(cluster: str, tmp_path: Path) -> None:
    process = sweep(tmp_path, "--seed", "0", "--num-epochs", "3000", "--checkpoint-every", "100", "--ray", cluster)
    paths = RunPaths.of("r", tmp_path)
    deadline = time.monotonic() + 180
    while len(read_log(paths.log)) < 40 or load_checkpoint_epoch(paths) < 100:
        assert time.monotonic() < deadline and process.poll() is None, "the member did not get going"
        time.sleep(0.05)
    owner = lock_owner(paths)
    assert owner is not None
    os.kill(int(owner["pid"]), signal.SIGKILL)  # the Ray worker training the member
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    epochs = [r["epoch"] for r in read_log(paths.log)]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 3000  # strictly increasing, to the end
    sessions = paths.sessions.read_text().splitlines()
    assert len(sessions) == 2  # the first attempt, then Ray's retry, which resumed
    whole = train_grokking(tiny_config(tag="r", num_epochs=3000, log_every=10, checkpoint_every=100, threads=1),
                           root=tmp_path / "whole")
    killed = load_checkpoint(paths.checkpoint)
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(killed["model"][name], tensor), name
    assert without_time(read_log(paths.log)) == without_time(read_log(whole.paths.log))


def load_checkpoint_epoch(paths: RunPaths) -> int:
    try:
        return int(load_checkpoint(paths.checkpoint)["epoch"])
    except Exception:  # not written yet, or being replaced (the rename is atomic, but it may not exist)
        return 0


def test_without_ray_the_flag_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "from grok_tui.cli import main\n"
            f"sys.exit(main(['sweep', 'r', '--root', {str(tmp_path)!r}, '--seed', '0-1', '--ray']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ('grok-tui: error: --ray: needs Ray, an optional extra: '
                                     'pip install -e ".[ray]" (or pip install ray)')
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- every wait bounded, every signal kept (#23)


def test_a_wrong_address_is_one_line_and_exit_2_at_once(tmp_path: Path) -> None:
    """Ray's own connect retries for minutes and ignores Ctrl-C; nothing answers on port 1."""
    process = sweep(tmp_path, "--seed", "0-1", "--ray", "127.0.0.1:1")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert err.startswith("grok-tui: error: --ray: no Ray cluster answers at 127.0.0.1:1") and err.count("\n") == 1
    assert not (tmp_path / "sweeps").exists() and not (tmp_path / "logs").exists()  # nothing written


def test_more_gpus_per_run_than_the_cluster_has_is_refused_up_front(cluster: str, tmp_path: Path) -> None:
    """The test cluster declares one GPU: a member asking for two could never be scheduled, and would wait
    forever (Ctrl-C did not end it)."""
    process = sweep(tmp_path, "--seed", "0", "--ray", cluster, "--gpus-per-run", "2")
    out, err = process.communicate(timeout=180)
    assert process.returncode == 2, err
    assert "gpus_per_run: the cluster at" in err and "has 1 GPU(s)" in err and err.count("\n") == 1
    assert not (tmp_path / "logs").exists()


def test_sigterm_to_a_ray_sweep_stops_members_with_a_checkpoint_and_they_resume_exactly(
        cluster: str, tmp_path: Path) -> None:
    """Ray's init replaced the driver's SIGTERM handler: the driver died with exit 1, wrote no stop file,
    and members lost hundreds of epochs. Now SIGTERM is the sweep's: 143, every member checkpointed."""
    flags = ("--seed", "0", "--num-epochs", "3000", "--checkpoint-every", "1000000", "--ray", cluster)
    process = sweep(tmp_path, *flags)
    paths = RunPaths.of("r", tmp_path)
    deadline = time.monotonic() + 180
    while len(read_log(paths.log)) < 20:
        assert time.monotonic() < deadline and process.poll() is None, "the member did not get going"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 143, err
    stopped = load_checkpoint(paths.checkpoint)["epoch"]  # no periodic checkpoint: this one is the stop's
    assert 0 < stopped < 3000 and read_log(paths.log)[-1]["epoch"] == stopped
    again = sweep(tmp_path, *flags)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    whole = train_grokking(tiny_config(tag="r", num_epochs=3000, log_every=10, checkpoint_every=1000000, threads=1),
                           root=tmp_path / "whole")
    resumed = load_checkpoint(paths.checkpoint)
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(resumed["model"][name], tensor), name


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")
def test_the_sweep_view_runs_a_ray_sweep_on_a_terminal(cluster: str, tmp_path: Path) -> None:
    """On a terminal `sweep --ray` shows the sweep view (it crashed: Ray's init wanted the file descriptors
    Textual had taken); q stops the members with a checkpoint and leaves."""
    import shlex
    import uuid

    pane = f"grok-ray-{uuid.uuid4().hex[:8]}"
    exit_file = tmp_path / "exit_status"
    command = " ".join(shlex.quote(part) for part in [
        sys.executable, "-m", "grok_tui.cli", "sweep", "r", "--root", str(tmp_path), *TINY, "--seed", "0",
        "--num-epochs", "100000", "--ray", cluster])
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in (("RAY_AUTH_MODE", "disabled"),))
    subprocess.run(["tmux", "new-session", "-d", "-s", pane, "-x", "100", "-y", "30",
                    f"env {env} sh -c {shlex.quote(command + '; echo $? > ' + shlex.quote(str(exit_file)))}"],
                   check=True)
    try:
        deadline, screen = time.monotonic() + 180, ""
        while "training (PID" not in screen:
            assert time.monotonic() < deadline, f"no sweep view with a training member; the pane shows:\n{screen}"
            time.sleep(0.5)
            screen = subprocess.run(["tmux", "capture-pane", "-t", pane, "-p"], capture_output=True,
                                    text=True).stdout
        assert "Traceback" not in screen and "fileno" not in screen
        subprocess.run(["tmux", "send-keys", "-t", pane, "q"], check=True)
        deadline = time.monotonic() + 180
        while not exit_file.exists():
            assert time.monotonic() < deadline, "q did not leave the view"
            time.sleep(0.3)
        assert exit_file.read_text().strip() == "0"
        paths = RunPaths.of("r", tmp_path)
        assert read_log(paths.log)[-1]["epoch"] == load_checkpoint(paths.checkpoint)["epoch"] > 0
    finally:
        subprocess.run(["tmux", "kill-session", "-t", pane], capture_output=True)


def test_an_unrecorded_auto_cluster_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grok_tui.core.config import ConfigError
    from grok_tui.sweeps import ray_executor

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray_executor, "head_address", lambda address: None)
    with pytest.raises(ConfigError, match="no Ray cluster is recorded on this machine"):
        ray_executor.check_reachable("auto")
