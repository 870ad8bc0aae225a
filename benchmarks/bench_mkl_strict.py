"""What MKL's strict CNR mode costs: training epochs with MKL_CBWR=AUTO,STRICT against MKL's default.

    python benchmarks/bench_mkl_strict.py                 # paper defaults and quick config, 1 and 2 threads
    python benchmarks/bench_mkl_strict.py --rounds 9

MKL reads its mode once per process, so each side is a process of its own: two warm child processes
train their own copy of the same model with the trainer's step (fast engine), and take turns at timing a
block of epochs (the order alternates each round). The report gives every block, the medians, and the
median of the per-round ratios strict/default. "default" removes the MKL_CBWR that importing grok_tui
sets, before any product, so MKL starts with CNR off as it does without grok_tui.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SETUPS = [("paper defaults", "paper", 40), ("quick config", "quick", 200)]


def child(mode: str, preset_name: str, threads: int, root: str) -> None:
    """Train on request: each line "N" on stdin times N epochs and answers ms/epoch."""
    import grok_tui  # noqa: F401 - sets MKL_CBWR before torch's first product

    if mode == "default":
        del os.environ["MKL_CBWR"]
    import time

    import torch

    from grok_tui.core.config import preset
    from grok_tui.experiment.engine import last_position_logits
    from grok_tui.experiment.numerics import mkl_is_strict
    from grok_tui.run.paths import RunPaths
    from grok_tui.training.loop import TrainingLoop

    torch.set_num_threads(threads)
    config = preset(preset_name, device="cpu", tag=f"{preset_name}-{mode}")
    paths = RunPaths.of(config.tag, Path(root))
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    loop = TrainingLoop(config, paths, torch.device("cpu"), None, None, None, last_position_logits)
    for _ in range(5):
        loop.step()  # warm-up
    print(json.dumps({"strict": mkl_is_strict()}), flush=True)
    for line in sys.stdin:
        epochs = int(line)
        start = time.perf_counter()
        for _ in range(epochs):
            loop.step()
        print(json.dumps({"ms": (time.perf_counter() - start) / epochs * 1000}), flush=True)


def compare(name: str, preset_name: str, epochs: int, threads: int, rounds: int, root: str) -> None:
    procs = {mode: subprocess.Popen([sys.executable, __file__, "--child", mode, preset_name, str(threads), root],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for mode in ("default", "strict")}
    try:
        modes = {mode: json.loads(proc.stdout.readline())["strict"] for mode, proc in procs.items()}  # type: ignore[union-attr]
        assert modes == {"default": False, "strict": True}, modes
        blocks: dict[str, list[float]] = {mode: [] for mode in procs}
        for turn in range(rounds):
            order = list(procs) if turn % 2 == 0 else list(reversed(procs))
            for mode in order:
                proc = procs[mode]
                proc.stdin.write(f"{epochs}\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
                blocks[mode].append(json.loads(proc.stdout.readline())["ms"])  # type: ignore[union-attr]
    finally:
        for proc in procs.values():
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(timeout=60)
    ratios = [s / d for d, s in zip(blocks["default"], blocks["strict"])]
    print(f"{name}: {epochs} epochs a block, {rounds} rounds, {threads} thread{'s' if threads > 1 else ''}")
    for mode, values in blocks.items():
        print(f"  {mode:>7}: median {statistics.median(values):7.2f} ms/epoch  "
              f"(blocks: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"  strict/default: median {statistics.median(ratios):.3f}  "
          f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, preset_name, epochs in SETUPS:
            for threads in args.threads:
                compare(name, preset_name, epochs, threads, args.rounds, tmp)


if __name__ == "__main__":
    main()
