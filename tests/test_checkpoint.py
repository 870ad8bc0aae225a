"""Checkpoints: atomic writes, safe loading (weights_only), clear errors, exact RNG restore."""

from __future__ import annotations

import os
import pathlib
import pickle
import random
import shlex

import numpy as np
import pytest
import torch

from grok_tui.core.atomic import atomic_write_bytes, atomic_write_with
from grok_tui.core.errors import CheckpointError
from grok_tui.run.checkpoint import FORMAT, load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from grok_tui.core.config import Config
from grok_tui.experiment.model import SimpleTransformer


@pytest.fixture(autouse=True)
def _keep_global_rngs():
    """These tests move the global RNGs; put them back for whoever runs next."""
    py, npy, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(py)
    np.random.set_state(npy)
    torch.set_rng_state(th)


def _state() -> dict:
    config = Config(p=7, d_model=16, num_heads=2)
    torch.manual_seed(0)
    model = SimpleTransformer(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    model(torch.tensor([[1, 2, 7]])).sum().backward()
    optimizer.step()
    return {
        "epoch": 123,
        "elapsed_s": 4.5,
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": {"last_epoch": 123, "_step_count": 124},
        "rng": rng_states(),
    }


def _files(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- round trip


def test_save_load_round_trip(tmp_path) -> None:
    state = _state()
    path = tmp_path / "models" / "ckpt.pt"  # the folder is created
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert loaded["format"] == FORMAT
    assert loaded["epoch"] == 123 and loaded["elapsed_s"] == 4.5
    assert loaded["config"] == state["config"]
    assert Config.from_dict(loaded["config"]) == Config(p=7, d_model=16, num_heads=2)
    assert loaded["scheduler"] == state["scheduler"]
    assert loaded["model"].keys() == state["model"].keys()
    for key, tensor in state["model"].items():
        assert torch.equal(loaded["model"][key], tensor), key
    opt_state = state["optimizer"]["state"]
    for index, slots in opt_state.items():
        for slot, value in slots.items():
            got = loaded["optimizer"]["state"][index][slot]
            assert torch.equal(got, value) if torch.is_tensor(value) else got == value
    assert loaded["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    assert _files(path.parent) == ["ckpt.pt"]


def test_loaded_model_state_restores_a_model(tmp_path) -> None:
    state = _state()
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = load_checkpoint(tmp_path / "c.pt")
    torch.manual_seed(99)
    model = SimpleTransformer(Config.from_dict(loaded["config"]))
    model.load_state_dict(loaded["model"])
    tokens = torch.tensor([[3, 4, 7]])
    torch.manual_seed(0)
    reference = SimpleTransformer(Config(p=7, d_model=16, num_heads=2))
    reference.load_state_dict(state["model"])
    assert torch.equal(model(tokens), reference(tokens))


# ---------------------------------------------------------------- atomic writes


def test_failed_write_leaves_old_file_and_no_temp_files(tmp_path) -> None:
    path = tmp_path / "ckpt.pt"
    atomic_write_bytes(path, b"the old checkpoint")

    def write_then_fail(handle) -> None:
        handle.write(b"half of a new")
        handle.flush()
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write_with(path, write_then_fail)
    assert path.read_bytes() == b"the old checkpoint"
    assert _files(tmp_path) == ["ckpt.pt"]


def test_failed_first_write_leaves_nothing(tmp_path) -> None:
    path = tmp_path / "new.pt"

    def write_then_fail(handle) -> None:
        handle.write(b"x" * 10_000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_with(path, write_then_fail)
    assert _files(tmp_path) == []


def test_failed_save_checkpoint_keeps_the_old_checkpoint(tmp_path) -> None:
    path = tmp_path / "ckpt.pt"
    good = _state()
    save_checkpoint(path, good)
    before = path.read_bytes()
    bad = {**good, "epoch": 124, "scheduler": {"fn": lambda step: step}}  # cannot be pickled
    with pytest.raises(Exception):
        save_checkpoint(path, bad)
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 123
    assert _files(tmp_path) == ["ckpt.pt"]


def test_successful_write_replaces_the_file(tmp_path) -> None:
    path = tmp_path / "f"
    atomic_write_bytes(path, b"old")
    inode = os.stat(path).st_ino
    atomic_write_with(path, lambda handle: handle.write(b"new"))
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_ino != inode
    assert _files(tmp_path) == ["f"]


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a checkpoint", os.urandom(4096), b"PK\x03\x04" + b"\x00" * 100],
    ids=["empty", "text", "random", "zip-header"],
)
def test_garbage_raises_checkpoint_error_naming_the_path(tmp_path, content: bytes) -> None:
    path = tmp_path / "ckpt.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # left as it is


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_checkpoint_raises_checkpoint_error(tmp_path, fraction: float) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, _state())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_file_raises_checkpoint_error(tmp_path) -> None:
    path = tmp_path / "nowhere" / "ckpt.pt"
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_keys_raise_checkpoint_error(tmp_path) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({"format": FORMAT, "epoch": 3, "model": {}}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    for key in ("config", "optimizer", "scheduler", "rng"):
        assert key in message


def test_each_required_key_is_required(tmp_path) -> None:
    full = _state()
    for key in ("epoch", "config", "model", "optimizer", "scheduler", "rng"):
        path = tmp_path / f"no-{key}.pt"
        save_checkpoint(path, {k: v for k, v in full.items() if k != key})
        with pytest.raises(CheckpointError, match=rf"missing [^)]*\b{key}\b"):
            load_checkpoint(path)


def test_non_dict_payload_raises_checkpoint_error(tmp_path) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save([torch.zeros(3), 1, 2], path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_unknown_format_raises_checkpoint_error(tmp_path) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({**_state(), "format": FORMAT + 1}, path)
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(path)


# ---------------------------------------------------------------- hostile pickles


class _ShellPayload:
    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


class _TouchPayload:
    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _hostile_state(payload: object) -> dict:
    state = _state()
    state["config"] = {"tag": payload}
    return {"format": FORMAT, **state}


@pytest.mark.parametrize("payload_class", [_ShellPayload, _TouchPayload], ids=["os.system", "Path.touch"])
def test_hostile_torch_save_is_refused_and_not_run(tmp_path, payload_class) -> None:
    # The control: the payload is live; loading it the unsafe way would create the marker.
    control_marker = tmp_path / "control-ran"
    control = tmp_path / "control.pt"
    torch.save(_hostile_state(payload_class(control_marker)), control)
    torch.load(control, weights_only=False)
    assert control_marker.exists()

    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.pt"
    torch.save(_hostile_state(payload_class(marker)), path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("payload_class", [_ShellPayload, _TouchPayload], ids=["os.system", "Path.touch"])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_hostile_raw_pickle_is_refused_and_not_run(tmp_path, payload_class, protocol: int) -> None:
    control_marker = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(payload_class(control_marker), protocol=protocol))
    assert control_marker.exists()

    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.pt"
    with open(path, "wb") as handle:
        pickle.dump(_hostile_state(payload_class(marker)), handle, protocol=protocol)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


# ---------------------------------------------------------------- RNG states


def _draw() -> tuple:
    return (
        torch.rand(5).tolist(),
        torch.randn(3).tolist(),
        np.random.rand(4).tolist(),
        np.random.randn(3).tolist(),  # odd count: leaves a cached gaussian behind
        [random.random() for _ in range(4)],
        random.gauss(0, 1),
        random.getrandbits(64),
    )


def test_rng_states_restore_every_stream_exactly() -> None:
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    _draw()  # leave the generators mid-stream, with cached gaussians
    states = rng_states()
    first = _draw()
    second = _draw()
    assert first != second  # the streams do move on
    restore_rng_states(states)
    assert _draw() == first
    assert _draw() == second


def test_rng_states_survive_a_checkpoint_file(tmp_path) -> None:
    torch.manual_seed(17)
    np.random.seed(17)
    random.seed(17)
    np.random.randn(1)
    random.gauss(0, 1)
    state = _state()  # snapshots the RNGs in "rng" (after _state's own torch.manual_seed(0))
    expected = _draw()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, state)
    torch.manual_seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    assert _draw() != expected
    restore_rng_states(load_checkpoint(path)["rng"])
    assert _draw() == expected
