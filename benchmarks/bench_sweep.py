"""Sweep throughput: the local pool (one-thread workers) against the same members one after another.

    python benchmarks/bench_sweep.py                  # quick config and the paper's defaults, 2 rounds
    python benchmarks/bench_sweep.py --rounds 3
    python benchmarks/bench_sweep.py --ray          # also: the same sweep through a local Ray cluster

"sequential": each member is `grok-tui train` at the default thread count, one after another;
"pool":       `grok-tui sweep` of the same members with --workers = the cores (one torch thread each).
Both start one process per member, so both pay the same start-up; the figure is member-epochs per second
of wall time (every member's epochs, summed, over the whole wall time). The two take turns, each round in
fresh folders, and the report shows every round and the median ratio pool/sequential.
With --ray, "ray" is the same sweep submitted to a Ray cluster started here for the run (2 CPUs, temp
folder under /tmp, authentication off); its overhead per member is (ray - pool wall time) / members.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grok_tui.sweeps.grid import default_workers

CASES = {
    # name: (flags shared by every member, seeds, epochs)
    "quick config": (["--preset", "quick", "--measure-every", "50"], 4, 600),
    "paper defaults": ([], 2, 100),
}


def run(command: list[str], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    subprocess.run(command, cwd=cwd, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def sequential(flags: list[str], seeds: int, epochs: int, root: Path) -> float:
    start = time.perf_counter()
    for seed in range(seeds):
        run([sys.executable, "-m", "grok_tui.cli", "train", "--root", str(root), "--tag", f"seq{seed}", *flags,
             "--seed", str(seed), "--num-epochs", str(epochs), "--device", "cpu"], root)
    return seeds * epochs / (time.perf_counter() - start)


def pool(flags: list[str], seeds: int, epochs: int, root: Path, workers: int) -> float:
    start = time.perf_counter()
    run([sys.executable, "-m", "grok_tui.cli", "sweep", "pool", "--root", str(root), *flags,
         "--seed", f"0-{seeds - 1}", "--num-epochs", str(epochs), "--device", "cpu", "--workers", str(workers)], root)
    return seeds * epochs / (time.perf_counter() - start)


def ray_sweep(flags: list[str], seeds: int, epochs: int, root: Path, address: str) -> float:
    start = time.perf_counter()
    run([sys.executable, "-m", "grok_tui.cli", "sweep", "ray", "--root", str(root), *flags,
         "--seed", f"0-{seeds - 1}", "--num-epochs", str(epochs), "--device", "cpu", "--ray", address], root)
    return seeds * epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--ray", action="store_true", help="also through a local Ray cluster")
    args = parser.parse_args()
    address = ""
    if args.ray:
        import ray

        os.environ["RAY_AUTH_MODE"] = "disabled"
        address = ray.init(num_cpus=args.workers, _temp_dir=tempfile.mkdtemp(prefix="ray", dir="/tmp"),
                           include_dashboard=False, logging_level="ERROR").address_info["gcs_address"]
    print(f"{os.cpu_count()} cores, pool of {args.workers} one-thread workers")
    for name, (flags, seeds, epochs) in CASES.items():
        results: dict[str, list[float]] = {"sequential": [], "pool": [], **({"ray": []} if args.ray else {})}
        for turn in range(args.rounds):
            order = list(results) if turn % 2 == 0 else list(reversed(list(results)))
            for kind in order:
                with tempfile.TemporaryDirectory() as tmp:
                    rate = (sequential(flags, seeds, epochs, Path(tmp)) if kind == "sequential"
                            else pool(flags, seeds, epochs, Path(tmp), args.workers) if kind == "pool"
                            else ray_sweep(flags, seeds, epochs, Path(tmp), address))
                results[kind].append(rate)
        ratios = [p / s for s, p in zip(results["sequential"], results["pool"])]
        print(f"{name}: {seeds} members x {epochs} epochs")
        for kind, rates in results.items():
            print(f"  {kind:>10}: median {statistics.median(rates):7.1f} member-epochs/s "
                  f"(rounds: {', '.join(f'{r:.1f}' for r in rates)})")
        print(f"  pool/sequential: median {statistics.median(ratios):.2f}x "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        if args.ray:
            work = seeds * epochs
            extra = [(work / r - work / p) / seeds for p, r in zip(results["pool"], results["ray"])]
            print(f"  ray overhead per member vs the pool: median {statistics.median(extra):+.2f} s "
                  f"(rounds: {', '.join(f'{e:+.2f}' for e in extra)})")


if __name__ == "__main__":
    main()
