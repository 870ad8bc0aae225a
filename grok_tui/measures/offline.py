"""The paper's progress measures recomputed offline, over a run's weight snapshots, with one fixed key set.

Nanda et al. 2023 (arXiv 2301.05217, section 5) pick the key frequencies once, from the fully trained model,
and measure restricted and excluded loss at every checkpoint with that same set. The live measures
(grok_tui/measures/progress_measures.py, written into the log while training) can only use the key frequencies the model has
at the time. `grok-tui measures TAG` does it the paper's way over models/<tag>/snapshots/:

  --keys final   (default) the key frequencies of the latest model: the checkpoint's, else the last snapshot's
  --keys live    each snapshot's own key frequencies, as the live measures pick them
  --keys 14,35   a set given by hand

and writes logs/<tag>/offline_measures.jsonl (one record per snapshot, the log's record shape), atomically;
the run's own files are only read. Memory stays bounded at p near 1000: the logits of all p^2 inputs
(4 GB there) are never held; the '=' residual [p^2, d_model] is, and restricted_and_excluded() gets its
class blocks of logits computed on demand from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch

from grok_tui.core.atomic import atomic_write_text, check_writable
from grok_tui.core.config import Config, ConfigError
from grok_tui.core.errors import CheckpointError, NoDataError
from grok_tui.experiment.data import Dataset, make_dataset
from grok_tui.experiment.evaluation import eval_chunk_rows
from grok_tui.experiment.model import SimpleTransformer, sum_squared_weights
from grok_tui.measures.loaded_run import build_model, run_config, run_weights
from grok_tui.measures.progress_measures import (
    ProgressMeasures,
    frequency_norms,
    gini,
    key_frequencies,
)
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import Record, encode_record
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import list_snapshots, load_snapshot

KeySpec = str | list[int]  # "final", "live", or the frequencies themselves


def offline_measures_path(paths: RunPaths) -> Path:
    return paths.log_dir / "offline_measures.jsonl"


def parse_keys(text: str) -> KeySpec:
    """--keys: final, live, or a comma list of frequencies (checked against p later)."""
    if text in ("final", "live"):
        return text
    try:
        keys = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise ConfigError([f"keys: must be final, live or a comma list of frequencies such as 14,35,41 "
                           f"(got {text!r})"]) from None
    return keys


def check_keys(keys: list[int], n_freqs: int) -> list[int]:
    bad = [k for k in keys if not 1 <= k <= n_freqs]
    if bad or not keys:
        raise ConfigError([f"keys: frequencies must be whole numbers from 1 to {n_freqs} for this run "
                           f"(got {', '.join(map(str, bad)) or 'none'})"])
    return keys


# ---------------------------------------------------------------- one model, all inputs, bounded memory


@torch.inference_mode()
def final_residual(model: SimpleTransformer, data: Dataset) -> torch.Tensor:
    """The residual stream at '=' after the MLP, for every input: [n_pairs, d_model] (logits = it @ W_U).

    The readable reference model's own layers, run on row chunks of eval_chunk_rows.
    """
    rows = eval_chunk_rows(model)
    tokens = data.tokens
    out = torch.empty((len(tokens), model.W_U.shape[0]), dtype=model.W_U.dtype)  # [n_pairs, d_model]
    for start in range(0, len(tokens), rows):
        chunk = tokens[start:start + rows]  # [rows, 3]
        x = torch.nn.functional.embedding(chunk, model.W_E.T) + model.W_pos[:chunk.shape[1]]  # [rows, 3, d_model]
        x = x + model.attention(x)
        x = x + model.mlp(x)
        out[start:start + rows] = x[:, -1]
    return out


class ClassBlockLogits:
    """Stands in for the [n_pairs, d_vocab] logits tensor that ProgressMeasures.restricted_and_excluded()
    reads one block of classes at a time (`logits[:, start:stop]`): each block is computed when asked for."""

    def __init__(self, residual: torch.Tensor, W_U: torch.Tensor):
        self.residual, self.W_U = residual, W_U  # [n_pairs, d_model], [d_model, d_vocab]
        self.shape = (residual.shape[0], W_U.shape[1])

    @torch.inference_mode()
    def __getitem__(self, index: tuple[slice, slice]) -> torch.Tensor:
        rows, classes = index
        return self.residual[rows] @ self.W_U[:, classes]  # [rows, classes]


def _metrics(residual: torch.Tensor, W_U: torch.Tensor, data: Dataset) -> dict[str, float]:
    """Loss (float64 log-softmax, as training) and accuracy on train and test, over row chunks of logits."""
    n = residual.shape[0]
    rows = max(1, 64 * 2**20 // (16 * W_U.shape[1]))
    losses = torch.empty(n, dtype=torch.float64)
    correct = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, rows):
        logits = residual[start:start + rows] @ W_U  # [rows, d_vocab]
        labels = data.labels[start:start + rows]
        logprobs = torch.log_softmax(logits.double(), dim=-1)
        losses[start:start + rows] = -logprobs.gather(-1, labels[:, None])[:, 0]
        correct[start:start + rows] = (logits.argmax(dim=-1) == labels).double()
    return {"train_loss": losses[data.train_idx].mean().item(), "test_loss": losses[data.test_idx].mean().item(),
            "train_acc": correct[data.train_idx].mean().item(), "test_acc": correct[data.test_idx].mean().item()}


class SnapshotMeasurer:
    """The paper's measures of one model at a time, for one run (basis, frame and split built once)."""

    def __init__(self, config: Config):
        self.config = config
        self.data = make_dataset(config)
        self.measures = ProgressMeasures(config.p, config.operation, self.data)
        self.n_freqs = self.measures.basis.n_freqs

    def model(self, weights: dict[str, torch.Tensor]) -> SimpleTransformer:
        return build_model(self.config, weights)

    @torch.inference_mode()
    def embed_norms(self, model: SimpleTransformer) -> torch.Tensor:
        return frequency_norms(model.W_E[:, self.measures.order], self.measures.basis)  # [n_freqs]

    def key_frequencies(self, model: SimpleTransformer) -> list[int]:
        return key_frequencies(self.embed_norms(model))

    @torch.inference_mode()
    def measure(self, epoch: int, model: SimpleTransformer, keys: list[int] | None) -> Record:
        """One record of the log's shape; keys=None: the model's own key frequencies (the live way)."""
        order = self.measures.order
        embed_norms = self.embed_norms(model)
        unembed_norms = frequency_norms((model.W_out.T @ model.W_U)[:, order], self.measures.basis)  # W_L
        used = keys if keys is not None else key_frequencies(embed_norms)
        residual = final_residual(model, self.data)
        lazy = cast(torch.Tensor, ClassBlockLogits(residual, model.W_U))  # read as logits[:, block] only
        restricted, excluded = self.measures.restricted_and_excluded(lazy, used)
        return {"epoch": epoch, **_metrics(residual, model.W_U, self.data),
                "weight_norm": sum_squared_weights(model),
                "restricted_loss": restricted, "excluded_loss": excluded,
                "gini_embed": gini(embed_norms), "gini_unembed": gini(unembed_norms), "key_freqs": used,
                "embed_freq_norms": [float(f"{v:.5g}") for v in embed_norms.tolist()]}


# ---------------------------------------------------------------- a run's snapshots


@dataclass
class OfflineResult:
    path: Path
    records: list[Record]
    keys: KeySpec  # the key set used: a list, or "live"
    keys_from: str  # where it came from, for messages: "the checkpoint (epoch 20,000)", "--keys", "each snapshot"
    skipped: list[str] = field(default_factory=list)  # one line per snapshot that could not be read, and why


def latest_weights(paths: RunPaths, config: Config) -> tuple[int, dict[str, torch.Tensor], str]:
    """(epoch, weights, what) of the run's latest model: its checkpoint, or its last snapshot when that is
    later (a resumed run's checkpoint is behind the snapshots it is about to rewrite) or there is none."""
    last = list_snapshots(paths)[-1]
    checkpoint_epoch = int(load_checkpoint(paths.checkpoint)["epoch"]) if paths.checkpoint.exists() else -1
    if checkpoint_epoch >= last.epoch:
        epoch, weights, _ = run_weights(paths, config, None)
        return epoch, weights, "the checkpoint"
    return last.epoch, load_snapshot(last.path, config), "the last snapshot"


ProgressFn = Callable[[int, int, int], None]  # (done, total, epoch)


def measure_run(tag: str, keys: KeySpec = "final", root: Path | str | None = None,
                progress: ProgressFn | None = None) -> OfflineResult:
    """Measure every snapshot of run `tag` with `keys` and write logs/<tag>/offline_measures.jsonl."""
    paths = RunPaths.of(tag, root)
    config = run_config(paths)
    snapshots = list_snapshots(paths)
    if not snapshots:
        raise NoDataError(f"{paths.model_dir / 'snapshots'}: run {tag!r} has no snapshots (train it with "
                          "--snapshot-every N)")
    measurer = SnapshotMeasurer(config)
    fixed: list[int] | None
    if keys == "final":
        epoch, weights, what = latest_weights(paths, config)
        fixed = measurer.key_frequencies(measurer.model(weights))
        keys_from = f"{what} (epoch {epoch:,})"
        if not fixed:
            raise NoDataError(f"run {tag!r}: its model at epoch {epoch:,} has no key frequencies yet (no frequency "
                              "stands out in W_E); give them with --keys K,K,... or use --keys live")
    elif isinstance(keys, list):
        fixed, keys_from = check_keys(keys, measurer.n_freqs), "--keys"
    elif keys == "live":
        fixed, keys_from = None, "each snapshot"
    else:
        raise ConfigError([f"keys: must be final, live or a list of frequencies (got {keys!r})"])
    out = offline_measures_path(paths)
    check_writable(out)  # before minutes of work that could not be saved
    records, skipped = [], []
    for done, snapshot in enumerate(snapshots):
        try:  # one corrupt snapshot costs its own point, not the others' (it is reported, never guessed)
            model = measurer.model(load_snapshot(snapshot.path, config))
        except CheckpointError as err:
            skipped.append(str(err))
        else:
            records.append(measurer.measure(snapshot.epoch, model, fixed))
        if progress is not None:
            progress(done + 1, len(snapshots), snapshot.epoch)
    if not records:
        raise NoDataError(f"run {tag!r}: none of its {len(snapshots)} snapshots could be read (the first: "
                          f"{skipped[0]})")
    atomic_write_text(out, "".join(encode_record(r) for r in records))
    return OfflineResult(out, records, fixed if fixed is not None else "live", keys_from, skipped)


# ---------------------------------------------------------------- the figure


MEASURE_KEYS = ("restricted_loss", "excluded_loss", "gini_embed", "gini_unembed", "key_freqs", "embed_freq_norms")


def merged_records(log: list[Record], offline: list[Record]) -> list[Record]:
    """The log's lines (their live measures left out) with the offline measures at the snapshots' epochs:
    losses and phase events at the log's resolution, the measures at the snapshots'."""
    by_epoch = {int(r["epoch"]): {k: v for k, v in r.items() if k not in MEASURE_KEYS} for r in log}
    for record in offline:
        epoch = int(record["epoch"])
        if epoch in by_epoch:
            by_epoch[epoch].update({k: v for k, v in record.items() if k in MEASURE_KEYS})
        else:
            by_epoch[epoch] = dict(record)
    return [by_epoch[e] for e in sorted(by_epoch)]


