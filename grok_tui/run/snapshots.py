"""Weight snapshots through training: models/<tag>/snapshots/epoch_<E>.pth at every multiple of snapshot_every.

The paper's analysis (Nanda et al. 2023, section 5) measures the circuit over checkpoints taken all through
training, with one key-frequency set read off the final model. The training checkpoint is overwritten as
the run goes, so a run that should be analysed that way keeps its weights as it goes: weights only
(float32 state dict, no optimizer: 0.9 MB at the paper's defaults), epoch 0 included.

Each snapshot is written atomically (a kill mid-write leaves a temp file that no listing or loader takes for a
snapshot) by the trainer holding the run's lock. On resume the snapshots past the checkpoint's epoch are cut
back, like the log, and training writes them again when it gets there (training is deterministic, so they
come back equal). Files are loaded with weights_only=True and checked against the run's config: a snapshot
folder is hostile input like any other file.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grok_tui.core.atomic import (
    TEMP_SUFFIX,
    NotRegularFile,
    atomic_write_with,
    check_removable,
    kind_of,
    open_regular,
)
from grok_tui.core.config import Config
from grok_tui.core.errors import CheckpointError, TrainingError, UnsafeTargetError
from grok_tui.run.paths import RunPaths

if TYPE_CHECKING:  # torch is imported where weights are read or written: `list` must stay light
    import torch

FORMAT = 1
_NAME_RE = re.compile(r"epoch_([0-9]{9})\.pth")  # epoch_000001200.pth: 9 digits hold MAX_EPOCHS, sort by name


@dataclass(frozen=True)
class Snapshot:
    epoch: int
    path: Path
    size: int  # bytes on disk


def snapshot_dir(paths: RunPaths) -> Path:
    return paths.model_dir / "snapshots"


def snapshot_path(paths: RunPaths, epoch: int) -> Path:
    return snapshot_dir(paths) / f"epoch_{epoch:09d}.pth"


def snapshot_due(epoch: int, every: int) -> bool:
    """At every multiple of `every` (epoch 0 included); never when `every` is 0. A function of the epoch
    alone, so a resumed run snapshots the same epochs."""
    return every > 0 and epoch % every == 0


def check_snapshot_dir(paths: RunPaths) -> None:
    """The snapshot folder is missing or a folder: anything else (a file, a symlink) is refused before a
    session writes anything, instead of failing at the first snapshot."""
    folder = snapshot_dir(paths)
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise UnsafeTargetError(folder, f"is {kind_of(mode)}, not the run's snapshot folder; it was left as it "
                                        "is (move it away, then run again)")


def _entries(paths: RunPaths) -> list[tuple[int, Path]]:
    """(epoch, path) of every name in the snapshot folder that is a snapshot's name, whatever it is."""
    folder = snapshot_dir(paths)
    if not folder.is_dir() or folder.is_symlink():
        return []
    found = []
    for entry in os.scandir(folder):
        match = _NAME_RE.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)


def list_snapshots(paths: RunPaths) -> list[Snapshot]:
    """The run's snapshots (regular files with a snapshot's name), by epoch. Never raises for a strange
    folder: an entry that is not a regular file is not a snapshot."""
    snapshots = []
    for epoch, path in _entries(paths):
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            snapshots.append(Snapshot(epoch, path, info.st_size))
    return snapshots


def disk_usage(snapshots: list[Snapshot]) -> int:
    return sum(s.size for s in snapshots)


def format_bytes(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def save_snapshot(paths: RunPaths, epoch: int, model: "torch.nn.Module") -> Path:
    """Write the model's weights at `epoch`, atomically. Only the trainer holding the run's lock calls this.

    Weights that are no longer finite are refused (the run diverged): a snapshot is only ever a model that
    training produced and that every reader can use.
    """
    import torch

    weights = {name: tensor.detach().to("cpu", torch.float32).clone() for name, tensor in model.state_dict().items()}
    if not all(bool(torch.isfinite(tensor).all()) for tensor in weights.values()):
        raise TrainingError(f"training diverged at epoch {epoch} (weights are not finite); no snapshot written; "
                            "the last good checkpoint is kept; try a smaller lr")
    path = snapshot_path(paths, epoch)
    payload = {"format": FORMAT, "epoch": epoch, "model": weights}
    atomic_write_with(path, lambda handle: torch.save(payload, handle))
    return path


def _leftover_temps(paths: RunPaths) -> list[Path]:
    """Temp files of snapshot writes that were killed (.epoch_<E>.pth.<random>.tmp)."""
    folder = snapshot_dir(paths)
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(path for path in folder.iterdir() if path.name.startswith(".epoch_") and
                  path.name.endswith(TEMP_SUFFIX) and path.is_file() and not path.is_symlink())


def cut_back_snapshots(paths: RunPaths, epoch: int) -> list[int]:
    """Remove the snapshots past `epoch` (the checkpoint's; -1 for none) and the temp files of interrupted
    snapshot writes; returns the epochs removed. Called by the trainer holding the lock, at the start of a
    session: those epochs are about to be trained again and their snapshots rewritten.

    Every entry is checked first: one that is not a file (a folder with a snapshot's name) refuses the whole
    cut-back, so nothing is half removed.
    """
    doomed = [(e, path) for e, path in _entries(paths) if e > epoch]
    for _, path in doomed:
        check_removable(path)
    for _, path in doomed:
        path.unlink(missing_ok=True)
    for temp in _leftover_temps(paths):
        temp.unlink(missing_ok=True)
    return [e for e, _ in doomed]


def remove_all_snapshots(paths: RunPaths, check_only: bool = False) -> None:
    """--fresh: every snapshot (each checked removable before any is removed, as the run's other files are),
    then the folder itself when nothing else is in it."""
    entries = [path for _, path in _entries(paths)]
    for path in entries:
        check_removable(path)
    if check_only:
        return
    for path in entries:
        path.unlink(missing_ok=True)
    for temp in _leftover_temps(paths):
        temp.unlink(missing_ok=True)
    try:
        snapshot_dir(paths).rmdir()
    except OSError:
        pass  # missing, or holds something that is not ours: left as it is


def check_weights(weights: object, config: Config, source: Path) -> "dict[str, torch.Tensor]":
    """The weights, if they are exactly the model's for `config` (names, shapes, finite floats); else a
    CheckpointError naming `source`."""
    # Here, not at the top: run/checkpoint.py imports torch, and `list` reads snapshots without loading it.
    from grok_tui.run.checkpoint import expected_shapes, model_problem

    problem = model_problem(weights, expected_shapes(config))
    if problem is not None:
        raise CheckpointError(f"{source}: {problem}; it was left as it is")
    assert isinstance(weights, dict)
    return weights


def load_snapshot(path: Path, config: Config) -> "dict[str, torch.Tensor]":
    """A snapshot's weights (float32 state dict of SimpleTransformer(config)), loaded with weights_only=True;
    a truncated, foreign or mismatched file is a one-line CheckpointError naming it."""
    import torch

    path = Path(path)
    try:
        with open_regular(path) as handle:  # a FIFO or a device in its place is refused, never read
            state = torch.load(handle, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no snapshot there") from None
    except NotRegularFile as err:
        raise CheckpointError(str(err)) from None
    except Exception as err:  # UnpicklingError, RuntimeError (truncated zip), EOFError, ...
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: cannot be loaded as a grok-tui snapshot ({first})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"{path}: not a grok-tui snapshot (format {FORMAT} with model weights)")
    match = _NAME_RE.fullmatch(path.name)
    if match and state.get("epoch") != int(match.group(1)):
        raise CheckpointError(f"{path}: holds epoch {state.get('epoch')!r}, not the epoch of its name")
    return check_weights(state["model"], config, path)
