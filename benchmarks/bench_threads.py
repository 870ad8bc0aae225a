"""Which thread policy trains fastest, on an idle machine and beside one core-burning process.

    python benchmarks/bench_threads.py               # 3 rounds, about 11 minutes on 2 idle cores
    python benchmarks/bench_threads.py --rounds 5 --quick-epochs 300 --paper-epochs 100
    python benchmarks/bench_threads.py --policies ab --spincount 1000 10000   # (a), (b), GOMP_SPINCOUNT

Four policies, for the quick config (`--preset quick`, 150 epochs) and the paper's defaults (`--preset
paper --log-every 20 --measure-every 0`, 60 epochs):

(a) "default":           torch's default thread count (the machine's cores), the environment as it is
(b) "1 thread":          --threads 1
(c) "default, PASSIVE":  (a) with OMP_WAIT_POLICY=PASSIVE: OpenMP's waiting threads sleep at once
                         instead of spinning first (libgomp: 300,000 spins when the variable is unset)
(d) "1 thread, PASSIVE": (b) with OMP_WAIT_POLICY=PASSIVE

each once on the idle machine and once beside a `python -c "while True: pass"` child that the benchmark
starts and kills. Every run is a fresh `python -P -m grok_tui.cli train --root TMP --tag t --fresh ...` of
this checkout (PYTHONPATH points here; OMP_WAIT_POLICY and GOMP_SPINCOUNT are removed unless the policy
sets them). Its time is the trainer's own `elapsed_s` on the last line of logs/t/training_log.jsonl over
the epochs, so imports and set-up do not count; the child is ended as soon as that line is written (the
final checkpoint and PNGs would only cost wall time). A round runs every (load, config, policy) once; the
policy order rotates by one each round and the load order alternates. The report gives every round and the
medians, in ms/epoch.

The machine may be shared: before each run the benchmark waits (up to --max-wait s) until other processes
use under 0.3 cores, and each run's line says how many cores they used while it ran (busy time in
/proc/stat less this process, its runs and the burner), so a disturbed round shows.

At the end it checks that the policy does not change the run: every timed log of one config (all rounds,
policies and loads) must be byte-identical once the `elapsed_s` key is taken out of each line, and so must
three quick-config runs of 200 epochs with --threads 1, --threads 2 and --threads 2 with PASSIVE.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLICIES: dict[str, tuple[list[str], dict[str, str]]] = {  # name: (extra flags, extra environment)
    "default": ([], {}),
    "1 thread": (["--threads", "1"], {}),
    "default, PASSIVE": ([], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "1 thread, PASSIVE": (["--threads", "1"], {"OMP_WAIT_POLICY": "PASSIVE"}),
}
LOADS = ("idle", "beside 1 burner")
ELAPSED = re.compile(rb',"elapsed_s":[^,}]*')


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


HZ = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq, steal) since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    return sum(fields[i] for i in (0, 1, 2, 5, 6, 7)) / HZ


def cpu_seconds(pid: int | None) -> float:
    """CPU seconds of one process (0 without one)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def own_seconds() -> float:
    """CPU seconds of this process and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def wait_quiet(burner: int | None, max_wait: float, threshold: float = 0.3) -> float:
    """Wait (up to max_wait s) until other processes use under `threshold` cores over 1 s; the seconds waited."""
    start = time.perf_counter()
    while True:
        before = busy_seconds() - cpu_seconds(burner) - own_seconds()
        time.sleep(1.0)
        others = busy_seconds() - cpu_seconds(burner) - own_seconds() - before
        waited = time.perf_counter() - start
        if others < threshold or waited >= max_wait:
            return waited


def train(root: Path, flags: list[str], env_extra: dict[str, str], epochs: int,
          burner: int | None) -> tuple[float, bytes, str, float]:
    """One run: ms/epoch from the trainer's elapsed_s, the log without elapsed_s, the session's threads, and
    the cores that other processes (not this one, its run, or the burner) used meanwhile."""
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_extra, PYTHONPATH=str(REPO))
    for folder in ("logs", "models"):  # --fresh would delete them too, but only after start-up: no stale line
        shutil.rmtree(root / folder, ignore_errors=True)
    log = root / "logs" / "t" / "training_log.jsonl"
    command = [sys.executable, "-P", "-m", "grok_tui.cli", "train", "--root", str(root), "--tag", "t", "--fresh",
               *flags, "--num-epochs", str(epochs), "--checkpoint-every", "1000000"]
    wall, others = time.perf_counter(), busy_seconds() - cpu_seconds(burner) - own_seconds()
    child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = b""
    try:
        while True:  # wait for the line of the last epoch
            if child.poll() is not None and child.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed:\n{child.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                lines = log.read_bytes().splitlines()
            except FileNotFoundError:
                lines = []
            if lines and lines[-1].startswith(b'{"epoch":%d,' % epochs) and lines[-1].endswith(b"}"):
                last = lines[-1]
                break
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(timeout=60)
    others = (busy_seconds() - cpu_seconds(burner) - own_seconds() - others) / (time.perf_counter() - wall)
    elapsed = float(re.search(rb'"elapsed_s":([^,}]*)', last).group(1))  # type: ignore[union-attr]
    session = (root / "logs" / "t" / "sessions.jsonl").read_text(encoding="utf-8").splitlines()[-1]
    threads = re.search(r'"threads": (\d+)', session).group(1)  # type: ignore[union-attr]
    stripped = b"\n".join(ELAPSED.sub(b"", line) for line in lines) + b"\n"
    return elapsed / epochs * 1000, stripped, threads, others


CHECK = [("--threads 1", ["--threads", "1"], {}), ("--threads 2", ["--threads", "2"], {}),
         ("--threads 2 PASSIVE", ["--threads", "2"], {"OMP_WAIT_POLICY": "PASSIVE"})]


def bitwise(what: str, runs: list[tuple[str, bytes]]) -> str:
    """Whether every log is the first one's, byte for byte (elapsed_s left out); else where they part."""
    first_name, first = runs[0]
    differ = [(name, log) for name, log in runs[1:] if log != first]
    verdict = "byte-identical"
    if differ:
        parts = []
        for name, log in differ:
            lines = [(json.loads(a), json.loads(b)) for a, b in zip(first.splitlines(), log.splitlines()) if a != b]
            keys = sorted({key for a, b in lines for key in a if a[key] != b.get(key)})
            parts.append(f"{name}: {len(lines)} lines from epoch {lines[0][0]['epoch'] if lines else '?'}, "
                         f"keys {', '.join(keys)}")
        verdict = f"DIFFERENT from {first_name}:\n    " + "\n    ".join(parts)
    lines = first.count(b"\n")
    return f"bitwise check, {what}: {len(runs)} logs of {lines} lines (elapsed_s left out) {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick-epochs", type=int, default=150)
    parser.add_argument("--paper-epochs", type=int, default=60)
    parser.add_argument("--spincount", nargs="+", default=[], metavar="N",
                        help="also default threads with GOMP_SPINCOUNT=N (libgomp's spins before a waiting thread "
                             "sleeps: 300k unset, 0 under PASSIVE)")
    parser.add_argument("--policies", default="abcd",
                        help="the policies to run, by letter (default abcd; (a) is always run, as the reference)")
    parser.add_argument("--check-epochs", type=int, default=200,
                        help="the bitwise check's quick-config runs (default 200; 0: no check)")
    parser.add_argument("--max-wait", type=float, default=120.0,
                        help="before each run, wait up to this many seconds for other processes to use under "
                             "0.3 cores (default 120; 0: do not wait)")
    args = parser.parse_args()
    policies = {name: POLICIES[name] for letter, name in zip("abcd", POLICIES) if letter == "a" or letter in args.policies}
    policies.update({f"default, SPIN={n}": ([], {"GOMP_SPINCOUNT": n}) for n in args.spincount})
    configs = {
        "quick config": (["--preset", "quick"], args.quick_epochs),
        "paper defaults": (["--preset", "paper", "--log-every", "20", "--measure-every", "0"], args.paper_epochs),
    }
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if name in os.environ:
            print(f"note: {name}={os.environ[name]} here is removed for every policy that does not set it")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          f"{args.rounds} rounds; quick config {args.quick_epochs} epochs, paper defaults {args.paper_epochs}",
          flush=True)
    ms: dict[tuple[str, str, str], list[float]] = {}
    others: dict[tuple[str, str, str], list[float]] = {}
    logs: dict[str, list[tuple[str, bytes]]] = {name: [] for name in configs}
    threads_of: dict[str, set[str]] = {name: set() for name in policies}
    names = list(policies)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for turn in range(args.rounds):
            order = names[turn % len(names):] + names[:turn % len(names)]
            loads = LOADS if turn % 2 == 0 else tuple(reversed(LOADS))
            for load in loads:
                burner = (subprocess.Popen([sys.executable, "-c", "while True: pass"])
                          if load != "idle" else None)
                try:
                    for config, (config_flags, epochs) in configs.items():
                        for policy in order:
                            flags, env_extra = policies[policy]
                            waited = wait_quiet(burner and burner.pid, args.max_wait) if args.max_wait else 0.0
                            value, log, threads, busy = train(root, config_flags + flags, env_extra, epochs,
                                                              burner and burner.pid)
                            ms.setdefault((config, load, policy), []).append(value)
                            others.setdefault((config, load, policy), []).append(busy)
                            logs[config].append((f"{policy}, {load}, round {turn + 1}", log))
                            threads_of[policy].add(threads)
                            print(f"round {turn + 1}  {load:<15}  {config:<14}  {policy:<18}  "
                                  f"{value:8.2f} ms/epoch   others {busy:4.2f} cores"
                                  + (f" (waited {waited:.0f} s for them)" if waited > 1.5 else ""), flush=True)
                finally:
                    if burner is not None:
                        burner.kill()
                        burner.wait()
            print(f"-- round {turn + 1} done at {time.perf_counter() - start:.0f} s", flush=True)
    print(f"\nwall time {time.perf_counter() - start:.0f} s; threads per policy (the runs' sessions.jsonl): "
          + ", ".join(f"{policy}: {'/'.join(sorted(t))}" for policy, t in threads_of.items()))
    for config in configs:
        for load in LOADS:
            print(f"\n{config}, {load}: ms/epoch, median (rounds); other processes' cores, the most in a run")
            base = statistics.median(ms[(config, load, "default")])
            for policy in policies:
                values = ms[(config, load, policy)]
                median = statistics.median(values)
                print(f"  {policy:<18}  {median:8.2f}  x{median / base:5.2f} of default  "
                      f"({', '.join(f'{v:.2f}' for v in values)})  others <= {max(others[(config, load, policy)]):.2f}")
    print()
    for config, runs in logs.items():
        print(bitwise(f"timed runs, {config}", runs))
    if args.check_epochs:
        with tempfile.TemporaryDirectory() as tmp:
            runs = []
            for name, flags, env_extra in CHECK:
                if args.max_wait:
                    wait_quiet(None, args.max_wait)
                log = train(Path(tmp), ["--preset", "quick", *flags], env_extra, args.check_epochs, None)[1]
                runs.append((name, log))
            print(bitwise(f"quick config, {args.check_epochs} epochs, {' / '.join(name for name, _ in runs)}", runs))

if __name__ == "__main__":
    main()
