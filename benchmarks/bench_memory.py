"""Peak memory (RSS) of a headless `grok-tui train` run at the paper's defaults.

    python benchmarks/bench_memory.py [--epochs 300] [--device cpu]

Runs the real command in a child process in a temporary folder and reports the child's peak resident
set size (getrusage), which includes torch itself. Target: <= 1 GB on the CPU.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grok_tui.cli", "train", "--root", root, "--tag", "mem",
                        "--num-epochs", str(args.epochs), "--device", args.device],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    print(f"{args.epochs} epochs at the paper's defaults on {args.device}: {wall:.1f} s wall")
    print(f"peak RSS {peak_kb / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
