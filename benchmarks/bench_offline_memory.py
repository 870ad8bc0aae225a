"""Peak memory (RSS) of `grok-tui measures` on one snapshot at a large p, against the size of the logits it avoids.

    python benchmarks/bench_offline_memory.py [--p 401] [--snapshots 1]

Builds a run folder with the paper's model sizes at prime p and untrained snapshots (the measures' cost does
not depend on the weights), runs the real command in a child process and reports the child's peak resident
set size (getrusage, torch included) beside the float32 logits of all p^2 inputs, which the offline
measures never hold (they keep the '=' residual, [p^2, d_model], and compute class blocks from it).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from grok_tui.core.config import Config
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import save_snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p", type=int, default=401)
    parser.add_argument("--snapshots", type=int, default=1)
    args = parser.parse_args()
    config = Config(tag="mem", p=args.p, device="cpu").check()
    with tempfile.TemporaryDirectory() as root:
        paths = RunPaths.of("mem", Path(root))
        paths.log_dir.mkdir(parents=True)
        config.save(paths.config)
        for i in range(args.snapshots):
            torch.manual_seed(i)
            save_snapshot(paths, 100 * i, SimpleTransformer(config))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grok_tui.cli", "measures", "mem", "--keys", "1,2,3", "--root", root],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux
    n_pairs = args.p * args.p
    logits_mb = n_pairs * config.d_vocab * 4 / 2**20
    residual_mb = n_pairs * config.d_model * 4 / 2**20
    print(f"p={args.p}: {args.snapshots} snapshot(s) measured in {wall:.1f} s wall")
    print(f"peak RSS {peak_mb:.0f} MiB; all logits in float32 would be {logits_mb:.0f} MiB "
          f"(float64 {2 * logits_mb:.0f} MiB); the residual held is {residual_mb:.0f} MiB")


if __name__ == "__main__":
    main()
