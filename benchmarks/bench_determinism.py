"""What the deterministic gathers cost: a training step with the engine before and after, interleaved.

    python benchmarks/bench_determinism.py            # the paper's defaults and the quick config
    python benchmarks/bench_determinism.py --rounds 9

"before": the engine as it was, gathering the per-token tables with advanced indexing (`score0[a]`,
          `V0[a]`), whose backward (index_put_ with accumulate) adds rows in thread-timing order;
"after":  grok_tui.experiment.engine.last_position_logits, which gathers with index_select (backward: index_add_,
          rows added in index order, the same bits at any thread count).
Both train their own copy of the same model with the trainer's own step (fast engine, float64 loss,
AdamW, warmup), in blocks of epochs taken in turns in one process; the report gives every block, the
medians, and the median of the per-round ratios after/before (adjacent blocks share the machine's state).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from grok_tui.core.config import Config, preset
from grok_tui.experiment.engine import last_position_logits
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.run.paths import RunPaths
from grok_tui.experiment.evaluation import LogitsFn
from grok_tui.training.loop import TrainingLoop


def indexed_logits(model: SimpleTransformer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The engine before the change, operation for operation (advanced indexing for the gathers)."""
    equals = model.W_E.shape[1] - 1
    W_E = model.W_E.T
    x2 = W_E[equals] + model.W_pos[2]
    x0 = W_E[:equals] + model.W_pos[0]
    x1 = W_E[:equals] + model.W_pos[1]
    q2 = torch.einsum("hed,d->he", model.W_Q, x2)
    scale = 1 / math.sqrt(model.d_head)
    score0 = torch.einsum("hed,td,he->th", model.W_K, x0, q2) * scale
    score1 = torch.einsum("hed,td,he->th", model.W_K, x1, q2) * scale
    score2 = torch.einsum("hed,d,he->h", model.W_K, x2, q2) * scale
    V0 = torch.einsum("hed,td->the", model.W_V, x0)
    V1 = torch.einsum("hed,td->the", model.W_V, x1)
    V2 = torch.einsum("hed,d->he", model.W_V, x2)
    scores = torch.stack([score0[a], score1[b], score2.expand(a.shape[0], -1)], dim=-1)
    pattern = scores.softmax(dim=-1)[..., None]
    z = pattern[:, :, 0] * V0[a] + pattern[:, :, 1] * V1[b] + pattern[:, :, 2] * V2
    attn_out = z.flatten(1) @ model.W_O.T
    resid = x2 + attn_out
    hidden = F.relu(resid @ model.W_in.T + model.b_in)
    resid = resid + hidden @ model.W_out.T + model.b_out
    return resid @ model.W_U


def step_of(config: Config, logits_fn: LogitsFn, root: Path) -> TrainingLoop:
    paths = RunPaths.of(config.tag, root)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    return TrainingLoop(config, paths, torch.device("cpu"), None, None, None, logits_fn)


def time_block(loop: TrainingLoop, epochs: int) -> float:
    start = time.perf_counter()
    for _ in range(epochs):
        loop.step()
    return (time.perf_counter() - start) / epochs * 1000


def compare(name: str, tag: str, config: Config, epochs: int, rounds: int, root: Path) -> None:
    loops = {"before": step_of(dataclasses.replace(config, tag=f"{tag}-before"), indexed_logits, root),
             "after": step_of(dataclasses.replace(config, tag=f"{tag}-after"), last_position_logits, root)}
    for loop in loops.values():
        time_block(loop, 5)  # warm-up
    blocks: dict[str, list[float]] = {key: [] for key in loops}
    for turn in range(rounds):
        order = list(loops) if turn % 2 == 0 else list(reversed(loops))  # neither side always goes first
        for key in order:
            blocks[key].append(time_block(loops[key], epochs))
    ratios = [after / before for before, after in zip(blocks["before"], blocks["after"])]
    print(f"{name}: {epochs} epochs a block, {rounds} rounds, {torch.get_num_threads()} threads")
    for key, values in blocks.items():
        print(f"  {key:>6}: median {statistics.median(values):7.2f} ms/epoch  "
              f"(blocks: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"  after/before: median {statistics.median(ratios):.3f}  "
          f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        compare("paper defaults", "paper", preset("paper", device="cpu"), 40, args.rounds, Path(tmp))
        compare("quick config", "quick", preset("quick", device="cpu"), 200, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
