"""The run log: one flushed JSON line per record, and the incremental, tolerant reader."""

from __future__ import annotations

import json
import math
import os

import pytest

from grok_tui.run.log import MAX_LINE, RunLogReader, RunLogWriter, cut_back, encode_record, last_record, read_log


def _rec(epoch: int, **extra) -> dict:
    return {"epoch": epoch, "train_loss": 1.0 / (epoch + 1), "test_acc": 0.5, **extra}


def _lines(records: list[dict]) -> bytes:
    return "".join(encode_record(r) for r in records).encode()


def _strict_json(line: str):
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(line, parse_constant=refuse)


# ---------------------------------------------------------------- writer


def test_writer_one_flushed_line_per_record(tmp_path) -> None:
    path = tmp_path / "logs" / "training_log.jsonl"  # the folder is created
    writer = RunLogWriter(path)
    try:
        writer.write(_rec(0))
        # another reader sees it before close
        with open(path, encoding="utf-8") as handle:
            assert handle.read().splitlines() == [json.dumps(_rec(0), separators=(",", ":"))]
        writer.write(_rec(100))
        writer.write(_rec(200, extra_measure=3))
        text = path.read_text()
        assert text.endswith("\n")
        lines = text.splitlines()
        assert len(lines) == 3
        assert [json.loads(line)["epoch"] for line in lines] == [0, 100, 200]
        assert json.loads(lines[2])["extra_measure"] == 3
        writer.sync()
    finally:
        writer.close()
    writer.close()  # closing twice is harmless


def test_writer_appends_to_an_existing_log(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    with RunLogWriter(path) as writer:
        writer.write(_rec(0))
    with RunLogWriter(path) as writer:
        writer.write(_rec(1))
    assert [r["epoch"] for r in read_log(path)] == [0, 1]


def test_nan_and_inf_are_written_as_null(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    with RunLogWriter(path) as writer:
        writer.write({"epoch": 5, "train_loss": math.nan, "test_loss": math.inf, "lr": -math.inf, "acc": 0.25})
    (line,) = path.read_text().splitlines()
    record = _strict_json(line)  # valid JSON for any reader: no NaN / Infinity tokens
    assert record == {"epoch": 5, "train_loss": None, "test_loss": None, "lr": None, "acc": 0.25}
    assert read_log(path) == [record]


# ---------------------------------------------------------------- reader


def test_poll_returns_only_new_complete_records(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    reader = RunLogReader(path)
    with RunLogWriter(path) as writer:
        writer.write(_rec(0))
        writer.write(_rec(10))
        first = reader.poll()
        assert [r["epoch"] for r in first.records] == [0, 10]
        assert first.reset is False
        assert reader.poll().records == []
        writer.write(_rec(20))
        second = reader.poll()
        assert second.records == [_rec(20)]
        assert second.reset is False
        assert reader.poll().records == []
    assert reader.skipped == 0


def test_partial_last_line_is_held_back(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(0)]) + b'{"epoch":7,"train_l')
    reader = RunLogReader(path)
    assert [r["epoch"] for r in reader.poll().records] == [0]
    assert reader.poll().records == []
    with open(path, "ab") as handle:
        handle.write(b'oss":0.5')
    assert reader.poll().records == []
    with open(path, "ab") as handle:
        handle.write(b"}\n")
    update = reader.poll()
    assert update.records == [{"epoch": 7, "train_loss": 0.5}]
    assert update.reset is False
    assert reader.skipped == 0


def test_garbage_lines_are_skipped_and_counted(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    garbage = [
        b"not json at all",
        b"[1, 2, 3]",
        b'{"train_loss": 0.1}',  # no epoch
        b'{"epoch": -1}',
        b'{"epoch": true}',
        b'{"epoch": "5"}',
        b'{"epoch": 1.5}',
        b'{"epoch": 3',  # broken JSON, complete line
        b"\xff\xfe\x00",
    ]
    content = _lines([_rec(0)]) + b"\n".join(garbage) + b"\n\n" + _lines([_rec(1)])
    path.write_bytes(content)
    reader = RunLogReader(path)
    update = reader.poll()
    assert [r["epoch"] for r in update.records] == [0, 1]
    assert reader.skipped == len(garbage)  # blank lines are not counted
    assert read_log(path) == [_rec(0), _rec(1)]


def test_truncation_resets_and_rereads(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(0), _rec(1), _rec(2)]))
    reader = RunLogReader(path)
    assert len(reader.poll().records) == 3
    inode = os.stat(path).st_ino
    with open(path, "r+b") as handle:  # cut back in place
        handle.truncate(0)
        handle.write(_lines([_rec(0)]))
    assert os.stat(path).st_ino == inode
    update = reader.poll()
    assert update.reset is True
    assert update.records == [_rec(0)]
    # and it carries on normally
    with open(path, "ab") as handle:
        handle.write(_lines([_rec(5)]))
    update = reader.poll()
    assert update.reset is False
    assert update.records == [_rec(5)]


def test_replacement_via_os_replace_resets(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(0), _rec(1)]))
    reader = RunLogReader(path)
    assert len(reader.poll().records) == 2
    new = tmp_path / "log.jsonl.new"
    new.write_bytes(_lines([_rec(0), _rec(1), _rec(2), _rec(3)]))  # longer: no truncation to notice
    os.replace(new, path)
    update = reader.poll()
    assert update.reset is True
    assert [r["epoch"] for r in update.records] == [0, 1, 2, 3]


def test_replacement_with_same_size_resets(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([{"epoch": 1, "v": 0.5}, {"epoch": 2, "v": 0.5}]))
    reader = RunLogReader(path)
    reader.poll()
    new = tmp_path / "other"
    new.write_bytes(_lines([{"epoch": 3, "v": 0.5}, {"epoch": 4, "v": 0.5}]))
    assert new.stat().st_size == path.stat().st_size
    os.replace(new, path)
    update = reader.poll()
    assert update.reset is True
    assert [r["epoch"] for r in update.records] == [3, 4]


def test_in_place_rewrite_to_a_larger_size_is_noticed(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(0), _rec(1)]))
    reader = RunLogReader(path)
    assert len(reader.poll().records) == 2
    inode = os.stat(path).st_ino
    old_size = os.stat(path).st_size
    with open(path, "r+b") as handle:  # same file, different (longer) content
        handle.truncate(0)
        handle.write(_lines([_rec(50, note="rewritten"), _rec(60, note="rewritten"), _rec(70)]))
    assert os.stat(path).st_ino == inode
    assert os.stat(path).st_size > old_size
    update = reader.poll()
    assert update.reset is True
    assert [r["epoch"] for r in update.records] == [50, 60, 70]


def test_missing_file_gives_no_records_and_no_error(tmp_path) -> None:
    path = tmp_path / "absent.jsonl"
    reader = RunLogReader(path)
    update = reader.poll()
    assert update.records == [] and update.reset is False
    assert read_log(path) == []
    assert reader.read_all() == []
    # appears later: picked up from the start
    path.write_bytes(_lines([_rec(0)]))
    assert reader.poll().records == [_rec(0)]


def test_deleted_file_resets(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(0)]))
    reader = RunLogReader(path)
    reader.poll()
    path.unlink()
    update = reader.poll()
    assert update.records == [] and update.reset is True
    path.write_bytes(_lines([_rec(9)]))
    assert reader.poll().records == [_rec(9)]


@pytest.mark.parametrize("max_bytes", [1, 7, 64])
def test_small_chunks_assemble_records(tmp_path, max_bytes: int) -> None:
    path = tmp_path / "log.jsonl"
    records = [_rec(e, name="x" * (e % 13)) for e in range(0, 300, 10)]
    path.write_bytes(_lines(records[:20]))
    reader = RunLogReader(path)
    got: list[dict] = []
    while reader.offset < path.stat().st_size:
        update = reader.poll(max_bytes=max_bytes)
        assert update.reset is False
        got.extend(update.records)
    assert got == records[:20]
    with open(path, "ab") as handle:
        handle.write(_lines(records[20:]))
    while reader.offset < path.stat().st_size:
        update = reader.poll(max_bytes=max_bytes)
        assert update.reset is False
        got.extend(update.records)
    assert got == records
    assert reader.skipped == 0


def test_read_log_skips_a_huge_garbage_line_once(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    garbage = b"g" * (MAX_LINE + 500_000)
    path.write_bytes(_lines([_rec(0)]) + garbage + b"\n" + _lines([_rec(1), _rec(2)]))
    assert [r["epoch"] for r in read_log(path)] == [0, 1, 2]
    reader = RunLogReader(path)
    assert [r["epoch"] for r in reader.read_all()] == [0, 1, 2]
    assert reader.skipped == 1


@pytest.mark.parametrize("max_bytes", [100_000, 300_001])
def test_huge_garbage_line_across_many_chunks_counted_once(tmp_path, max_bytes: int) -> None:
    path = tmp_path / "log.jsonl"
    garbage = b"{" + b"g" * (2 * MAX_LINE + 12_345)
    path.write_bytes(_lines([_rec(0)]) + garbage + b"\n" + _lines([_rec(1), _rec(2)]))
    reader = RunLogReader(path)
    got: list[dict] = []
    size = path.stat().st_size
    for _ in range(10_000):
        if reader.offset >= size:
            break
        update = reader.poll(max_bytes=max_bytes)
        assert update.reset is False
        got.extend(update.records)
    assert [r["epoch"] for r in got] == [0, 1, 2]
    assert reader.skipped == 1


def test_read_log_garbage_larger_than_read_chunk(tmp_path) -> None:
    from grok_tui.run.log import READ_CHUNK

    path = tmp_path / "log.jsonl"
    path.write_bytes(b"z" * (READ_CHUNK + 1000) + b"\n" + _lines([_rec(3), _rec(4)]))
    reader = RunLogReader(path)
    assert [r["epoch"] for r in reader.read_all()] == [3, 4]
    assert reader.skipped == 1


# ---------------------------------------------------------------- cut_back


def test_cut_back_keeps_epochs_up_to_n_atomically(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    content = (
        _lines([_rec(0), _rec(100), _rec(200)])
        + b"garbage line\n"
        + _lines([_rec(100), _rec(200), _rec(150), _rec(300), _rec(250), _rec(400)])
    )
    path.write_bytes(content)
    inode = os.stat(path).st_ino
    kept = cut_back(path, 250)
    # later duplicates (100, 200) and the step back (150) are dropped; 300 and 400 are past the cut
    assert [r["epoch"] for r in read_log(path)] == [0, 100, 200, 250]
    assert kept == 4
    assert os.stat(path).st_ino != inode  # a new file renamed into place, never a half-written one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl"]  # no temp file left
    reader = RunLogReader(path)
    reader.read_all()
    assert reader.skipped == 0  # the garbage was dropped too


def test_cut_back_boundary_and_reader_reset(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(e) for e in (0, 10, 20, 30)]))
    reader = RunLogReader(path)
    assert len(reader.poll().records) == 4
    assert cut_back(path, 20) == 3  # epoch == N is kept
    update = reader.poll()
    assert update.reset is True
    assert [r["epoch"] for r in update.records] == [0, 10, 20]
    assert cut_back(path, -1) == 0
    assert path.exists() and read_log(path) == []


def test_cut_back_missing_log_stays_missing(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    assert cut_back(path, 100) == 0
    assert not path.exists()


# ---------------------------------------------------------------- last_record


def test_last_record_ignores_trailing_partial_line(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(0), _rec(1), _rec(2)]) + b'{"epoch":3,"train_lo')
    assert last_record(path) == _rec(2)
    path.write_bytes(_lines([_rec(0), _rec(1)]) + b'{"epoch":3}')  # no newline yet: still being written
    assert last_record(path) == _rec(1)
    path.write_bytes(_lines([_rec(0), _rec(1)]))
    assert last_record(path) == _rec(1)


def test_last_record_skips_garbage_and_handles_empty(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines([_rec(4)]) + b"garbage\n[1]\n")
    assert last_record(path) == _rec(4)
    path.write_bytes(b"")
    assert last_record(path) is None
    assert last_record(tmp_path / "missing.jsonl") is None


def test_last_record_on_a_file_larger_than_its_window(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    records = [_rec(e, pad="p" * (e % 17)) for e in range(2000)]
    path.write_bytes(_lines(records) + b'{"epoch":2000,')
    assert path.stat().st_size > 100_000
    for window in (200, 1000, 4096, 64 * 1024):
        assert last_record(path, window=window) == records[-1], window
    assert last_record(path) == records[-1]
