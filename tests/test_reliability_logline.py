"""Hostile log lines (issue 16, item 3): one bad line in training_log.jsonl never breaks a reader.

A line of 200,000 '[' made json.loads raise RecursionError, and a number of 4,000 digits parsed into an
int that float() cannot hold (OverflowError in `list`, `plot` and the TUI); 5,000 digits made json.loads
raise ValueError past Python's int-string limit. runlog.parse_record now checks each line against the
record's shape, so every reader (the run log reader, `list`, `plot`, the charts' series, the phase events,
the trainer's resume) gets only records it can use; the others are skipped and counted.

- Generated (hypothesis): lines of any shape (valid records, wrong types, huge ints, NaN/inf, nesting,
  bytes) between two valid records: no reader raises, every line is a record or one counted skip, and
  exactly the records of the shape come through.
- Hand-picked, through the CLI: `list` and `plot` exit 0 with the valid records; the trainer resumes a
  run whose log holds such lines; events.json (phases.load_events) of such content, a FIFO or a folder
  reads as no events, without blocking.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.errors import NoDataError
from grok_tui.run.phases import track
from grok_tui.figures.curves import measures_figure, training_figure
from grok_tui.run.log import CORE_KEYS, NUMBER_KEYS, RunLogReader, cut_back, encode_record, last_record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import summarize
from grok_tui.figures.series import RunSeries

DEEP = b"[" * 200_000
DIGITS_4000 = b"9" * 4000
DIGITS_5000 = b"9" * 5000
HOSTILE_LINES = [
    DEEP, b'{"epoch": 5, "x": ' + DEEP + b"}", b'{"epoch": 5, "train_loss": ' + DIGITS_4000 + b"}",
    b'{"epoch": ' + DIGITS_4000 + b"}", b'{"epoch": 5, "test_acc": ' + DIGITS_5000 + b"}",
    b'{"epoch": 5, "embed_freq_norms": [1.0, ' + DIGITS_4000 + b"]}", b'{"epoch": 5, "key_freqs": [true]}',
    b'{"epoch": 5, "train_acc": "0.5"}', b'{"epoch": -50}', b'{"epoch": 5.0}', b'{"epoch": true}',
    b"\xff\xfe garbage", b"[]", b"null", b'{"epoch": 5, "key_freqs": [' + b"1," * 200_000 + b"1]}",
]

MEASURE_KEYS = ("restricted_loss", "excluded_loss", "gini_embed", "gini_unembed", "key_freqs", "embed_freq_norms")


def good_record(epoch: int, **extra: Any) -> dict[str, Any]:
    return {"epoch": epoch, "train_loss": 1.0, "test_loss": 2.0, "train_acc": 0.5, "test_acc": 0.25,
            "lr": 1e-3, "weight_norm": 10.0, "elapsed_s": 0.1 * epoch, **extra}


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**400, 10**400), st.integers(-5, 200),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                      max_leaves=8)
record_dicts = st.dictionaries(st.sampled_from(CORE_KEYS + MEASURE_KEYS + ("other",)), values, max_size=10)
lines = st.one_of(
    record_dicts.map(lambda d: json.dumps(d).encode()),  # NaN / Infinity written as JSON's extensions
    st.builds(lambda epoch, d: json.dumps({**d, "epoch": epoch}).encode(), st.integers(1, 99), record_dicts),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    # The hand-picked kinds, small enough to keep shrinking cheap (5,000 '[' recurse out as 200,000 do).
    st.sampled_from([b"[" * 5000, b'{"epoch": 5, "x": ' + b"[" * 5000 + b"}",
                     b'{"epoch": 5, "train_loss": ' + DIGITS_4000 + b"}", b'{"epoch": ' + DIGITS_5000 + b"}",
                     b'{"epoch": 5, "embed_freq_norms": [1.0, ' + DIGITS_4000 + b"]}"]),
)


def is_number(value: Any) -> bool:
    return (type(value) is float) or (type(value) is int and abs(value) < 1e308)


def of_the_shape(record: dict[str, Any]) -> bool:
    """The rule, restated independently of runlog.py."""
    epoch = record.get("epoch")
    if type(epoch) is not int or not 0 <= epoch <= 2**53:
        return False
    if any(record.get(key) is not None and not is_number(record[key]) for key in NUMBER_KEYS):
        return False
    freqs, norms = record.get("key_freqs"), record.get("embed_freq_norms")
    if freqs is not None and not (isinstance(freqs, list) and all(type(k) is int and 0 <= k <= 100_000
                                                                      for k in freqs)):
        return False
    return norms is None or (isinstance(norms, list) and all(v is None or is_number(v) for v in norms))


def expected_of(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and of_the_shape(value) else None


def write_log(path: Path, body: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    measured = dict(restricted_loss=0.5, excluded_loss=2.0, gini_embed=0.3, gini_unembed=0.4, key_freqs=[2],
                    embed_freq_norms=[1.0, 3.0, 0.5, 0.2, 0.1])
    head, tail = encode_record(good_record(0)).encode(), encode_record(good_record(100, **measured)).encode()
    path.write_bytes(head + b"".join(line + b"\n" for line in body) + tail)


def use_records(records: list[dict[str, Any]]) -> None:
    """What the readers downstream of the log do with its records; none of it may raise."""
    phases = track(records)
    phases.phase(has_data=bool(records))
    series = RunSeries()
    series.extend(records)
    series.epochs_per_second()
    for key in ("train_loss", "test_acc", "restricted_loss"):
        series.values(key)
    series.freq_norms, series.key_freqs  # noqa: B018 (properties that parse the measured record)
    training_figure(records, "t")
    try:
        measures_figure(records, "t")
    except NoDataError:  # no measured line among them: the one-line error `plot --measures` gives
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(body=st.lists(lines, min_size=1, max_size=6))
def test_any_line_is_a_record_of_the_shape_or_one_counted_skip(tmp_path: Path, body: list[bytes]) -> None:
    paths = RunPaths.of("gen", tmp_path)
    write_log(paths.log, body)
    expected = [e for e in (expected_of(line) for line in body if line.strip()) if e is not None]
    reader = RunLogReader(paths.log)
    records = reader.read_all()
    assert records[0]["epoch"] == 0 and records[-1]["epoch"] == 100
    assert records[1:-1] == expected
    blank = sum(1 for line in body if not line.strip())  # blank lines are no lines at all
    assert reader.skipped == len(body) - len(expected) - blank
    small = RunLogReader(paths.log)
    chunked: list[dict[str, Any]] = []
    while True:  # the same through 7-byte polls (the TUI's incremental path)
        update = small.poll(max_bytes=7)
        chunked.extend(update.records)
        if not update.records and not small.has_more():
            break
    assert chunked == records and small.skipped == reader.skipped
    assert last_record(paths.log) == records[-1]
    use_records(records)
    summarize(paths)  # `list`'s reader
    kept = cut_back(paths.log, 100)  # the trainer's resume: drops the bad lines, keeps increasing epochs
    after = read_log(paths.log)
    assert kept == len(after) and all(a["epoch"] < b["epoch"] for a, b in zip(after, after[1:]))
    assert all(of_the_shape(r) for r in after)


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=lambda b: repr(b[:24]))
def test_list_and_plot_skip_the_line_and_exit_0(tmp_path: Path, line: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    paths = RunPaths.of("run", tmp_path)
    tiny_config(tag="run", num_epochs=100).save(paths.config)
    write_log(paths.log, [line])
    assert main(["list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "run" in out and "100/100" in out
    assert main(["plot", "run", "--root", str(tmp_path)]) == 0
    assert paths.curves_png.read_bytes().startswith(b"\x89PNG")
    if line in HOSTILE_LINES[:3]:  # the measures figure reads the same records; three cases are enough
        assert main(["plot", "run", "--measures", "--root", str(tmp_path)]) == 0


def test_the_trainer_resumes_a_run_whose_log_holds_hostile_lines(tmp_path: Path) -> None:
    from grok_tui.training.trainer import train_grokking

    config = tiny_config(num_epochs=10, log_every=5, checkpoint_every=10, measure_every=0)
    train_grokking(config, root=tmp_path)
    paths = RunPaths.of(config.tag, tmp_path)
    with open(paths.log, "ab") as log:
        for line in HOSTILE_LINES[:6]:
            log.write(line + b"\n")
    result = train_grokking(tiny_config(num_epochs=15, log_every=5, checkpoint_every=10, measure_every=0),
                            root=tmp_path)
    assert result.epoch == 15
    reader = RunLogReader(paths.log)
    assert [r["epoch"] for r in reader.read_all()] == list(range(0, 16, 5))
    assert reader.skipped == 0  # the resume's cut-back dropped them
    assert all(math.isfinite(r["train_loss"]) for r in read_log(paths.log))


@pytest.mark.parametrize("content", [b"[" * 200_000, b'[{"name": "grokked", "epoch": ' + DIGITS_5000 + b', "text": "x"}]',
                                     b'[{"name": "grokked", "epoch": 5, "text": ' + DIGITS_5000 + b"}]", b"[1, 2]",
                                     b"\xff", b"FIFO", b"FOLDER"], ids=lambda c: repr(c[:16]))
def test_events_json_of_any_content_reads_as_no_events(tmp_path: Path, content: bytes) -> None:
    import os

    from grok_tui.run.phases import load_events

    path = tmp_path / "events.json"
    if content == b"FIFO":
        os.mkfifo(path)  # opening it would block until a writer came
    elif content == b"FOLDER":
        path.mkdir()
    else:
        path.write_bytes(content)
    assert load_events(path) == []
