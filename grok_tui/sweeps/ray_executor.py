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

Every wait is bounded. `connect()` runs on the main thread before anything is written or shown: it checks
that a cluster answers at the address (Ray's own connect retries for minutes and ignores Ctrl-C), joins it,
puts back the signal handlers Ray's init replaces (SIGTERM must still stop the members with a checkpoint),
and refuses a GPU fraction the cluster can never schedule. Once stopped, members get STOP_GRACE_S to
checkpoint; tasks that never started (or a cluster that stopped answering) are then given up on, and
`ray.shutdown()` itself gets SHUTDOWN_S.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from grok_tui.core.config import ConfigError
from grok_tui.sweeps.grid import Member
from grok_tui.sweeps.local_executor import Outcome, member_state

MAX_RETRIES = 3
POLL_S = 0.5
CONNECT_S = 5.0  # a head that does not accept a TCP connection in this time is not there
STOP_GRACE_S = 120.0  # after a stop: how long running members get to finish their epoch and checkpoint
SHUTDOWN_S = 30.0
HEAD_CHECK_S = 5.0  # how often the driver checks that the head still answers while it waits
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def head_address(address: str) -> str | None:
    """The host:port of the head Ray would join for `address` ('auto': RAY_ADDRESS, else the cluster this
    machine started, as Ray records it), or None where none is recorded. A ray:// client address is
    returned as host:port too: its server must answer the same way."""
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "")
        if not address or address == "auto":
            try:
                with open("/tmp/ray/ray_current_cluster", encoding="utf-8", errors="replace") as recorded:
                    address = recorded.read(4096).strip()
            except OSError:
                return None
    return address.removeprefix("ray://") or None


def check_reachable(address: str) -> None:
    """ConfigError unless a TCP connection to the head opens within CONNECT_S."""
    head = head_address(address)
    if head is None:
        raise ConfigError([f"--ray: no Ray cluster is recorded on this machine for {address!r}; start one "
                           "(ray start --head) or give the head's address, --ray HOST:PORT"])
    host, _, port = head.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_S):
            pass
    except (OSError, ValueError) as err:
        raise ConfigError([f"--ray: no Ray cluster answers at {head} ({err}); check the address and that "
                           "the head is running (ray status)"]) from None


class RayExecutor:
    """Submits every member as a task and waits for them, writing the stop file when `stop` is set.

    `connect()` first, on the main thread; then `run()`, on any thread (the sweep view runs it beside the app).
    """

    def __init__(self, root: Path, address: str, stop_path: Path, stop: threading.Event,
                 gpus_per_run: float = 0.0,
                 on_progress: Callable[[list[Member], list[Outcome], list[Member]], None] | None = None):
        self.root, self.address, self.stop_path, self.stop = root.resolve(), address, stop_path, stop
        self.gpus_per_run, self.on_progress = gpus_per_run, on_progress
        self.ray: ModuleType | None = None

    def connect(self) -> None:
        """Join the cluster, or a ConfigError saying why not; the process's signal handlers are kept."""
        ray = require_ray()
        check_reachable(self.address)
        handlers = {sig: signal.getsignal(sig) for sig in SIGNALS}
        try:
            ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ConfigError([f"--ray: could not join the cluster at {self.address} ({' '.join(str(err).split())[:200]})"]) \
                from None
        finally:
            for sig, handler in handlers.items():  # Ray's init installs its own SIGTERM handler (it exits)
                if handler is not None:
                    signal.signal(sig, handler)
        self.ray = ray
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        if self.gpus_per_run > gpus:
            self.shutdown()
            raise ConfigError([f"gpus_per_run: the cluster at {self.address} has {gpus:g} GPU(s), so a member "
                               f"asking for {self.gpus_per_run:g} could never start"])

    def run(self, members: list[Member]) -> list[Outcome]:
        if self.ray is None:
            self.connect()
        ray = self.ray
        assert ray is not None
        self.stop_path.unlink(missing_ok=True)  # a stop left by an earlier, killed driver
        task = ray.remote(num_cpus=1, num_gpus=self.gpus_per_run, max_retries=MAX_RETRIES)(train_member)
        pending = {task.remote(m.config.to_dict(), str(self.root), str(self.stop_path)): m for m in members}
        outcomes: list[Outcome] = []
        stopped_at: float | None = None
        head_checked = time.monotonic()
        try:
            while pending:
                if time.monotonic() - head_checked >= HEAD_CHECK_S:
                    head_checked = time.monotonic()
                    lost = self._head_lost()
                    if lost is not None:  # Ray would freeze here, then abort with a C++ message
                        outcomes += [Outcome(m.tag, 1, lost) for m in pending.values()]
                        break
                if self.stop.is_set() and stopped_at is None:
                    self.stop_path.write_text("stop\n")
                    stopped_at = time.monotonic()
                if stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE_S:
                    outcomes += self._give_up(ray, pending)
                    break
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    member = pending.pop(ref)
                    outcome = self._outcome(ray, ref, member, self.root)
                    outcome.asked_to_stop = stopped_at is not None  # its 143 is then ours, not an outside kill
                    outcomes.append(outcome)
                if self.on_progress is not None:
                    self.on_progress(list(pending.values()), outcomes, [])
        finally:
            self.stop_path.unlink(missing_ok=True)
            self.shutdown()
        return outcomes

    def _head_lost(self) -> str | None:
        """What to tell the user when the head stopped answering, or None while it answers."""
        try:
            check_reachable(self.address)
        except ConfigError:
            return (f"the Ray cluster at {self.address} stopped answering; this member keeps its last "
                    "checkpoint: run the same command again once the cluster is back")
        return None

    @staticmethod
    def _give_up(ray: ModuleType, pending: dict[Any, Member]) -> list[Outcome]:
        """Members that did not answer the stop in time: tasks still queued (no node can take them), or a
        cluster that stopped answering. Their runs keep their last checkpoint."""
        for ref in pending:
            try:
                ray.cancel(ref, force=False)
            except Exception:  # the cluster is gone: nothing left to cancel
                pass
        return [Outcome(m.tag, 143, "not stopped in time: still queued, or the cluster stopped answering; "
                                    "its last checkpoint is kept", asked_to_stop=True) for m in pending.values()]

    def shutdown(self) -> None:
        """ray.shutdown(), bounded: a cluster that died can make it wait on its connection for minutes."""
        if self.ray is None:
            return
        ray, self.ray = self.ray, None
        done = threading.Thread(target=ray.shutdown, name="ray-shutdown", daemon=True)
        done.start()
        done.join(SHUTDOWN_S)

    @staticmethod
    def _outcome(ray: ModuleType, ref: Any, member: Member, root: Path) -> Outcome:
        try:
            result = ray.get(ref)
        except Exception as err:  # the task's worker died more than MAX_RETRIES times, or Ray failed
            if member_state(member, root).state == "done":  # killed after its last checkpoint (the figures)
                return Outcome(member.tag, 0, "")
            return Outcome(member.tag, 1, " ".join(str(err).split())[:300])
        return Outcome(result["tag"], int(result["returncode"]), str(result["error"]))

__all__ = ["RayExecutor", "StopFile", "check_reachable", "head_address", "require_ray", "train_member"]
