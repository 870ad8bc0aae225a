"""plot reads a log thinned while it streams (grok_tui/figures/figure_log.py, issue 16 item 8): bounded records,
every bucket's extremes kept, the phase events of the whole log, and a short log kept whole."""

from __future__ import annotations

import math
from pathlib import Path

from grok_tui.figures.figure_log import FIGURE_KEYS, read_figure_log
from grok_tui.run.phases import track
from grok_tui.run.log import RunLogWriter, read_log


def record(epoch: int) -> dict[str, object]:
    test_acc = min(1.0, epoch / 3000)
    return {"epoch": epoch, "train_loss": 1.0 / (1 + epoch), "test_loss": 2.0 - test_acc, "train_acc": min(1.0, epoch / 500),
            "test_acc": test_acc, "lr": 1e-3, "weight_norm": 10.0 + math.sin(epoch), "elapsed_s": 0.01 * epoch,
            **({"restricted_loss": 1.0 / (1 + epoch), "excluded_loss": 0.5, "gini_embed": 0.1, "gini_unembed": 0.2,
                "key_freqs": [3], "embed_freq_norms": [1.0, float(epoch)]} if epoch % 50 == 0 else {})}


def write_log(path: Path, epochs: range, spike_at: int | None = None) -> None:
    with RunLogWriter(path) as log:
        for epoch in epochs:
            line = record(epoch)
            if epoch == spike_at:
                line["train_loss"] = 50.0  # a one-line loss spike (a Slingshot)
            log.write(line)


def test_a_short_log_is_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "training_log.jsonl"
    write_log(path, range(0, 4000, 7))
    read = read_figure_log(path, max_buckets=1000)
    assert read.records == read_log(path) and not read.thinned and read.lines == len(read.records)


def test_a_long_log_is_thinned_keeping_extremes_events_and_the_last_measurement(tmp_path: Path) -> None:
    path = tmp_path / "training_log.jsonl"
    write_log(path, range(0, 20_000), spike_at=12_345)
    full = read_log(path)
    read = read_figure_log(path, max_buckets=256)
    assert read.thinned and read.lines == 20_000
    assert len(read.records) < 256 * (1 + 2 * len(FIGURE_KEYS)) and len(read.records) < len(full) // 5
    epochs = [r["epoch"] for r in read.records]
    assert epochs == sorted(set(epochs)) and epochs[0] == 0
    assert 12_345 in epochs  # the spike survives
    assert read.events == track(full).events  # from every record, not from the kept ones
    last_measured = max(r["epoch"] for r in full if "embed_freq_norms" in r)
    assert last_measured in epochs
    for key in ("train_loss", "test_acc", "weight_norm"):  # the extremes of the whole log are kept
        assert max(r[key] for r in read.records) == max(r[key] for r in full)
        assert min(r[key] for r in read.records) == min(r[key] for r in full)


def test_a_folder_in_place_of_the_log_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "training_log.jsonl"
    path.mkdir()
    read = read_figure_log(path)
    assert read.records == [] and "is a folder" in read.problem
