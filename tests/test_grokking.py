"""Integration: the documented quick config really groks on a CPU, the curves have grokking's shape,
and the progress measures tell the paper's story (Nanda et al. 2023, section 5) before the test loss does.

One run is trained for the whole module. Every epoch asserted here is read from the run's own log or
events.json; nothing is hard-coded but the thresholds.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

from grok_tui.core.config import Config, preset
from grok_tui.run.phases import Event, load_events
from grok_tui.run.log import Record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import first_epoch_reaching
from grok_tui.training.trainer import train_grokking

QuickRun = tuple[Config, list[Record], list[Event], list[Event]]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """(config, log records, events.json, events passed to on_event) of one quick-config run."""
    root = tmp_path_factory.mktemp("quick")
    config = preset("quick", tag="quick", device="cpu")
    stop = threading.Event()
    extra_epochs: list[int] = []

    def stop_soon_after_grokking(record: dict) -> None:
        # Keep training a little past 99% test accuracy (to see it hold), then stop: saves CI time.
        if record["test_acc"] >= 0.99:
            extra_epochs.append(record["epoch"])
            if record["epoch"] - extra_epochs[0] >= 100:
                stop.set()

    announced: list[Event] = []
    train_grokking(config, stop_event=stop, on_log=stop_soon_after_grokking, root=root, on_event=announced.append)
    paths = RunPaths.of("quick", root)
    return config, read_log(paths.log), load_events(paths.events), announced


@pytest.mark.slow
def test_quick_config_memorizes_then_groks(quick_run: QuickRun) -> None:
    config, records, _, _ = quick_run
    memorized = first_epoch_reaching(records, "train_acc")
    grokked = first_epoch_reaching(records, "test_acc")
    assert memorized is not None and grokked is not None, "the quick config must memorize and then grok"
    at = {r["epoch"]: r for r in records}
    # 1. Memorization comes early, while the test accuracy is still low.
    assert memorized <= config.num_epochs // 5
    assert at[memorized]["test_acc"] < 0.5
    # 2. Generalization comes much later: grokking's delay.
    assert grokked >= 4 * memorized
    # 3. Between the two, the train set stays memorized while test loss first rises above its
    #    initial value (the memorization peak), then falls.
    between = [r for r in records if memorized <= r["epoch"] <= grokked]
    assert min(r["train_acc"] for r in between) >= 0.95
    peak = max(records, key=lambda r: r["test_loss"])
    assert peak["test_loss"] > records[0]["test_loss"] and memorized <= peak["epoch"] < grokked
    assert at[grokked]["test_loss"] < peak["test_loss"] / 10
    # 4. Weight decay shrinks the weights on the way to the generalizing solution.
    assert at[grokked]["weight_norm"] < at[memorized]["weight_norm"]
    # 5. Once grokked, it stays grokked.
    assert all(r["test_acc"] >= 0.98 for r in records if r["epoch"] >= grokked)


@pytest.mark.slow
def test_progress_measures_show_the_circuit_before_the_test_loss_falls(quick_run: QuickRun) -> None:
    config, records, events, announced = quick_run
    assert announced == events, "every event is announced once, as it happens, and kept in events.json"
    epoch_of = {event.name: event.epoch for event in events}
    assert list(epoch_of) == ["memorized", "circuit_formation", "grokked"]
    memorized, circuit, grokked = epoch_of["memorized"], epoch_of["circuit_formation"], epoch_of["grokked"]
    assert memorized == first_epoch_reaching(records, "train_acc")
    assert grokked == first_epoch_reaching(records, "test_acc")
    assert memorized < circuit < grokked

    measured = [r for r in records if "restricted_loss" in r]
    assert [r["epoch"] for r in measured] == list(range(0, records[-1]["epoch"] + 1, config.measure_every))
    at = {r["epoch"]: r for r in measured}
    reference = next(r for r in measured if r["epoch"] >= memorized)  # just after memorizing

    def first_epoch(rows: list[Record], test: object) -> int:
        return next(r["epoch"] for r in rows if test(r))  # type: ignore[operator]

    # 1. The restricted loss falls well before the test loss does (each to a tenth of its level).
    restricted_falls = first_epoch(measured, lambda r: r["epoch"] > reference["epoch"]
                                   and r["restricted_loss"] <= reference["restricted_loss"] / 10)
    test_peak = max(records, key=lambda r: r["test_loss"])
    test_falls = first_epoch(records, lambda r: r["epoch"] > test_peak["epoch"]
                             and r["test_loss"] <= test_peak["test_loss"] / 10)
    assert restricted_falls <= 0.75 * test_falls, (restricted_falls, test_falls)
    # 2. The excluded loss rises during circuit formation while the train set stays memorized.
    forming = [r for r in measured if circuit <= r["epoch"] <= grokked]
    assert max(r["excluded_loss"] for r in forming) > 2 * reference["excluded_loss"]
    assert all(r["train_acc"] >= 0.99 for r in forming)
    # 3. The embedding becomes sparse in the Fourier basis (Gini rises) through cleanup...
    last = measured[-1]
    at_grokked = next(r for r in measured if r["epoch"] >= grokked)  # the first measurement once grokked
    assert at[circuit]["gini_embed"] + 0.1 < at_grokked["gini_embed"] <= last["gini_embed"] + 0.01
    # 4. ...while weight decay shrinks the weights.
    assert last["weight_norm"] < at_grokked["weight_norm"] < at[circuit]["weight_norm"]
    # 5. The trained model uses a few key frequencies, as in the paper (3-6).
    assert 3 <= len(last["key_freqs"]) <= 6, last["key_freqs"]
    assert records[0]["key_freqs"] == [], "a random initialization has no circuit"


@pytest.mark.slow
def test_rand_control_memorizes_but_no_circuit_forms(tmp_path: Path) -> None:
    """The `rand` table has nothing to generalize: the measures must not show a circuit."""
    config = preset("quick", tag="rand", operation="rand", num_epochs=600, device="cpu")
    train_grokking(config, root=tmp_path)
    paths = RunPaths.of("rand", tmp_path)
    records = read_log(paths.log)
    measured = [r for r in records if "restricted_loss" in r]
    assert first_epoch_reaching(records, "train_acc") is not None, "the table is memorized"
    assert [e.name for e in load_events(paths.events)] == ["memorized"]
    chance = math.log(config.p)
    assert all(r["key_freqs"] == [] for r in measured)
    assert all(r["restricted_loss"] > 0.9 * chance for r in measured)  # the 'circuit' explains nothing
    assert max(r["gini_embed"] for r in measured) < 0.15  # the embedding stays spread over all frequencies
