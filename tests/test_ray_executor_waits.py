"""The Ray executor's own decisions, with a stand-in for Ray (no cluster): a head that stops answering ends
the wait with one message per member instead of Ray's freeze and C++ abort, and a member whose task died
after its last checkpoint (during the end-of-run figures) counts as done, as the sweep table shows it."""

from __future__ import annotations

import threading
import types
from pathlib import Path
from typing import Any

import pytest

from conftest import tiny_config
from grok_tui.core.config import ConfigError
from grok_tui.sweeps import ray_executor
from grok_tui.sweeps.grid import Member
from grok_tui.sweeps.ray_executor import RayExecutor
from grok_tui.training.trainer import train_grokking


class NeverReady:
    """Ray as seen from a driver whose cluster went away: tasks are submitted and never come back."""

    def __init__(self, get_error: Exception | None = None) -> None:
        self.get_error = get_error
        self.shut = False

    def remote(self, **options: Any) -> Any:
        def wrap(function: Any) -> Any:
            return types.SimpleNamespace(remote=lambda *args: object())
        return wrap

    def wait(self, refs: list[Any], num_returns: int, timeout: float) -> tuple[list[Any], list[Any]]:
        if self.get_error is not None:
            return refs[:1], refs[1:]
        return [], refs

    def get(self, ref: Any) -> Any:
        assert self.get_error is not None
        raise self.get_error

    def cancel(self, ref: Any, force: bool = False) -> None:
        pass

    def shutdown(self) -> None:
        self.shut = True


def executor(root: Path, ray: Any) -> RayExecutor:
    ex = RayExecutor(root, "127.0.0.1:6379", root / "sweeps" / ".s.stop", threading.Event())
    (root / "sweeps").mkdir(parents=True, exist_ok=True)
    ex.ray = ray
    return ex


def test_a_head_that_stops_answering_ends_the_wait_with_a_message(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(address: str) -> None:
        raise ConfigError(["--ray: no Ray cluster answers at 127.0.0.1:6379"])

    monkeypatch.setattr(ray_executor, "HEAD_CHECK_S", 0.0)
    monkeypatch.setattr(ray_executor, "check_reachable", gone)
    fake = NeverReady()
    members = [Member(f"s.s{seed}", {"seed": seed}, tiny_config(tag=f"s.s{seed}", seed=seed)) for seed in (0, 1)]
    outcomes = executor(tmp_path, fake).run(members)
    assert [(o.tag, o.returncode) for o in outcomes] == [("s.s0", 1), ("s.s1", 1)]
    assert all("stopped answering" in o.error and "run the same command again" in o.error for o in outcomes)
    assert fake.shut


def test_a_task_that_died_after_its_last_checkpoint_counts_as_done(tmp_path: Path) -> None:
    finished = tiny_config(tag="s.s0", num_epochs=20)
    train_grokking(finished, root=tmp_path)
    unfinished = tiny_config(tag="s.s1", seed=1, num_epochs=20)
    fake = NeverReady(get_error=RuntimeError("The worker died unexpectedly while executing this task."))
    ex = executor(tmp_path, fake)
    done = ex._outcome(fake, object(), Member("s.s0", {"seed": 0}, finished), tmp_path)
    lost = ex._outcome(fake, object(), Member("s.s1", {"seed": 1}, unfinished), tmp_path)
    assert (done.returncode, done.error) == (0, "")
    assert lost.returncode == 1 and "worker died" in lost.error
