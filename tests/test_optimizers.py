"""The optimizers of the literature (AdamW, Adam with coupled L2 weight decay, SGD with momentum) and seeded
minibatches: each built as its definition says, resumed exactly, refused when changed on resume, swept and
named; minibatch runs bitwise reproducible across resumes and thread counts; bad values one line, exit 2."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.config import Config, ConfigError
from grok_tui.core.errors import CheckpointError
from grok_tui.experiment.memory import check_fits, estimate_bytes
from grok_tui.experiment.optimizers import epoch_order, make_optimizer
from grok_tui.figures.groups import optimizer_text
from grok_tui.run.checkpoint import load_checkpoint, save_checkpoint
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.sweeps.grid import expand, parse_values
from grok_tui.training.loop import TrainingLoop
from grok_tui.training.trainer import train_grokking


def without_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


# ---------------------------------------------------------------- each optimizer as defined


def test_make_optimizer_builds_the_named_class_with_the_config_hyperparameters() -> None:
    params = [torch.nn.Parameter(torch.ones(3))]
    config = Config(lr=2e-3, weight_decay=0.5, betas=(0.8, 0.9), adam_eps=1e-12, momentum=0.7)
    for name, kind in (("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)):
        optimizer = make_optimizer(params, dataclasses.replace(config, optimizer=name))
        assert type(optimizer) is kind, name
        group = optimizer.param_groups[0]
        assert group["lr"] == 2e-3 and group["weight_decay"] == 0.5
        if name == "sgd":
            assert group["momentum"] == 0.7 and group["dampening"] == 0 and group["nesterov"] is False
        else:
            assert group["betas"] == (0.8, 0.9) and group["eps"] == 1e-12
    assert make_optimizer(params, Config()).param_groups[0]["decoupled_weight_decay"] is True  # the default
    assert not make_optimizer(params, Config(optimizer="adam")).param_groups[0]["decoupled_weight_decay"]


def test_an_adam_step_equals_torch_adam_applied_by_hand_with_the_decay_in_the_gradient(root: Path) -> None:
    """Three steps of the loop with `adam` equal torch.optim.Adam on copies of the weights fed the same
    gradients; and the first step is Adam's on g + wd * w (coupled L2), not AdamW's decoupled decay."""
    config = tiny_config(tag="a", threads=1, optimizer="adam", weight_decay=0.3, lr=1e-2, warmup_steps=0,
                         measure_every=0)
    loop = TrainingLoop(config, RunPaths.of("a", root), torch.device("cpu"), None, None, None)
    copies = [torch.nn.Parameter(p.detach().clone()) for p in loop.params]
    by_hand = torch.optim.Adam(copies, lr=1e-2, weight_decay=0.3, betas=(0.9, 0.98), eps=1e-8)
    first = [p.detach().clone() for p in loop.params]
    for n in range(3):
        loop.backward()
        for copy, param in zip(copies, loop.params):
            assert param.grad is not None
            copy.grad = param.grad.clone()
        loop.optimizer.zero_grad(set_to_none=True)
        loop.optimizer_step(None)
        by_hand.step()
        assert all(torch.equal(c, p) for c, p in zip(copies, loop.params)), n
        if n == 0:
            for w0, copy, param in zip(first, copies, loop.params):
                g = copy.grad + 0.3 * w0  # assert-only: Adam's first step is lr * g / (|g| + eps), bias-corrected
                assert torch.allclose(param.detach(), w0 - 1e-2 * g / (g.abs() + 1e-8), atol=1e-6)


def test_an_sgd_step_is_momentum_on_the_gradient_plus_decay(root: Path) -> None:
    config = tiny_config(tag="s", threads=1, optimizer="sgd", weight_decay=0.1, lr=0.5, momentum=0.9,
                         warmup_steps=0, measure_every=0)
    loop = TrainingLoop(config, RunPaths.of("s", root), torch.device("cpu"), None, None, None)
    w0 = [p.detach().clone() for p in loop.params]
    loop.backward()
    g1 = [p.grad.clone() + 0.1 * w for p, w in zip(loop.params, w0)]  # type: ignore[union-attr]
    loop.optimizer.zero_grad(set_to_none=True)
    loop.optimizer_step(None)
    for param, w, g in zip(loop.params, w0, g1):  # the first step: the buffer is the gradient itself
        assert torch.allclose(param.detach(), w - 0.5 * g, atol=1e-7)


# ---------------------------------------------------------------- resume, refusal, labels, sweeps


@pytest.mark.parametrize("fields", [{"optimizer": "adam", "weight_decay": 0.005},
                                    {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9},
                                    {"optimizer": "adam", "batch_size": 7},
                                    {"optimizer": "sgd", "lr": 0.01, "batch_size": 16, "grokfast": "ma",
                                     "grokfast_window": 3}])
def test_resume_is_exact_with_each_optimizer(fields: dict[str, Any], root: Path) -> None:
    """N epochs in one go equal N/2 + resume + N/2: every logged value and every weight, bit for bit (the
    checkpoint's optimizer state validates against a fresh optimizer of the same kind)."""
    config = tiny_config(tag="r", threads=1, num_epochs=40, checkpoint_every=20, measure_every=0, **fields)
    whole = train_grokking(config, resume=False, root=root / "whole")
    train_grokking(dataclasses.replace(config, num_epochs=20), resume=False, root=root / "split")
    split = train_grokking(config, root=root / "split")
    assert same_weights(whole.model, split.model)
    logs = [without_time(read_log(RunPaths.of("r", root / name).log)) for name in ("whole", "split")]
    assert logs[0] == logs[1] and len(logs[0]) == 5


def test_changing_the_optimizer_or_the_batch_size_on_resume_is_refused_naming_it(root: Path) -> None:
    train_grokking(tiny_config(tag="x", threads=1, num_epochs=20), root=root)
    for field, value in (("optimizer", "adam"), ("batch_size", 8)):
        with pytest.raises(ConfigError, match=rf"\b{field} \("):
            train_grokking(tiny_config(tag="x", threads=1, num_epochs=40, **{field: value}), root=root)


def test_settings_the_optimizer_does_not_use_do_not_change_the_experiment() -> None:
    assert Config().experiment_differences(Config(momentum=0.5)) == []  # momentum means nothing to AdamW
    assert Config(optimizer="sgd").experiment_differences(Config(optimizer="sgd", betas=(0.5, 0.5))) == []
    assert Config(optimizer="sgd").experiment_differences(Config(optimizer="sgd", momentum=0.5))
    assert Config().experiment_differences(Config(betas=(0.5, 0.5)))


def test_a_checkpoint_whose_optimizer_state_does_not_fit_is_refused(root: Path) -> None:
    config = tiny_config(tag="t", threads=1, num_epochs=10, optimizer="sgd", lr=0.1, batch_size=16)
    result = train_grokking(config, root=root)
    state = load_checkpoint(result.paths.checkpoint)
    adam = train_grokking(dataclasses.replace(config, tag="u", optimizer="adam"), root=root)
    foreign = load_checkpoint(adam.paths.checkpoint)["optimizer"]
    for broken, message in ((foreign, "optimizer"), ({**state["scheduler"], "last_epoch": 10}, "scheduler")):
        key = "optimizer" if message == "optimizer" else "scheduler"
        save_checkpoint(result.paths.checkpoint, {**state, key: broken})
        with pytest.raises(CheckpointError, match=message):
            train_grokking(dataclasses.replace(config, num_epochs=20), root=root)


def test_labels_name_the_optimizer() -> None:
    assert optimizer_text(Config()) == "AdamW lr=0.001 wd=1"
    assert optimizer_text(Config(optimizer="adam", weight_decay=0.005)) == "Adam lr=0.001 L2=0.005"
    assert optimizer_text(Config(optimizer="sgd", orthograd=True, momentum=0.8, batch_size=64)) == \
        "\u22a5Grad-SGD lr=0.001 wd=1 momentum=0.8 batch=64"


def test_optimizer_and_batch_size_are_sweepable() -> None:
    base = tiny_config(tag="s")
    values = {"optimizer": parse_values("optimizer", "adamw,adam"), "batch_size": parse_values("batch_size", "0,8")}
    assert values == {"optimizer": ["adamw", "adam"], "batch_size": [0, 8]}
    members = expand("s", base, values).members
    assert sorted((m.config.optimizer, m.config.batch_size) for m in members) == \
        [("adam", 0), ("adam", 8), ("adamw", 0), ("adamw", 8)]
    assert len({m.tag for m in members}) == 4


@pytest.mark.parametrize("flags, rule", [
    (["--optimizer", "rmsprop"], "optimizer: must be one of adamw, adam, sgd (got 'rmsprop')"),
    (["--momentum", "1"], "momentum: must be a number in [0, 1) (got 1.0)"),
    (["--batch-size", "-1"], "batch_size: must be between 0 and"),
    (["--batch-size", "61"], "batch_size: must be at most the training set's 60 pairs, or 0 for full batch (got 61)"),
])
def test_bad_values_are_one_line_exit_2(flags: list[str], rule: str, root: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--root", str(root), "--tag", "b", "--p", "11", "--d-model", "16", "--num-heads", "2",
            "--frac-train", "0.5", "--device", "cpu", *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("grok-tui: error: ") and rule in err and len(err.strip().splitlines()) == 1
    assert not (root / "logs").exists() and not (root / "models").exists()


def test_the_form_sets_the_optimizer_fields_and_names_a_bad_one() -> None:
    from grok_tui.tui.form import FIELDS, field_text, parse_form

    chosen = tiny_config(tag="f", optimizer="sgd", momentum=0.8, batch_size=16)
    texts = {name: field_text(chosen, name) for _, name, _ in FIELDS}
    config, problems = parse_form(texts)
    assert problems == {} and config == chosen
    _, problems = parse_form({**texts, "batch_size": "61", "momentum": "x"})
    assert problems["batch_size"].startswith("batch_size: must be at most the training set's 60 pairs")
    assert problems["momentum"] == "momentum: must be a number (got 'x')"


# ---------------------------------------------------------------- minibatches


def test_full_batch_logs_one_step_per_epoch_and_minibatches_ceil_n_over_b(root: Path) -> None:
    full = train_grokking(tiny_config(tag="f", threads=1, num_epochs=20, measure_every=0), root=root)
    assert all(r["step"] == r["epoch"] for r in read_log(full.paths.log))
    config = tiny_config(tag="m", threads=1, num_epochs=20, measure_every=0, batch_size=16)  # 60 pairs: 4 steps
    assert config.steps_per_epoch == 4
    mini = train_grokking(config, root=root)
    assert [(r["epoch"], r["step"]) for r in read_log(mini.paths.log)] == [(0, 0), (10, 40), (20, 80)]
    state = load_checkpoint(mini.paths.checkpoint)
    assert state["scheduler"]["last_epoch"] == 80  # the warmup counts optimizer steps
    assert all(int(slot["step"]) == 80 for slot in state["optimizer"]["state"].values())


def test_an_epoch_order_is_a_permutation_drawn_from_the_seed_and_the_epoch_alone() -> None:
    order = epoch_order(3, 7, 60)
    assert sorted(order.tolist()) == list(range(60))
    torch.manual_seed(123)  # the global generator does not enter
    assert torch.equal(order, epoch_order(3, 7, 60))
    assert not torch.equal(order, epoch_order(3, 8, 60)) and not torch.equal(order, epoch_order(4, 7, 60))


def test_a_minibatch_run_stopped_mid_run_and_resumed_equals_an_uninterrupted_one(root: Path) -> None:
    """Stopped at epoch 13 (off every cadence: the stop's own checkpoint), then resumed."""
    config = tiny_config(tag="m", threads=1, num_epochs=30, checkpoint_every=20, measure_every=0, batch_size=7)
    whole = train_grokking(config, resume=False, root=root / "whole")

    class StopAt13:
        def __init__(self) -> None:
            self.epoch = 0

        def is_set(self) -> bool:
            self.epoch += 1
            return self.epoch == 13

    stopped = train_grokking(config, resume=False, root=root / "split", stop_event=StopAt13())
    assert stopped.status == "stopped" and stopped.epoch == 13
    split = train_grokking(config, root=root / "split")
    assert same_weights(whole.model, split.model)
    logs = [without_time(read_log(RunPaths.of("m", root / name).log)) for name in ("whole", "split")]
    assert [r for r in logs[1] if r["epoch"] != 13] == logs[0]


def test_minibatches_are_bitwise_equal_at_one_and_two_threads(root: Path) -> None:
    config = tiny_config(tag="t", p=23, d_model=32, num_heads=4, num_epochs=6, log_every=3, measure_every=0,
                         batch_size=50)
    one = train_grokking(dataclasses.replace(config, threads=1), root=root / "one")
    two = train_grokking(dataclasses.replace(config, threads=2), root=root / "two")
    assert same_weights(one.model, two.model)
    logs = [without_time(read_log(RunPaths.of("t", root / name).log)) for name in ("one", "two")]
    assert logs[0] == logs[1]


def test_the_memory_estimate_still_refuses_what_cannot_fit_with_minibatches() -> None:
    big = Config(p=997, d_model=2048, batch_size=512)
    estimate = estimate_bytes(big, 256 * 2**20, 256 * 2**20)
    with pytest.raises(ConfigError, match="p, d_model: a run with p=997"):
        check_fits(big, estimate, 2 * 10**9)
    small = estimate_bytes(Config(batch_size=64), 256 * 2**20, 256 * 2**20)
    assert small <= estimate_bytes(Config(), 256 * 2**20, 256 * 2**20)  # a minibatch needs no more than all
