"""Where a sweep's members train: the local executor keeps `workers` `grok-tui train` processes busy.

Each member is the ordinary `grok-tui train` command in a process of its own (one torch thread): the
executor writes none of a run's files, so everything the trainer guarantees (exact resume, atomic
checkpoints, the lock, one-line errors) holds for every member, and a member stopped anywhere resumes
from its own checkpoint. The children run in sessions of their own, so a Ctrl-C at the terminal reaches
the executor only; it then stops launching and sends each child one SIGTERM, which the trainer answers by
stopping after the current epoch with a checkpoint (two signals would make it leave at once).

A root is shared data, never code: members start as `python -P -m grok_tui.cli` in the executor's own
working folder with the root given absolute, so nothing under the root (a planted `grok_tui/` or
`numpy.py`) is ever on sys.path (-P drops the script folder, here the working folder; PYTHONPATH is still
honoured, as for any `grok-tui` command). On Linux each member is given SIGTERM as its parent-death signal,
so a sweep parent killed outright (kill -9) takes its members with it, each after its epoch with a
checkpoint, instead of leaving them training unseen.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from grok_tui.core.config import Config
from grok_tui.core.errors import CheckpointError
from grok_tui.run.lock import lock_owner
from grok_tui.run.log import last_record
from grok_tui.run.paths import RunPaths
from grok_tui.run.phases import early_stop_due, grokked_epoch
from grok_tui.sweeps.grid import Member, default_workers

POLL_S = 0.2
STOP_STATUSES = (130, 143, -signal.SIGINT, -signal.SIGTERM)  # a member that stopped after its epoch (or was killed so)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when the executor's thread dies (Linux), or None.

    libc's prctl is looked up here, in the parent: between fork and exec the child may only call what needs
    no lock (another thread of the parent may have held the loader's). A parent that died before prctl ran
    would never send the signal, so the child checks it still has the parent that started it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # orphaned already: train nothing

    return set_death_signal


@dataclass
class MemberState:
    state: str  # new / resume / done / training elsewhere
    epoch: int  # the checkpoint's epoch (0 when new); for a member training, its log's last epoch
    grokked: int | None = None  # the epoch it grokked, from events.json


def member_state(member: Member, root: Path) -> MemberState:
    """What running the member would do now, from its files alone."""
    from grok_tui.run.checkpoint import load_checkpoint

    paths = RunPaths.of(member.tag, root)
    owner = lock_owner(paths)
    if owner is not None:
        return MemberState(f"training (PID {owner.get('pid')})", member_epoch(member, root))
    if not paths.checkpoint.exists():
        return MemberState("new", 0)
    try:
        epoch = int(load_checkpoint(paths.checkpoint)["epoch"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return MemberState("resume", 0)  # the trainer will say what is wrong with it
    grokked = grokked_epoch(paths.events)
    if epoch >= member.config.num_epochs or early_stop_due(member.config, grokked, epoch):
        return MemberState("done", epoch, grokked)
    return MemberState("resume", epoch, grokked)


def train_command(config: Config, root: Path) -> list[str]:
    """`grok-tui train` with every config field spelled out (floats as repr: exact)."""
    from grok_tui.core.flags import CONFIG_FLAGS

    # -P: no working folder on sys.path; the root is absolute, so the child's working folder does not matter.
    command = [sys.executable, "-P", "-m", "grok_tui.cli", "train", "--root", os.path.abspath(root)]
    for flag, name, _, _ in CONFIG_FLAGS:
        value = getattr(config, name)
        if value is not None:
            command += [f"{flag}={value!r}" if isinstance(value, float) else f"{flag}={value}"]
    return command + ["--betas", repr(float(config.betas[0])), repr(float(config.betas[1])),
                      "--orthograd" if config.orthograd else "--no-orthograd"]


@dataclass
class Outcome:
    tag: str
    returncode: int
    error: str  # the child's last line on stderr when it failed
    asked_to_stop: bool = False  # the executor sent it SIGTERM (its 143 is then a stop, not an outside kill)

    @property
    def stopped_from_outside(self) -> bool:
        """Ended by a stop signal the sweep did not send (an admin's kill, `timeout`): not finished."""
        return self.returncode in STOP_STATUSES and not self.asked_to_stop


@dataclass
class _Child:
    member: Member
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    asked_to_stop: bool = False  # this executor sent it SIGTERM


class LocalExecutor:
    """Trains members `workers` at a time, in the order given, until all are done or `stop` is set."""

    def __init__(self, root: Path, workers: int, stop: threading.Event,
                 on_progress: Callable[[list[Member], list[Outcome], list[Member]], None] | None = None):
        self.root, self.workers, self.stop, self.on_progress = root, workers, stop, on_progress

    def run(self, members: list[Member]) -> list[Outcome]:
        queue, outcomes = list(members), []
        running: list[_Child] = []
        signalled = False
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        on_start = _parent_death_signal()
        try:
            while (queue and not self.stop.is_set()) or running:
                while queue and len(running) < self.workers and not self.stop.is_set():
                    member = queue.pop(0)
                    stderr = tempfile.TemporaryFile()
                    process = subprocess.Popen(train_command(member.config, self.root), env=env,
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=stderr, start_new_session=True, preexec_fn=on_start)
                    running.append(_Child(member, process, stderr))
                if self.stop.is_set() and not signalled:
                    for child in running:
                        child.process.send_signal(signal.SIGTERM)
                        child.asked_to_stop = True
                    signalled = True
                for child in [c for c in running if c.process.poll() is not None]:
                    running.remove(child)
                    outcomes.append(Outcome(child.member.tag, child.process.returncode, _last_line(child.stderr),
                                            child.asked_to_stop))
                if self.on_progress is not None:
                    self.on_progress([c.member for c in running], outcomes, queue)
                time.sleep(POLL_S)
        finally:
            for child in running:  # an exception here (not a signal): leave no child behind untold
                if child.process.poll() is None:
                    child.process.send_signal(signal.SIGTERM)
                    child.process.wait()
        return outcomes


def _last_line(file: IO[bytes]) -> str:
    file.seek(0)
    lines = file.read()[-4096:].decode("utf-8", errors="replace").strip().splitlines()
    file.close()
    return lines[-1] if lines else ""


def epoch_seconds(config: Config, steps: int = 3) -> float:
    """Seconds per epoch of `config` on one CPU thread here, log points included, timed on the spot."""
    import dataclasses

    import torch

    from grok_tui.training.loop import TrainingLoop

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = RunPaths.of("estimate", tmp)
            paths.log_dir.mkdir(parents=True)
            loop = TrainingLoop(dataclasses.replace(config, tag="estimate"), paths, torch.device("cpu"), None, None,
                                None)
            loop.step()  # warm-up
            start = time.perf_counter()
            for _ in range(steps):
                loop.step()
            step = (time.perf_counter() - start) / steps
            start = time.perf_counter()
            loop.record()
            return step + (time.perf_counter() - start) / config.log_every
    finally:
        torch.set_num_threads(before)


def member_epoch(member: Member, root: Path) -> int:
    record = last_record(RunPaths.of(member.tag, root).log)
    epoch = record.get("epoch") if record else None
    return epoch if isinstance(epoch, int) else 0


__all__ = ["STOP_STATUSES", "LocalExecutor", "MemberState", "Outcome", "default_workers", "epoch_seconds", "member_epoch",
           "member_state", "train_command"]
