"""Sweeps: grid expansion and tags, validation before anything starts, the local executor's runs equal
one-by-one runs, idempotent re-runs, a growing grid, and SIGTERM leaving every member resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.core.config import ConfigError, is_valid_tag
from grok_tui.run.sessions import read_sessions
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.lock import lock_owner
from grok_tui.sweeps.grid import expand, member_tag, parse_values
from grok_tui.training.trainer import train_grokking

TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--device", "cpu",
        "--log-every", "10", "--checkpoint-every", "50"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def sweep(root: Path, *flags: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grok_tui.cli", "sweep", "s", "--root", str(root), *TINY, *flags],
                          cwd=root, env=ENV, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def without_time(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


# ---------------------------------------------------------------- the grid


def test_values_are_lists_ranges_or_one_value() -> None:
    assert parse_values("seed", "0-4") == [0, 1, 2, 3, 4]
    assert parse_values("seed", "3,0-1") == [3, 0, 1]
    assert parse_values("weight_decay", "0.1,0.3,1") == [0.1, 0.3, 1.0]
    assert parse_values("lr", "1e-3") == [0.001]
    assert parse_values("operation", "add,sub") == ["add", "sub"]
    for name, text, rule in [("seed", "4-0", "a range must go up"), ("seed", "0,x", "whole numbers"),
                             ("weight_decay", "0.1,,1", "numbers separated by commas"),
                             ("seed", "1,1", "each value once"), ("seed", "0-99999", "at most")]:
        with pytest.raises(ConfigError, match=rule):
            parse_values(name, text)


def test_tags_are_readable_unique_valid_and_stable() -> None:
    base = tiny_config()
    axes = {"seed": [0, 1, 2], "weight_decay": [0.1, 0.3, 1.0], "frac_train": [0.2, 0.5]}
    members = expand("fs", base, axes).members
    tags = [m.tag for m in members]
    assert len(tags) == len(set(tags)) == 18
    assert all(is_valid_tag(tag) for tag in tags)
    assert "fs.wd0.3.ft0.2.s1" in tags  # the example: seed last
    assert tags == [m.tag for m in expand("fs", base, dict(reversed(list(axes.items())))).members]
    assert member_tag("x", {"lr": 1e-05, "seed": 3}) == "x.lr1e-05.s3"
    member = next(m for m in members if m.tag == "fs.wd0.3.ft0.2.s1")
    assert (member.config.seed, member.config.weight_decay, member.config.frac_train) == (1, 0.3, 0.2)
    assert member.config.p == base.p and member.config.tag == member.tag


def test_a_bad_member_is_named_and_the_axes_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"member g\.p12\.s0: p: must be a prime"):
        expand("g", tiny_config(), {"p": [11, 12], "seed": [0]})
    with pytest.raises(ConfigError, match="tag: cannot be swept"):
        expand("g", tiny_config(), {"tag": ["a", "b"]})
    with pytest.raises(ConfigError, match="the name must be a valid tag"):
        expand("../g", tiny_config(), {"seed": [0, 1]})
    with pytest.raises(ConfigError, match="more than 10,000"):
        expand("g", tiny_config(), {"seed": list(range(200)), "lr": [0.1 * i + 0.1 for i in range(51)]})


def test_a_member_keeps_its_tag_when_a_fixed_field_becomes_an_axis() -> None:
    first = expand("k", tiny_config(weight_decay=0.5), {"seed": [0, 1]}).members
    grown = expand("k", tiny_config(), {"seed": [0, 1], "weight_decay": [0.5, 1.0]}, first).members
    assert [m.tag for m in grown] == ["k.s0", "k.s1", "k.wd1.s0", "k.wd1.s1"]


# ---------------------------------------------------------------- the command


def test_bad_values_exit_2_in_one_line_and_write_nothing(tmp_path: Path) -> None:
    for flags, rule in [(["--weight-decay=-1,1"], "member s.wd-1: weight_decay: must be a finite number >= 0"),
                        (["--seed", "0,zero"], "seed: must be whole numbers or ranges"),
                        (["--threads", "1,2"], "threads: cannot be swept"),
                        (["--workers", "0"], "workers: must be between 1")]:
        result = sweep(tmp_path, *flags, "--num-epochs", "20")
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().startswith("grok-tui: error: ") and rule in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_dry_run_lists_members_and_time_and_writes_nothing(tmp_path: Path) -> None:
    result = sweep(tmp_path, "--seed", "0-2", "--lr", "1e-3,3e-3", "--num-epochs", "100", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MEMBER", "LR", "SEED", "WOULD", "EPOCHS", "LEFT"]
    assert "s.lr0.001.s0" in result.stdout and "s.lr0.003.s2" in result.stdout
    assert "6 members, 6 to train on" in lines[-1] and "about" in lines[-1]
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-member sweep (2 seeds x 2 weight decays) trained once on the local pool, 2 workers."""
    root = tmp_path_factory.mktemp("sweep")
    result = sweep(root, "--seed", "0-1", "--weight-decay", "0.5,1", "--num-epochs", "60", "--workers", "2")
    assert result.returncode == 0, result.stderr
    return root


TAGS = ["s.wd0.5.s0", "s.wd0.5.s1", "s.wd1.s0", "s.wd1.s1"]


def test_the_pool_trains_every_member_like_a_run_of_its_own(swept: Path, tmp_path: Path) -> None:
    for tag in TAGS:
        paths = RunPaths.of(tag, swept)
        seed, wd = int(tag[-1]), float(tag.split(".wd")[1].split(".s")[0])
        alone = train_grokking(tiny_config(tag=tag, seed=seed, weight_decay=wd, num_epochs=60, threads=1),
                               root=tmp_path)
        assert without_time(read_log(paths.log)) == without_time(read_log(alone.paths.log)), tag
        trained = load_checkpoint(paths.checkpoint)
        assert trained["epoch"] == 60
        for name, tensor in alone.model.state_dict().items():
            assert torch.equal(trained["model"][name], tensor), f"{tag}: {name}"
        assert [s["threads"] for s in read_sessions(paths.sessions)] == [1]  # one thread per member
    definition = json.loads((swept / "sweeps" / "s.json").read_text())
    assert [m["tag"] for m in definition["members"]] == TAGS
    assert definition["axes"] == {"weight_decay": [0.5, 1.0], "seed": [0, 1]}


def test_running_it_again_trains_nothing(swept: Path) -> None:
    before = {tag: RunPaths.of(tag, swept).log.read_bytes() for tag in TAGS}
    result = sweep(swept, "--seed", "0-1", "--weight-decay", "0.5,1", "--num-epochs", "60")
    assert result.returncode == 0, result.stderr
    assert "4 members (weight_decay x2, seed x2), 0 to train" in result.stdout
    assert {tag: RunPaths.of(tag, swept).log.read_bytes() for tag in TAGS} == before
    assert all(len(read_sessions(RunPaths.of(tag, swept).sessions)) == 1 for tag in TAGS)


def test_a_grown_grid_trains_only_the_new_members(swept: Path) -> None:
    result = sweep(swept, "--seed", "0-2", "--weight-decay", "0.5,1", "--num-epochs", "60")
    assert result.returncode == 0, result.stderr
    assert "6 members (weight_decay x2, seed x2)" not in result.stdout and "6 members" in result.stdout
    assert ", 2 to train" in result.stdout
    assert all(len(read_sessions(RunPaths.of(tag, swept).sessions)) == 1 for tag in TAGS)
    for tag in ("s.wd0.5.s2", "s.wd1.s2"):
        assert load_checkpoint(RunPaths.of(tag, swept).checkpoint)["epoch"] == 60
    # The same command without the new value again: nothing is deleted, nothing trains.
    again = sweep(swept, "--seed", "0-1", "--weight-decay", "0.5,1", "--num-epochs", "60")
    assert "6 members" in again.stdout and ", 0 to train" in again.stdout


def test_an_existing_run_of_another_experiment_is_refused(swept: Path) -> None:
    result = sweep(swept, "--seed", "0-1", "--weight-decay", "0.5,1", "--lr", "0.01", "--num-epochs", "60")
    assert result.returncode == 2
    assert "member s.wd0.5.s0: run exists with other settings (lr" in result.stderr


def test_sigterm_stops_every_member_with_a_checkpoint(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "grok_tui.cli", "sweep", "long", "--root", str(tmp_path),
                                *TINY, "--seed", "0-2", "--num-epochs", "1000000", "--checkpoint-every", "100000",
                                "--workers", "2"], cwd=tmp_path, env=ENV, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tags = ["long.s0", "long.s1"]
    deadline = time.monotonic() + 120
    while not all(len(read_log(RunPaths.of(t, tmp_path).log)) >= 2 for t in tags):
        assert time.monotonic() < deadline, "the members did not start"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert b"stopping every member after its epoch" in err and b"to go on" in err
    for tag in tags:
        paths = RunPaths.of(tag, tmp_path)
        assert lock_owner(paths) is None
        epoch = load_checkpoint(paths.checkpoint)["epoch"]
        assert epoch > 0 and read_log(paths.log)[-1]["epoch"] == epoch  # stopped on a logged, saved epoch
    assert not RunPaths.of("long.s2", tmp_path).exists()  # queued, never started
