"""A checkpoint trusted too far (issue 16, item 5): every entry is checked against the run's config first.

`epoch = -50` in a checkpoint cut the whole log away without --fresh; a string or tensor epoch, a missing,
extra or wrongly shaped weight, an empty optimizer state, a bad scheduler or RNG state, a non-number
elapsed_s were each a traceback. Now `grok-tui train` refuses each with exit 2 and one line naming the file
and what is wrong, and leaves every file of the run as it was (bytes compared).

A generated test replaces one entry anywhere in the checkpoint with an arbitrary value: either the
validation refuses it with CheckpointError, or restoring the model, optimizer, scheduler and RNG states
from it (as the trainer does) works: nothing in between is a traceback.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_config
from grok_tui.run.checkpoint import checkpoint_problem, restore_rng_states, validate_checkpoint
from grok_tui.cli.main import main
from grok_tui.core.errors import CheckpointError
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking
from grok_tui.experiment.optimizers import warmup_factor

CONFIG = tiny_config(num_epochs=20, log_every=5, checkpoint_every=10, measure_every=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("run")
    train_grokking(CONFIG, root=root)
    paths = RunPaths.of(CONFIG.tag, root)
    return root, torch.load(paths.checkpoint, weights_only=True)


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def set_in(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return apply


def delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def apply(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return apply


BAD = {
    "epoch-negative": (set_in(("epoch",), -50), "epoch must be a whole number"),
    "epoch-string": (set_in(("epoch",), "20"), "epoch must be a whole number"),
    "epoch-none": (set_in(("epoch",), None), "epoch must be a whole number"),
    "epoch-tensor": (set_in(("epoch",), torch.tensor(20)), "epoch must be a whole number"),
    "epoch-float": (set_in(("epoch",), 20.0), "epoch must be a whole number"),
    "epoch-bool": (set_in(("epoch",), True), "epoch must be a whole number"),
    "epoch-huge": (set_in(("epoch",), 2**64), "epoch must be a whole number"),
    "epoch-other": (set_in(("epoch",), 15), "optimizer step 20 does not match the checkpoint's epoch 15"),
    "elapsed-string": (set_in(("elapsed_s",), "1.5"), "elapsed_s must be a finite number"),
    "elapsed-nan": (set_in(("elapsed_s",), float("nan")), "elapsed_s must be a finite number"),
    "elapsed-negative": (set_in(("elapsed_s",), -3.0), "elapsed_s must be a finite number"),
    "model-missing": (delete(("model", "W_E")), "model weights missing: W_E"),
    "model-extra": (set_in(("model", "W_X"), torch.zeros(2)), "unexpected model weights: W_X"),
    "model-shape": (set_in(("model", "W_U"), torch.zeros(16, 13)), "model weight W_U has shape (16, 13)"),
    "model-int": (set_in(("model", "b_in"), torch.zeros(64, dtype=torch.int64)), "not a floating-point tensor"),
    "model-nan": (set_in(("model", "W_in"), torch.full((64, 16), float("nan"))), "NaN or infinite"),
    "model-list": (set_in(("model",), [1, 2]), "its model weights are"),
    "optimizer-empty": (set_in(("optimizer", "state"), {}), "its optimizer state is empty at epoch 20"),
    "optimizer-none": (set_in(("optimizer",), None), "its optimizer state is None"),
    "optimizer-groups": (set_in(("optimizer", "param_groups"), []), "param_groups"),
    "optimizer-shape": (set_in(("optimizer", "state", 3, "exp_avg"), torch.zeros(5)), "optimizer exp_avg of weight 3"),
    "optimizer-step": (set_in(("optimizer", "state", 0, "step"), "x"), "optimizer step of weight 0"),
    "optimizer-lr": (set_in(("optimizer", "param_groups", 0, "lr"), "fast"), "optimizer lr"),
    "scheduler-none": (set_in(("scheduler",), None), "its scheduler state is None"),
    "scheduler-epoch": (set_in(("scheduler", "last_epoch"), 7), "scheduler last_epoch is 7"),
    "scheduler-lrs": (set_in(("scheduler", "base_lrs"), []), "scheduler base_lrs"),
    "scheduler-lambda": (set_in(("scheduler", "lr_lambdas"), [{"x": 1}]), "scheduler lr_lambdas"),
    "rng-none": (set_in(("rng",), None), "its RNG states are None"),
    "rng-torch": (set_in(("rng", "torch"), torch.zeros(10, dtype=torch.uint8)), "RNG states cannot be restored"),
    "rng-numpy": (set_in(("rng", "numpy", "keys"), torch.zeros(5, dtype=torch.int64)), "numpy RNG keys"),
    "rng-numpy-pos": (set_in(("rng", "numpy", "pos"), "x"), "RNG states cannot be restored"),
    "rng-python": (set_in(("rng", "python"), (3, (1, 2), None)), "RNG states cannot be restored"),
    "rng-cuda": (set_in(("rng", "cuda"), "x"), "CUDA RNG states"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_checkpoint_entry_is_one_line_exit_2_and_nothing_changes(
        name: str, trained: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, good = trained
    root = tmp_path / "copy"
    for rel, data in files_of(source).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    paths = RunPaths.of(CONFIG.tag, root)
    state = copy.deepcopy(good)
    mutate, expected = BAD[name]
    mutate(state)
    torch.save(state, paths.checkpoint)
    before = files_of(root)
    status = main(["train", "--root", str(root), "--tag", CONFIG.tag, "--num-epochs", "30"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, err
    assert len(err) == 1 and err[0].startswith(f"grok-tui: error: {paths.checkpoint}: "), err
    assert expected in err[0] and "use --fresh" in err[0], err
    assert files_of(root) == before  # the log (all 5 records), config.json, events.json, the PNGs: untouched
    assert not paths.lock.exists()


def test_the_good_checkpoint_passes_and_resumes(trained: tuple[Path, dict[str, Any]]) -> None:
    root, good = trained
    assert checkpoint_problem(good, CONFIG) is None
    paths = RunPaths.of(CONFIG.tag, root)
    validate_checkpoint(good, CONFIG, paths.checkpoint)


def test_validation_leaves_the_rng_states_as_they_were(trained: tuple[Path, dict[str, Any]]) -> None:
    _, good = trained
    torch.manual_seed(123)
    np.random.seed(4)
    random.seed(5)
    expected = (torch.rand(3), np.random.rand(), random.random())
    torch.manual_seed(123)
    np.random.seed(4)
    random.seed(5)
    for state in (good, {**good, "rng": {**good["rng"], "python": "junk"}}):
        checkpoint_problem(state, CONFIG)
    got = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]


def restore(state: dict[str, Any]) -> None:
    """What TrainingLoop does with a checkpoint (grok_tui/trainer.py)."""
    model = SimpleTransformer(CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=CONFIG.lr, weight_decay=CONFIG.weight_decay,
                                  betas=tuple(CONFIG.betas))  # type: ignore[arg-type]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(CONFIG.warmup_steps))
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    restore_rng_states(state["rng"])
    int(state["epoch"]), float(state.get("elapsed_s", 0.0))
    loss = model(torch.tensor([[1, 2, CONFIG.p]]))[:, -1].logsumexp(-1).sum()
    loss.backward()
    optimizer.step()  # the moments must fit the weights
    scheduler.step()


def entry_paths(state: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(state, dict):
        for key, value in state.items():
            if prefix == () and key in ("format", "config"):
                continue  # checked by load_checkpoint and the experiment check, tested in test_checkpoint.py
            found += entry_paths(value, prefix + (key,))
    elif isinstance(state, (list, tuple)) and len(state) <= 4:
        for index, value in enumerate(state):
            found += entry_paths(value, prefix + (index,))
    return found


odd_values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=4),
                       st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                                 max_size=2),
                       st.builds(torch.zeros, st.integers(0, 3)), st.just(torch.tensor(float("nan"))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_one_entry_replaced_is_refused_or_restores(trained: tuple[Path, dict[str, Any]], data: st.DataObject) -> None:
    _, good = trained
    state = copy.deepcopy(good)
    where = data.draw(st.sampled_from(entry_paths(good)), label="entry")
    value = data.draw(odd_values, label="value")
    parent = state
    for key in where[:-1]:
        if isinstance(parent[key], tuple):
            parent[key] = list(parent[key])
        parent = parent[key]
    parent[where[-1]] = value
    try:
        validate_checkpoint(state, CONFIG, Path("checkpoint.pth"))
    except CheckpointError as err:
        assert "\n" not in str(err)
        return
    restore(state)  # accepted: then the trainer's restoring must work
