"""What the progress measures add to training time at the paper's defaults (target: at most 10%).

    python benchmarks/bench_measures.py [--rounds 7] [--p 113]

In one process, interleaved round by round, on the same model and data:
(a) one training epoch of the trainer (TrainingLoop.step: fast engine, full batch, AdamW);
(b) one log point without measures (TrainingLoop.record with measure_every=0: the no-grad pass over all
    p^2 inputs and the weight norm), which the trainer pays every log_every epochs anyway;
(c) one log point with the measures (the same pass plus grok_tui/measures/progress_measures.py: Fourier norms of W_E and
    W_L, the 2D transform of all logits, restricted and excluded loss, Gini).
The extra cost of measuring is (c) - (b), paid once every measure_every epochs, so the overhead is
median((c) - (b)) / (measure_every * median(a)). Ratios of medians taken side by side are robust to a
busy machine in a way a timed run is not. The last line is the overhead at measure_every=500 (default)
and, for scale, at 100.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from grok_tui.core.config import Config
from grok_tui.measures.progress_measures import ProgressMeasures
from grok_tui.run.paths import RunPaths
from grok_tui.training.loop import TrainingLoop


def time_call(fn: object, repeats: int) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--p", type=int, default=113)
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    config = Config(tag="bench", p=args.p, device="cpu")  # measure_every=500, log_every=100
    with tempfile.TemporaryDirectory() as folder:
        loop = TrainingLoop(config, RunPaths.of("bench", Path(folder)), torch.device("cpu"), None, None, None)
        for _ in range(20):  # warm up and leave the first epochs' lr warm-up behind
            loop.step()
        measures = loop.measures
        assert isinstance(measures, ProgressMeasures)
        loop.epoch = 0  # a log point where measures are due
        epochs, plain, measured = [], [], []
        for _ in range(args.rounds):
            epochs.append(time_call(loop.step, 10))
            loop.measures = None
            plain.append(time_call(loop.record, 3))
            loop.measures = measures
            measured.append(time_call(loop.record, 3))
            assert "restricted_loss" in loop.record()
    epoch_s, plain_s, measured_s = (statistics.median(v) for v in (epochs, plain, measured))
    extra_s = statistics.median(m - p for m, p in zip(measured, plain))
    print(f"p={config.p}, {torch.get_num_threads()} threads, {args.rounds} rounds")
    print(f"epoch (step)                 {1000 * epoch_s:8.1f} ms")
    print(f"log point without measures   {1000 * plain_s:8.1f} ms")
    print(f"log point with measures      {1000 * measured_s:8.1f} ms  (extra {1000 * extra_s:.1f} ms)")
    for every in (100, 500):
        print(f"overhead at measure_every={every}: {100 * extra_s / (every * epoch_s):.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
