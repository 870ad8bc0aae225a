"""Load: a 1 GiB garbage file in place of training_log.jsonl, and a valid 50,000-record log.

The garbage files are sparse (a hole made with truncate, plus a few real blocks), so they cost no disk
and little time, but every reader still has to go through 1 GiB of bytes:
- nul: 1 GiB of NUL bytes and no newline at all, i.e. one giant unfinished "line". A reader that keeps
  a partial line until its newline comes would buffer all of it; RunLogReader keeps at most
  runlog.MAX_LINE bytes of it, then drops it and counts one garbage line.
- lines: random garbage lines, then the hole, then valid records and an unfinished last line: the
  records after the garbage must still be found.

`grok-tui list` runs as a subprocess (cli.main in a fresh interpreter) that reports its own peak RSS,
VmHWM from /proc/self/status, as it exits: os.wait4's or getrusage's ru_maxrss would also count the
pytest process's memory, which the child shares between fork and exec. The in-process readers are
measured with tracemalloc. The bounds are generous (far below the file's size): they catch reading the
file whole, not small regressions.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conftest import tiny_config
from grok_tui.run.log import MAX_LINE, RunLogReader, encode_record
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import summarize

GIB = 1 << 30
MIB = 1 << 20
RSS_LIMIT = 200 * MIB  # `list` starts at ~25 MB; a reader that slurps the file needs more than 1 GiB
TIME_LIMIT_S = 120.0  # generous for a loaded 2-core machine; ~3 s unloaded
RECORDS = 50_000
T = TypeVar("T")


def record(epoch: int, rng: random.Random) -> dict[str, Any]:
    return {"epoch": epoch, "train_loss": rng.random(), "test_loss": 3 * rng.random(), "train_acc": rng.random(),
            "test_acc": min(1.0, epoch / 40_000), "lr": 1e-3, "weight_norm": 10 + rng.random(),
            "elapsed_s": epoch * 0.05}


def make_nul_log(paths: RunPaths) -> None:
    tiny_config(tag=paths.tag).save(paths.config)
    with open(paths.log, "wb") as handle:
        handle.truncate(GIB)  # a hole: reads as NUL bytes, takes no disk


def make_garbage_lines_log(paths: RunPaths) -> list[dict[str, Any]]:
    """Garbage lines, a 1 GiB hole, then valid records and a half line; returns the valid records."""
    tiny_config(tag=paths.tag).save(paths.config)
    rng = random.Random(6)
    garbage = b"\n".join(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b"")
                         for _ in range(2000)) + b"\n"
    tail_records = [record(epoch, rng) for epoch in range(0, 100, 10)]
    tail = b"\n" + "".join(encode_record(r) for r in tail_records).encode() + b'{"epoch": 100, "train_lo'
    with open(paths.log, "wb") as handle:
        handle.write(garbage)
        handle.seek(GIB - len(tail))
        handle.write(tail)
    assert paths.log.stat().st_size == GIB
    return tail_records


def make_long_log(paths: RunPaths) -> None:
    tiny_config(tag=paths.tag, num_epochs=RECORDS, log_every=1).save(paths.config)
    rng = random.Random(0)
    with open(paths.log, "w", encoding="utf-8") as handle:
        for epoch in range(RECORDS + 1):
            handle.write(encode_record(record(epoch, rng)))


def traced(job: Callable[[], T]) -> tuple[T, int, float]:
    """job()'s result, the peak of memory Python allocated meanwhile, and its duration."""
    tracemalloc.start()
    began = time.monotonic()
    try:
        result = job()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, time.monotonic() - began


# `grok-tui ARGS`, then the process's peak resident memory on a last stderr line.
MEASURED = """
import sys
from grok_tui.cli import main
status = main(sys.argv[1:])
with open("/proc/self/status") as handle:
    peak = next(line.split()[1] for line in handle if line.startswith("VmHWM:"))
print("peak-rss-kib", peak, file=sys.stderr)
sys.exit(status)
"""
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                                reason="the subprocess's peak RSS is read from /proc (Linux)")


def list_command(root: Path) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """`grok-tui list --root ROOT` in a subprocess: its result, its peak RSS in bytes, its duration."""
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-c", MEASURED, "list", "--root", str(root)], cwd=root,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # speed only; no result depends on it
    seconds = time.monotonic() - began
    *rest, last = result.stderr.splitlines() or [""]
    assert last.startswith("peak-rss-kib "), result.stderr
    result.stderr = "".join(line + "\n" for line in rest)
    return result, int(last.split()[1]) * 1024, seconds


def rows(stdout: str) -> dict[str, dict[str, str]]:
    """`list`'s table by tag and column name (columns are cut at the header's starts: cells may hold spaces)."""
    lines = stdout.splitlines()
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    ends = [*starts[1:], None]
    names = [lines[0][a:b].strip() for a, b in zip(starts, ends)]
    table = ({name: line[a:b].strip() for name, a, b in zip(names, starts, ends)} for line in lines[1:])
    return {row["TAG"]: row for row in table}


@pytest.fixture
def nul_run(root: Path) -> RunPaths:
    paths = RunPaths.of("nul", root)
    make_nul_log(paths)
    return paths


# ---------------------------------------------------------------- 1 GiB of garbage


def test_reader_drops_a_giant_unfinished_line_instead_of_buffering_it(nul_run: RunPaths) -> None:
    reader = RunLogReader(nul_run.log)
    max_bytes = MIB
    polls = 0
    began = time.monotonic()
    while reader.has_more():
        update = reader.poll(max_bytes=max_bytes)
        polls += 1
        assert update.records == [] and not update.reset
        assert len(reader._partial) <= MAX_LINE + max_bytes, "the unfinished line is being buffered"
    assert polls == GIB // max_bytes
    assert reader.offset == GIB
    assert reader.skipped == 1  # one garbage "line", counted once however many polls it spans
    assert time.monotonic() - began < TIME_LIMIT_S


def test_summarize_goes_through_1_gib_in_bounded_memory(nul_run: RunPaths) -> None:
    summary, peak, seconds = traced(lambda: summarize(nul_run))  # read_log over the whole file
    assert summary.last is None and summary.best_test_acc is None and summary.status == "new"
    assert peak < 64 * MIB, f"summarize peaked at {peak / MIB:.0f} MiB on a 1 GiB file"
    assert seconds < TIME_LIMIT_S
    print(f"\nsummarize of 1 GiB of NULs: {seconds:.1f} s, {peak / MIB:.1f} MiB peak")


def test_records_after_a_gigabyte_of_garbage_are_still_found(root: Path) -> None:
    paths = RunPaths.of("lines", root)
    tail_records = make_garbage_lines_log(paths)
    reader = RunLogReader(paths.log)
    found, peak, seconds = traced(reader.read_all)
    assert found == tail_records  # in order; the half line at the end is not a record
    assert reader.skipped >= 1000  # the garbage lines, counted, never returned
    assert peak < 64 * MIB and seconds < TIME_LIMIT_S


@needs_proc
def test_list_with_a_gigabyte_of_garbage_as_a_log(nul_run: RunPaths, root: Path) -> None:
    make_garbage_lines_log(RunPaths.of("lines", root))
    result, rss, seconds = list_command(root)
    print(f"\n`list` over 2 x 1 GiB of garbage: {seconds:.1f} s, peak RSS {rss / MIB:.0f} MiB")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    table = rows(result.stdout)
    assert sorted(table) == ["lines", "nul"], result.stdout
    assert table["nul"]["EPOCH"] == "0/200" and table["nul"]["STATUS"] == "new"
    assert table["lines"]["EPOCH"] == "90/200" and table["lines"]["STATUS"] == "stopped"
    assert rss < RSS_LIMIT, f"`list` peaked at {rss / MIB:.0f} MiB reading 2 GiB of logs"
    assert seconds < TIME_LIMIT_S


# ---------------------------------------------------------------- 50,000 records


@needs_proc
def test_list_and_summarize_a_50000_record_log(root: Path) -> None:
    paths = RunPaths.of("long", root)
    make_long_log(paths)
    assert paths.log.stat().st_size > 5 * MIB

    summary, peak, seconds = traced(lambda: summarize(paths))
    print(f"\nsummarize of {RECORDS:,} records ({paths.log.stat().st_size / MIB:.1f} MiB): {seconds:.1f} s, "
          f"{peak / MIB:.0f} MiB peak")
    assert summary.last is not None and summary.last["epoch"] == RECORDS
    assert summary.best_test_acc == 1.0 and summary.grokked_epoch == 39_600
    assert peak < 150 * MIB, f"summarize peaked at {peak / MIB:.0f} MiB"
    assert seconds < TIME_LIMIT_S

    reader = RunLogReader(paths.log)
    epochs: list[int] = []
    while reader.has_more():
        update = reader.poll(max_bytes=64 * 1024)
        assert len(update.records) <= 64 * 1024 // 100  # a poll never returns more than its bytes hold
        epochs.extend(r["epoch"] for r in update.records)
    assert epochs == list(range(RECORDS + 1)) and reader.skipped == 0

    result, rss, seconds = list_command(root)
    print(f"`list` of {RECORDS:,} records: {seconds:.1f} s, peak RSS {rss / MIB:.0f} MiB")
    assert result.returncode == 0, result.stderr
    cells = rows(result.stdout)["long"]
    assert (cells["EPOCH"], cells["GROKKED"], cells["STATUS"]) == (f"{RECORDS:,}/{RECORDS:,}", "39,600", "finished"), \
        cells
    assert rss < RSS_LIMIT, f"`list` peaked at {rss / MIB:.0f} MiB"
    assert seconds < TIME_LIMIT_S
