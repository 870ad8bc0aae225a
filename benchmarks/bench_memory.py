"""Peak memory (RSS) of real `grok-tui` commands, each in its own child process.

    python benchmarks/bench_memory.py [--epochs 300] [--device cpu]       # train at the paper's defaults
    python benchmarks/bench_memory.py --p 997 --epochs 1                  # one epoch and its log points
    python benchmarks/bench_memory.py --readers [--lines 1000000]         # list and plot on a huge log

Runs each command in a temporary folder and reports its peak resident set size (getrusage of the child,
which includes torch itself). Targets: training <= 1 GB at the defaults and <= 4 GB at p=997 for one epoch;
`list` <= 100 MB and `plot` <= 300 MB on a valid 1,000,000-line log.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20


def peak_of(command: list[str], cwd: str) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one child process running `command`."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed with {os.waitstatus_to_exitcode(status)}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start  # kilobytes on Linux


def write_huge_log(root: Path, lines: int) -> None:
    """A valid run with a log of `lines` records, measured every 5th line (p=113's 56 Fourier norms)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from grok_tui.core.config import Config

    paths = root / "logs" / "huge"
    paths.mkdir(parents=True)
    Config(tag="huge", num_epochs=lines - 1, log_every=1).save(paths / "config.json")
    norms = [round(0.1 * k, 4) for k in range(56)]
    with open(paths / "training_log.jsonl", "w", encoding="utf-8") as log:
        for epoch in range(lines):
            record = {"epoch": epoch, "train_loss": 1 / (1 + epoch), "test_loss": 4.7 - epoch / lines,
                      "train_acc": min(1.0, epoch / 1000), "test_acc": min(1.0, epoch / lines * 2), "lr": 1e-3,
                      "weight_norm": 100 - epoch / lines, "elapsed_s": epoch * 0.05}
            if epoch % 5 == 0:
                record.update({"restricted_loss": 2.0, "excluded_loss": 3.0, "gini_embed": 0.1, "gini_unembed": 0.2,
                               "key_freqs": [14, 35], "embed_freq_norms": norms})
            log.write(json.dumps(record, separators=(",", ":")) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--p", type=int, default=113)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--readers", action="store_true", help="list and plot on a generated log instead")
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "grok_tui.cli"]
    with tempfile.TemporaryDirectory() as root:
        if args.readers:
            write_huge_log(Path(root), args.lines)
            size = (Path(root) / "logs/huge/training_log.jsonl").stat().st_size
            print(f"log of {args.lines:,} lines, {size / MIB:.0f} MiB")
            for name, command in (("list", [*cli, "list", "--root", root]),
                                  ("plot", [*cli, "plot", "--root", root, "huge"]),
                                  ("plot --measures", [*cli, "plot", "--root", root, "huge", "--measures"])):
                peak, wall = peak_of(command, root)
                print(f"{name}: peak RSS {peak:.0f} MiB, {wall:.1f} s")
            return
        peak, wall = peak_of([*cli, "train", "--root", root, "--tag", "mem", "--p", str(args.p), "--num-epochs",
                              str(args.epochs), "--device", args.device, "--threads", str(args.threads)], root)
        print(f"{args.epochs} epochs at p={args.p} (defaults otherwise) on {args.device}: {wall:.1f} s wall")
        print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
