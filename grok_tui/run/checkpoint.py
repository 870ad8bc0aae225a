"""Checkpoints: everything needed to continue a run bit for bit, written atomically, loaded safely.

A checkpoint holds the model, optimizer and scheduler states, the epoch, the elapsed training time,
the config and every RNG state (torch, CUDA, numpy, python). Training is full batch and has no dropout,
so the RNG states do not change the numbers today; they are kept so that anything random added later
still resumes exactly. Files are loaded with `torch.load(weights_only=True)`: a checkpoint from someone
else can hold tensors and plain values, never code.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import torch

from grok_tui.core.atomic import NotRegularFile, atomic_write_with, open_regular, remove_leftover_temps
from grok_tui.core.config import Config
from grok_tui.core.errors import CheckpointError
from grok_tui.experiment.interventions import filter_state_problem

FORMAT = 1


def rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # numpy's state holds an ndarray, which weights_only loading refuses: store it as a tensor.
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write `state` (plus the format number) to `path`; the old file survives any failure.

    The caller must be the only writer of `path` (the trainer holds the run's lock): temp files of earlier,
    interrupted saves of `path` are deleted.
    """
    payload = {"format": FORMAT, **state}
    atomic_write_with(Path(path), lambda handle: torch.save(payload, handle))
    # A trainer killed (kill -9) in the middle of an earlier save left that save's temp file behind, a
    # whole checkpoint's size each time. Only the trainer holding the run's lock writes its checkpoint,
    # so any other temp file of this path is such a leftover.
    remove_leftover_temps(Path(path))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with weights_only=True; any failure is a CheckpointError naming the file."""
    path = Path(path)
    try:
        with open_regular(path) as handle:  # a FIFO or a device in its place is refused, never read
            state = torch.load(handle, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint there") from None
    except NotRegularFile as err:
        raise CheckpointError(f"{err}; use --fresh to start the run over") from None
    except Exception as err:  # torch raises many kinds here: UnpicklingError, RuntimeError, EOFError, ...
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: cannot be loaded as a grok-tui checkpoint ({first_line[:200]}); "
            "it was left as it is; use --fresh to start the run over"
        ) from None
    missing = [key for key in ("format", "epoch", "config", "model", "optimizer", "scheduler", "rng")
               if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(
            f"{path}: not a grok-tui checkpoint (missing {', '.join(missing)}); "
            "it was left as it is; use --fresh to start the run over"
        )
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state['format']!r} is not supported (expected {FORMAT})")
    return dict(state)


# ---------------------------------------------------------------- validation against the run's config
#
# load_checkpoint() only knows that the file is a grok-tui checkpoint. validate_checkpoint() checks every
# entry against the config before the trainer changes anything (the log's cut-back, config.json): a
# checkpoint with epoch -50 would otherwise cut the whole log away, and a wrong weight, optimizer,
# scheduler or RNG state would be a traceback in the middle of restoring.

EPOCH_LIMIT = 100_000_000  # config.MAX_EPOCHS: the trainer refuses a checkpoint past num_epochs itself


def _shown(value: Any) -> str:
    text = None
    if isinstance(value, torch.Tensor):  # a nested tensor has no shape: `.shape` raises
        text = layout_problem(value) or f"a tensor of shape {tuple(value.shape)}"
    if text is None:
        try:
            text = repr(value)
        except Exception:  # a repr that fails (an int past str()'s digit limit) is named by its type
            text = f"a {type(value).__name__}"
        if len(text) > 40:
            text = f"{text[:37]}..."
    return text


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> TypeGuard[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _same(value: Any, expected: Any) -> bool:
    """Equal, with numbers compared as numbers (1 and 1.0 alike) and anything else by type and value."""
    if _is_finite_number(expected) and not isinstance(value, bool) and isinstance(value, (int, float)):
        return bool(value == expected)
    if isinstance(expected, (tuple, list)) and isinstance(value, (tuple, list)):
        return len(value) == len(expected) and all(_same(v, e) for v, e in zip(value, expected))
    return type(value) is type(expected) and bool(value == expected)


def expected_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight the config's model has (built on the meta device: no memory, no RNG)."""
    from grok_tui.experiment.model import SimpleTransformer

    with torch.device("meta"):
        model = SimpleTransformer(config)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def layout_problem(tensor: torch.Tensor) -> str | None:
    """What makes `tensor` something other than a dense tensor with values in memory, in words, or None.

    torch.load (weights_only) accepts sparse, nested, quantized and meta tensors, and each breaks the code
    that reads weights (`.shape` raises on a nested tensor, a meta tensor has no values, `isfinite` and
    `copy_` fail on sparse ones) with a traceback, in the middle of restoring a run.
    """
    if tensor.is_nested:
        return "a nested tensor"
    if tensor.layout != torch.strided:
        return f"a {str(tensor.layout).removeprefix('torch.')} tensor"
    if tensor.is_meta:
        return "a tensor on the meta device (it holds no values)"
    if tensor.is_quantized:
        return "a quantized tensor"
    return None


def first_layout_problem(value: Any, where: str) -> str | None:
    """The first tensor anywhere in `value` (dicts, lists and tuples, at any depth) that layout_problem()
    refuses, named by its path ("optimizer.state.0.exp_avg"), or None. Iterative: a loaded file can nest
    deeper than Python's recursion limit."""
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        item, name = pending.pop()
        if isinstance(item, torch.Tensor):
            problem = layout_problem(item)
            if problem is not None:
                return f"{name} is {problem}, not a dense tensor"
        elif isinstance(item, dict):
            pending.extend((child, f"{name}.{key}") for key, child in reversed(list(item.items())))
        elif isinstance(item, (list, tuple)):
            pending.extend((child, f"{name}.{index}") for index, child in reversed(list(enumerate(item))))
    return None


def model_problem(weights: Any, shapes: dict[str, tuple[int, ...]]) -> str | None:
    if not isinstance(weights, dict):
        return f"its model weights are {_shown(weights)}, not a dict of tensors"
    missing = [name for name in shapes if name not in weights]
    if missing:
        return f"model weights missing: {', '.join(missing)}"
    extra = [str(name) for name in weights if name not in shapes]
    if extra:
        return f"unexpected model weights: {', '.join(extra[:5])}"
    for name, shape in shapes.items():
        tensor = weights[name]
        layout = layout_problem(tensor) if isinstance(tensor, torch.Tensor) else None
        if layout is not None:
            return f"model weight {name} is {layout}, not a dense tensor"
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            return f"model weight {name} is {_shown(tensor)}, not a floating-point tensor"
        if tuple(tensor.shape) != shape:
            return f"model weight {name} has shape {tuple(tensor.shape)}, expected {shape} for this config"
        if not bool(torch.isfinite(tensor).all()):
            return f"model weight {name} holds NaN or infinite values"
    return None


def fresh_states(config: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    """The optimizer's param group (lr aside) and LambdaLR's state as the trainer builds them for `config`, on the
    meta device (no memory, no computation): what a checkpoint's entries are compared with."""
    from grok_tui.experiment.model import SimpleTransformer
    from grok_tui.experiment.optimizers import make_optimizer

    with torch.device("meta"):
        model = SimpleTransformer(config)
    optimizer = make_optimizer(model.parameters(), config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    group = {key: value for key, value in optimizer.state_dict()["param_groups"][0].items() if key != "lr"}
    return group, scheduler.state_dict()


def _epoch_text(epoch: int, config: Config) -> str:
    """'epoch 20', or with minibatches 'epoch 20 (160 steps)': what the optimizer's counts are checked against."""
    steps = epoch * config.steps_per_epoch
    return f"epoch {epoch}" if steps == epoch else f"epoch {epoch} ({steps:,} optimizer steps)"


def _optimizer_problem(state: Any, shapes: dict[str, tuple[int, ...]], epoch: int, config: Config) -> str | None:
    from grok_tui.experiment.optimizers import slot_keys

    if not isinstance(state, dict) or not isinstance(state.get("state"), dict) or not isinstance(
            state.get("param_groups"), list):
        return f"its optimizer state is {_shown(state)}, not a torch optimizer's state_dict"
    groups, slots = state["param_groups"], state["state"]
    count = len(shapes)
    if len(groups) != 1 or not isinstance(groups[0], dict) or groups[0].get("params") != list(range(count)):
        return f"its optimizer has {_shown(groups)} as param_groups, not one group of the model's {count} weights"
    group = groups[0]
    lr = group.get("lr")
    if not _is_finite_number(lr) or not 0 <= lr <= config.lr:
        return f"optimizer lr is {_shown(lr)}, not a rate from 0 to the config's lr {config.lr:g}"
    # The rest of the group (betas, weight decay, amsgrad, maximize, ...) is loaded as it is: it must be
    # what the trainer builds for this config. A key the file lacks is one torch fills with its default.
    for key, value in fresh_states(config)[0].items():
        if key != "params" and key in group and not _same(group[key], value):
            return f"optimizer {key} is {_shown(group[key])}, expected {_shown(value)} for this config"
    keys, steps = slot_keys(config), epoch * config.steps_per_epoch  # checkpoints fall on epoch ends
    if not slots and (epoch == 0 or not keys):
        return None  # no step taken yet (or SGD without momentum): nothing kept per weight
    if set(slots) != set(range(count)):
        return (f"its optimizer state is empty at {_epoch_text(epoch, config)}" if not slots else
                f"its optimizer state covers weights {sorted(map(str, slots))[:5]}, not the model's {count}")
    for index, shape in enumerate(shapes.values()):
        slot = slots[index]
        if not isinstance(slot, dict):
            return f"optimizer state {index} is {_shown(slot)}, not a dict"
        if set(slot) != set(keys) | ({"step"} if config.optimizer != "sgd" else set()):
            return f"optimizer state {index} holds {sorted(map(str, slot))[:5]}, not {config.optimizer}'s"
        if config.optimizer != "sgd":  # Adam counts its steps (bias correction)
            step = slot.get("step")
            step_value: Any = step.item() if isinstance(step, torch.Tensor) and step.numel() == 1 else step
            if not _is_finite_number(step_value) or step_value < 0:
                return f"optimizer step of weight {index} is {_shown(step)}, not a count"
            if steps < 2**24 and step_value != steps:  # float32 counts steps exactly up to 2**24
                return f"optimizer step {step_value:g} does not match the checkpoint's {_epoch_text(epoch, config)}"
        for key in keys:
            moment = slot.get(key)
            if not isinstance(moment, torch.Tensor) or not moment.is_floating_point() or tuple(moment.shape) != shape:
                return f"optimizer {key} of weight {index} is {_shown(moment)}, expected a tensor of shape {shape}"
    return None


def _scheduler_problem(state: Any, epoch: int, config: Config) -> str | None:
    if not isinstance(state, dict):
        return f"its scheduler state is {_shown(state)}, not LambdaLR's state_dict"
    fresh = fresh_states(config)[1]
    unknown = [str(key) for key in state if key not in fresh]
    if unknown:  # LambdaLR.load_state_dict sets every key as an attribute of the scheduler
        return f"unexpected scheduler entries: {', '.join(unknown[:5])}"
    for key, value in state.items():
        if isinstance(fresh[key], bool) and not isinstance(value, bool):
            return f"scheduler {key} is {_shown(value)}, not true or false"
    steps = epoch * config.steps_per_epoch  # LambdaLR counts optimizer steps
    if not _is_int(state.get("_step_count", steps + 1)) or state.get("_step_count", steps + 1) != steps + 1:
        return f"scheduler _step_count is {_shown(state.get('_step_count'))}, expected {steps + 1}"
    if not _is_int(state.get("last_epoch")) or state["last_epoch"] != steps:
        return (f"scheduler last_epoch is {_shown(state.get('last_epoch'))}, expected the checkpoint's "
                f"{_epoch_text(epoch, config)}")
    base = state.get("base_lrs")
    if not (isinstance(base, list) and len(base) == 1 and _same(base[0], config.lr)):
        return f"scheduler base_lrs is {_shown(base)}, expected [{config.lr!r}] (the config's lr)"
    last = state.get("_last_lr", [0.0])
    if not isinstance(last, list) or len(last) != 1 or not _is_finite_number(last[0]):
        return f"scheduler _last_lr is {_shown(last)}, not one learning rate"
    lambdas = state.get("lr_lambdas", [None])
    if not isinstance(lambdas, list) or len(lambdas) != 1 or lambdas[0] is not None:
        return f"scheduler lr_lambdas is {_shown(lambdas)}, expected [None]"
    return None


def _rng_problem(states: Any) -> str | None:
    """Restore the states for a trial (the libraries check them), then put the current ones back."""
    if not isinstance(states, dict) or not all(key in states for key in ("torch", "cuda", "numpy", "python")):
        return f"its RNG states are {_shown(states)}, not the torch/cuda/numpy/python states"
    if not isinstance(states["cuda"], list) or not all(isinstance(s, torch.Tensor) for s in states["cuda"]):
        return f"its CUDA RNG states are {_shown(states['cuda'])}, not a list of tensors"
    keys = states["numpy"].get("keys") if isinstance(states["numpy"], dict) else None
    if not (isinstance(keys, torch.Tensor) and keys.dtype == torch.int64 and keys.shape == (624,)
            and bool(((keys >= 0) & (keys < 2**32)).all())):
        return f"its numpy RNG keys are {_shown(keys)}, not 624 32-bit words"
    current = rng_states()
    try:
        restore_rng_states(states)
    except Exception as err:  # TypeError, ValueError, RuntimeError, KeyError, AttributeError, OverflowError...
        detail = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        return f"its RNG states cannot be restored ({detail})"
    finally:
        restore_rng_states(current)
    return None


def checkpoint_problem(state: dict[str, Any], config: Config) -> str | None:
    """What is wrong with a loaded checkpoint for `config` (the run's experiment), or None."""
    epoch = state.get("epoch")
    if not _is_int(epoch) or not 0 <= epoch <= EPOCH_LIMIT:
        return f"epoch must be a whole number from 0 to {EPOCH_LIMIT:,} (got {_shown(epoch)})"
    if "elapsed_s" in state and (not _is_finite_number(state["elapsed_s"]) or state["elapsed_s"] < 0):
        return f"elapsed_s must be a finite number of seconds >= 0 (got {_shown(state['elapsed_s'])})"
    shapes = expected_shapes(config)
    odd_tensor = first_layout_problem(state, "checkpoint")
    if odd_tensor is not None:  # first: every check below reads tensors as dense ones
        return odd_tensor
    return (model_problem(state.get("model"), shapes)
            or _optimizer_problem(state.get("optimizer"), shapes, epoch, config)
            or _scheduler_problem(state.get("scheduler"), epoch, config) or _rng_problem(state.get("rng"))
            # the filter acts once per optimizer step; checkpoints fall on epoch ends
            or filter_state_problem(state.get("grokfast"), config, list(shapes.values()),
                                    epoch * config.steps_per_epoch))


def validate_checkpoint(state: dict[str, Any], config: Config, path: Path) -> None:
    """Raise CheckpointError (one line naming the file and what is wrong) unless every entry of the loaded
    checkpoint fits `config`; called before anything of the run is changed."""
    problem = checkpoint_problem(state, config)
    if problem is not None:
        raise CheckpointError(f"{path}: {problem}; it was left as it is; use --fresh to start the run over")
