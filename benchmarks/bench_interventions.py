"""What each intervention costs per epoch: the trainer's own step with each method on, interleaved.

    python benchmarks/bench_interventions.py                 # quick config and the paper's defaults
    python benchmarks/bench_interventions.py --rounds 7 --configs quick

Every method trains its own copy of the same model (the same seed) with TrainingLoop.step(), one torch
thread (as a sweep member does), in blocks of epochs taken in turns in one process: round r times every
method once, so adjacent blocks share the machine's state. The report gives every block, the median
ms/epoch and the median of the per-round ratios to the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from grok_tui.core.config import preset
from grok_tui.run.paths import RunPaths
from grok_tui.training.loop import TrainingLoop

METHODS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "grokfast ema": {"grokfast": "ema"},
    "grokfast ma (window 100)": {"grokfast": "ma"},
    "orthograd": {"orthograd": True},
    "stablemax": {"loss": "stablemax"},
    "float32 softmax": {"softmax_precision": "float32"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=["quick", "paper"], choices=["quick", "paper"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.configs:
        epochs = 200 if name == "quick" else 40
        base = dataclasses.replace(preset(name), device="cpu", measure_every=0)
        with tempfile.TemporaryDirectory() as root:
            loops = {method: TrainingLoop(dataclasses.replace(base, tag=f"b{i}", **fields),
                                          RunPaths.of(f"b{i}", root), torch.device("cpu"), None, None, None)
                     for i, (method, fields) in enumerate(METHODS.items())}
            for loop in loops.values():  # warm up (and fill Grokfast-MA's window: the full-window cost)
                for _ in range(101):
                    loop.step()
            times: dict[str, list[float]] = {method: [] for method in METHODS}
            for _ in range(args.rounds):
                for method, loop in loops.items():
                    start = time.perf_counter()
                    for _ in range(epochs):
                        loop.step()
                    times[method].append((time.perf_counter() - start) / epochs * 1000)
        print(f"\n{name} config (p={base.p}, d_model={base.d_model}), {args.rounds} rounds of {epochs} epochs, "
              f"1 thread, torch {torch.__version__}")
        print(f"{'method':26} {'ms/epoch per round':40} {'median':>8} {'x baseline':>10}")
        for method, blocks in times.items():
            ratios = [t / b for t, b in zip(blocks, times["baseline"])]
            rounds = " ".join(f"{t:.2f}" for t in blocks)
            print(f"{method:26} {rounds:40} {statistics.median(blocks):8.2f} {statistics.median(ratios):10.2f}")


if __name__ == "__main__":
    main()
