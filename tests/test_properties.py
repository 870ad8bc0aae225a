"""Property-based tests (hypothesis): the validator and the log reader never crash, whatever they get."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grok_tui.core.config import Config, ConfigError, is_valid_tag
from grok_tui.run.log import RunLogReader, encode_record
from grok_tui.run.paths import RunPaths

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.lists(st.floats(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["p", "operation", "frac_train", "seed", "d_model", "num_heads", "d_mlp", "lr",
                              "weight_decay", "betas", "warmup_steps", "num_epochs", "log_every",
                              "checkpoint_every", "device", "tag"]),
       value=ANY_VALUE)
def test_validator_names_the_field_for_any_value(field: str, value: object) -> None:
    config = Config(**{field: value})  # type: ignore[arg-type]
    problems = config.problems()
    assert all(isinstance(p, str) and ":" in p for p in problems)
    if problems:
        assert any(p.startswith(f"{field}:") or p.startswith("frac_train:") or p.startswith("num_heads:")
                   for p in problems)


@settings(max_examples=300, deadline=None)
@given(tag=st.text(max_size=80))
def test_a_valid_tag_never_leaves_the_run_folders(tag: str) -> None:
    if is_valid_tag(tag):
        paths = RunPaths.of(tag, "/r")
        assert paths.log_dir.parent == Path("/r/logs") and paths.model_dir.parent == Path("/r/models")
        assert os.path.normpath(paths.log_dir) == str(paths.log_dir)  # no '..' or '.' components
    else:
        try:
            RunPaths.of(tag, "/r")
        except ConfigError as err:
            assert str(err).startswith("tag:")
        else:
            raise AssertionError(f"invalid tag {tag!r} accepted")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(max_size=300), max_size=8), good=st.integers(0, 5))
def test_reader_survives_random_bytes(tmp_path: Path, chunks: list[bytes], good: int) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"")
    reader = RunLogReader(path)
    got = []
    valid = "".join(encode_record({"epoch": e, "train_loss": 1.0}) for e in range(good)).encode()
    for chunk in [valid, *chunks, b"\n", valid]:
        with open(path, "ab") as handle:
            handle.write(chunk)
        update = reader.poll(max_bytes=97)
        while True:
            got.extend(update.records)
            more = reader.poll(max_bytes=97)
            if not more.records and reader.offset >= path.stat().st_size:
                break
            update = more
    assert all(isinstance(r["epoch"], int) and r["epoch"] >= 0 for r in got)
    assert len([r for r in got if r.get("train_loss") == 1.0]) >= good  # the final valid block survives
    assert reader.skipped >= 0
