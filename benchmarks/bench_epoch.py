"""ms/epoch at the paper's defaults: the published training loop beside grok-tui's trainer, interleaved.

    python benchmarks/bench_epoch.py                 # CPU, about a minute
    python benchmarks/bench_epoch.py --device cuda   # also times a full 50,000-epoch default run

(a) "published": the loop of the paper's released code on SimpleTransformer: every epoch it rebuilds the
    labels from Python lists, runs the whole model (all positions) with autograd on the training set
    AND the test set, computes the loss through its float32-casting helper, and steps.
(b) "grok-tui": the trainer's own TrainingLoop (fast engine), with the JSONL log and the progress line
    at the default cadence (log_every=100, checkpoint_every=1000), writing to a temporary folder.
(c) "grok-tui, no logging": the same steps without log points, to show what logging costs.

The variants run in turns, blocks of epochs each, in one process; each block gives one ms/epoch
figure (its wall time over its epochs, so a block of (b) includes its log points), and the report
shows the medians. The last line is the speedup of (b) over (a), from their medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from grok_tui.core.config import Config
from grok_tui.experiment.data import make_dataset
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.cli.progress import ProgressPrinter
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.training.loop import TrainingLoop
from grok_tui.training.trainer import resolve_device
from grok_tui.experiment.optimizers import warmup_factor


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def published_loop(config: Config, device: torch.device) -> Callable[[], None]:
    """One epoch of the released code's Trainer, reproduced operation for operation."""
    torch.manual_seed(config.seed)
    data = make_dataset(config)
    model = SimpleTransformer(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=config.betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_factor(config.warmup_steps))
    # The released code keeps the pairs as Python lists of (a, b, '=') tuples.
    train = [tuple(row) for row in data.train_tokens.tolist()]
    test = [tuple(row) for row in data.test_tokens.tolist()]

    def full_loss(pairs: list[tuple[int, ...]]) -> torch.Tensor:
        logits = model(torch.tensor(pairs, device=device))[:, -1]
        labels = torch.tensor([(a + b) % config.p for a, b, _ in pairs], device=device)  # the task: x + y
        # The released helper: log-softmax after a cast meant to be float64 that ends up float32.
        logprobs = F.log_softmax(logits.to(torch.float32), dim=-1)
        return -torch.gather(logprobs, index=labels[:, None], dim=-1).mean()

    def epoch() -> None:
        train_loss = full_loss(train)
        test_loss = full_loss(test)
        train_loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        _ = (train_loss.item(), test_loss.item())  # the released loop appends both to Python lists

    return epoch


def grok_tui_loop(config: Config, device: torch.device, root: Path, logging: bool) -> Callable[[], None]:
    paths = RunPaths.of(config.tag, root)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    printer = ProgressPrinter(config, stream=io.StringIO())  # the progress line, formatted as in `train`
    loop = TrainingLoop(config, paths, device, None, None, printer if logging else None)
    log = RunLogWriter(paths.log)
    if not logging:
        return loop.step
    return lambda: loop.advance(log)  # noqa: E731  # step + log line + checkpoint when due


def time_block(run: Callable[[], None], epochs: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        run()
    sync(device)
    return (time.perf_counter() - start) / epochs * 1000


def full_run_seconds(device: torch.device, root: Path) -> float:
    from grok_tui.training.trainer import train_grokking

    config = Config(tag="full", device=str(device))
    start = time.perf_counter()
    train_grokking(config, root=root)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    parser.add_argument("--rounds", type=int, default=5, help="turns of each variant (default 5)")
    parser.add_argument("--full-run", action="store_true", help="also time a whole 50,000-epoch run "
                        "(default on cuda)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = Config(device=str(device), num_epochs=10**8)  # never "done": only the cadence matters here
        variants = {
            "published": (published_loop(base, device), 10),
            "grok-tui": (grok_tui_loop(dataclasses.replace(base, tag="logged"), device, root, logging=True), 200),
            "grok-tui, no logging": (grok_tui_loop(dataclasses.replace(base, tag="bare"), device, root,
                                                   logging=False), 200),
        }
        results: dict[str, list[float]] = {name: [] for name in variants}
        for name, (run, _) in variants.items():  # warm-up: allocator, thread pool, first log line
            time_block(run, 3, device)
        for _ in range(args.rounds):
            for name, (run, epochs) in variants.items():
                results[name].append(time_block(run, epochs, device))
        gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
        print(f"device: {device} {gpu}  torch {torch.__version__}  threads {torch.get_num_threads()}")
        for name, values in results.items():
            print(f"{name:>22}: median {statistics.median(values):8.2f} ms/epoch  "
                  f"(blocks: {', '.join(f'{v:.1f}' for v in values)})")
        published = statistics.median(results["published"])
        logged = statistics.median(results["grok-tui"])
        # Adjacent blocks of one round share the machine's state; their ratio is steadier than two medians.
        overhead = statistics.median(
            a / b - 1 for a, b in zip(results["grok-tui"], results["grok-tui, no logging"]))
        print(f"logging overhead: {100 * overhead:+.1f}% of the epoch time (median of per-round ratios)")
        print(f"50,000-epoch run, estimated from (b): {50_000 * logged / 1000 / 60:.1f} min")
        if args.full_run or device.type == "cuda":
            print(f"50,000-epoch run, measured: {full_run_seconds(device, root):.1f} s")
        print(f"speedup {published / logged:.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
