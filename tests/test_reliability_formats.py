"""Generated (hypothesis) tests of the file formats not covered elsewhere (issue 16, targets): config.json,
events.json and the lock file. The log line is in test_reliability_logline.py, the checkpoint's entries in
test_reliability_checkpoint.py.

Each asserts that no content raises anything but the one-line error (ConfigError naming the file) or
reads as nothing (events), and that no file is changed by a refused command.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.config import Config, ConfigError, validate
from grok_tui.run.phases import Event, grokked_epoch, load_events
from grok_tui.run.lock import RunLock, _read_owner, held_message, lock_owner
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import summarize

FIELDS = [field.name for field in dataclasses.fields(Config)]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.integers(-3, 200),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                    st.sampled_from(["add", "sub", "cpu", "auto", "none", "ema", "softmax", "float64", "tiny"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                      max_leaves=6)
# A tiny valid config with some fields replaced by anything (or an unknown field added).
config_objects = st.builds(lambda replaced, extra: {**tiny_config().to_dict(), **replaced, **extra},
                           st.dictionaries(st.sampled_from(FIELDS), values, max_size=3),
                           st.dictionaries(st.sampled_from(["bogus", "d_hidden"]), values, max_size=1))
config_bytes = st.one_of(config_objects.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200),
                         values.map(lambda v: json.dumps(v).encode()),
                         st.just(b"[" * 100_000), st.just(b'{"p": ' + b"9" * 5000 + b"}"))
SLOW_OK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


@SLOW_OK
@given(content=config_bytes)
def test_any_config_json_loads_valid_or_is_one_config_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    paths = RunPaths.of("c", tmp_path)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    paths.config.write_bytes(content)
    try:
        config = Config.load(paths.config)
    except ConfigError as err:
        assert err.problems and all(problem.startswith(f"{paths.config}: ") for problem in err.problems)
        summary = summarize(paths)  # the reader's view: broken, with the reason
        assert summary.status == "broken" and str(paths.config) in summary.problem
    else:
        assert validate(config) == []  # whatever loads passed the one validation
    assert paths.config.read_bytes() == content


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(content=config_bytes)
def test_train_refuses_a_config_json_that_does_not_load_and_changes_no_file(
        tmp_path_factory: pytest.TempPathFactory, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path_factory.mktemp("train")
    paths = RunPaths.of("c", root)
    paths.log_dir.mkdir(parents=True)
    paths.config.write_bytes(content)
    try:
        Config.load(paths.config)
    except ConfigError:
        pass
    else:
        return  # a valid config would train: the refusal is what is tested here
    status = main(["train", "--root", str(root), "--tag", "c", "--num-epochs", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith(f"grok-tui: error: {paths.config}: "), err
    assert sorted(p.name for p in root.rglob("*")) == ["c", "config.json", "logs"]
    assert paths.config.read_bytes() == content


event_items = st.one_of(values, st.fixed_dictionaries({"name": values, "epoch": values, "text": values}),
                        st.fixed_dictionaries({"name": st.sampled_from(["grokked", "memorized"]),
                                               "epoch": st.integers(-5, 10**6), "text": st.text(max_size=5)}))
events_bytes = st.one_of(st.lists(event_items, max_size=4).map(lambda v: json.dumps(v).encode()),
                         values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=100),
                         st.just(b"[" * 200_000))


@SLOW_OK
@given(content=events_bytes)
def test_any_events_json_reads_as_events_or_none_and_is_left_as_it_was(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(content)
    events = load_events(path)
    assert isinstance(events, list) and all(isinstance(e, Event) and isinstance(e.epoch, int) for e in events)
    grokked = grokked_epoch(path)
    assert grokked is None or isinstance(grokked, int)
    assert path.read_bytes() == content


owner_objects = st.fixed_dictionaries({"pid": values, "host": values}) | values
lock_bytes = st.one_of(owner_objects.map(lambda v: json.dumps(v).encode()), st.binary(max_size=100),
                       st.just(json.dumps({"pid": os.getpid(), "host": "here"}).encode()),
                       st.just(b'{"pid": ' + b"9" * 5000 + b"}"), st.just(b"[" * 100_000))


@SLOW_OK
@given(content=lock_bytes)
def test_any_lock_file_nobody_holds_is_taken_over_and_only_ours_is_removed(tmp_path: Path, content: bytes) -> None:
    paths = RunPaths.of("l", tmp_path)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    paths.lock.write_bytes(content)
    fd = os.open(paths.lock, os.O_RDONLY)
    try:
        owner: dict[str, Any] = _read_owner(fd)
    finally:
        os.close(fd)
    assert set(owner) == {"pid", "host"}
    assert owner["pid"] == "?" or (type(owner["pid"]) is int and owner["pid"] > 0)
    assert owner["host"] == "?" or (isinstance(owner["host"], str) and owner["host"].isprintable())
    assert len(held_message(paths, owner).splitlines()) == 1
    assert lock_owner(paths) is None  # nobody holds it, whatever it says
    assert paths.lock.read_bytes() == content  # a reader's probe changes nothing
    with RunLock(paths):
        assert lock_owner(paths) == {"pid": os.getpid(), "host": lock_owner(paths)["host"]}  # type: ignore[index]
    assert not paths.lock.exists()  # ours (we held it): removed on release
