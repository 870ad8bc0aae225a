"""Where a sweep's members train: the local executor keeps `workers` `grok-tui train` processes busy.

Each member is the ordinary `grok-tui train` command in a process of its own (one torch thread): the
executor writes none of a run's files, so everything the trainer guarantees (exact resume, atomic
checkpoints, the lock, one-line errors) holds for every member, and a member stopped anywhere resumes
from its own checkpoint. The children run in sessions of their own, so a Ctrl-C at the terminal reaches
the executor only; it then stops launching and sends each child one SIGTERM, which the trainer answers by
stopping after the current epoch with a checkpoint (two signals would make it leave at once).
"""

from __future__ import annotations

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


@dataclass
class MemberState:
    state: str  # new / resume / done / training elsewhere
    epoch: int  # the checkpoint's epoch (0 when new)
    grokked: int | None = None  # the epoch it grokked, from events.json


def member_state(member: Member, root: Path) -> MemberState:
    """What running the member would do now, from its files alone."""
    from grok_tui.run.checkpoint import load_checkpoint

    paths = RunPaths.of(member.tag, root)
    owner = lock_owner(paths)
    if owner is not None:
        return MemberState(f"training (PID {owner.get('pid')})", 0)
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

    command = [sys.executable, "-m", "grok_tui.cli", "train", "--root", str(root)]
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


@dataclass
class _Child:
    member: Member
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]


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
        try:
            while (queue and not self.stop.is_set()) or running:
                while queue and len(running) < self.workers and not self.stop.is_set():
                    member = queue.pop(0)
                    stderr = tempfile.TemporaryFile()
                    process = subprocess.Popen(train_command(member.config, self.root), cwd=self.root, env=env,
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=stderr, start_new_session=True)
                    running.append(_Child(member, process, stderr))
                if self.stop.is_set() and not signalled:
                    for child in running:
                        child.process.send_signal(signal.SIGTERM)
                    signalled = True
                for child in [c for c in running if c.process.poll() is not None]:
                    running.remove(child)
                    outcomes.append(Outcome(child.member.tag, child.process.returncode, _last_line(child.stderr)))
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


__all__ = ["LocalExecutor", "MemberState", "Outcome", "default_workers", "epoch_seconds", "member_epoch",
           "member_state",
           "train_command"]
