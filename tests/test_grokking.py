"""Integration: the documented quick config really groks on a CPU, and the curves have grokking's shape.

Every epoch asserted here is read from the run's own log; nothing is hard-coded but the thresholds.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from grok_tui.config import preset
from grok_tui.runlog import read_log
from grok_tui.runs import RunPaths, first_epoch_reaching
from grok_tui.trainer import train_grokking


@pytest.mark.slow
def test_quick_config_memorizes_then_groks(root: Path) -> None:
    config = preset("quick", tag="quick", device="cpu")
    stop = threading.Event()
    extra_epochs: list[int] = []

    def stop_soon_after_grokking(record: dict) -> None:
        # Keep training a little past 99% test accuracy (to see it hold), then stop: saves CI time.
        if record["test_acc"] >= 0.99:
            extra_epochs.append(record["epoch"])
            if record["epoch"] - extra_epochs[0] >= 100:
                stop.set()

    train_grokking(config, stop_event=stop, on_log=stop_soon_after_grokking, root=root)
    records = read_log(RunPaths.of("quick", root).log)
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
