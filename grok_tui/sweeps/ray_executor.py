"""The Ray executor: each sweep member is a task on an existing Ray cluster (`grok-tui sweep ... --ray ADDR`).

Ray is optional (`pip install -e ".[ray]"`) and imported only here. A task asks for one CPU, or with
--gpus-per-run F a fraction of a GPU (grokking models are tiny: several share one), and runs
`train_grokking` on the member's own run folder under the sweep's root, which must be a filesystem every
node sees (NFS): the executor writes nothing of a run itself. A task whose worker dies is retried by Ray
(max_retries) and resumes from the member's checkpoint; the run lock is a kernel lock that dies with the
worker, so the retry is never refused.

Stopping goes through a file, `ROOT/sweeps/.NAME.stop`, that every task polls (at most twice a second):
the driver writes it on Ctrl-C, SIGTERM or SIGHUP, each running member stops after its current epoch with
a checkpoint, and a task not yet started returns without touching its run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from grok_tui.core.config import ConfigError
from grok_tui.sweeps.grid import Member
from grok_tui.sweeps.local_executor import Outcome

MAX_RETRIES = 3
POLL_S = 0.5


def require_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ConfigError(['--ray: needs Ray, an optional extra: pip install -e ".[ray]" (or pip install ray)']) \
            from None
    return ray


class StopFile:
    """A stop event other processes and machines can see: set once the file exists."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._checked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._checked >= POLL_S:
            self._checked, self._set = now, os.path.exists(self.path)
        return self._set


def train_member(config: dict[str, Any], root: str, stop_path: str) -> dict[str, Any]:
    """A Ray task: train one member (resuming it) unless the sweep was stopped before it started."""
    from grok_tui.core.config import Config
    from grok_tui.core.errors import CheckpointError, RunLockedError, TrainingError
    from grok_tui.training.trainer import train_grokking

    member = Config.from_dict(config)
    stop = StopFile(stop_path)
    if stop.is_set():
        return {"tag": member.tag, "returncode": 143, "error": "not started: the sweep was stopped"}
    try:
        result = train_grokking(member, root=root, stop_event=stop)
    except (ConfigError, CheckpointError) as err:
        return {"tag": member.tag, "returncode": 2, "error": " ".join(str(err).split())}
    except (RunLockedError, TrainingError, OSError) as err:
        return {"tag": member.tag, "returncode": 1, "error": " ".join(str(err).split())}
    return {"tag": member.tag, "returncode": 143 if result.status == "stopped" else 0, "error": ""}


class RayExecutor:
    """Submits every member as a task and waits for them, writing the stop file when `stop` is set."""

    def __init__(self, root: Path, address: str, stop_path: Path, stop: threading.Event,
                 gpus_per_run: float = 0.0,
                 on_progress: Callable[[list[Member], list[Outcome], list[Member]], None] | None = None):
        self.root, self.address, self.stop_path, self.stop = root.resolve(), address, stop_path, stop
        self.gpus_per_run, self.on_progress = gpus_per_run, on_progress

    def run(self, members: list[Member]) -> list[Outcome]:
        ray = require_ray()
        ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        self.stop_path.unlink(missing_ok=True)  # a stop left by an earlier, killed driver
        task = ray.remote(num_cpus=1, num_gpus=self.gpus_per_run, max_retries=MAX_RETRIES)(train_member)
        pending = {task.remote(m.config.to_dict(), str(self.root), str(self.stop_path)): m for m in members}
        outcomes: list[Outcome] = []
        try:
            while pending:
                if self.stop.is_set() and not self.stop_path.exists():
                    self.stop_path.write_text("stop\n")
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    member = pending.pop(ref)
                    outcomes.append(self._outcome(ray, ref, member))
                if self.on_progress is not None:
                    self.on_progress(list(pending.values()), outcomes, [])
        finally:
            self.stop_path.unlink(missing_ok=True)
            ray.shutdown()
        return outcomes

    @staticmethod
    def _outcome(ray: ModuleType, ref: Any, member: Member) -> Outcome:
        try:
            result = ray.get(ref)
        except Exception as err:  # the task's worker died more than MAX_RETRIES times, or Ray failed
            return Outcome(member.tag, 1, " ".join(str(err).split())[:300])
        return Outcome(result["tag"], int(result["returncode"]), str(result["error"]))


__all__ = ["RayExecutor", "StopFile", "require_ray", "train_member"]
