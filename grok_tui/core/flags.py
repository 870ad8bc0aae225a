"""The table of config flags: one `--dash-case` flag per Config field, beside the Config it mirrors.

The command line (`train`, the bare command, `sweep`), the local executor (which spells a member's config
out as a `grok-tui train` command line) and the README all read this one table. Each row is
(flag, Config field, the type its text converts to, help). `--betas` (two numbers) and `--orthograd` (a
switch) are not text fields and are added by the parsers themselves (cli/common.py, cli/sweep.py).
"""

from __future__ import annotations

from grok_tui.core.config import OPERATIONS, OPTIMIZERS

CONFIG_FLAGS: list[tuple[str, str, type, str]] = [
    ("--tag", "tag", str, "run name: logs/TAG and models/TAG"),
    ("--p", "p", int, "prime modulus (paper: 113)"),
    ("--operation", "operation", str, "one of " + ", ".join(OPERATIONS)),
    ("--frac-train", "frac_train", float, "fraction of the pairs used for training (paper: 0.3)"),
    ("--seed", "seed", int, "seed of the split, the init and the rand table"),
    ("--d-model", "d_model", int, "residual width (paper: 128)"),
    ("--num-heads", "num_heads", int, "attention heads (paper: 4)"),
    ("--d-mlp", "d_mlp", int, "MLP width (default 4 * d_model)"),
    ("--optimizer", "optimizer", str, "one of " + ", ".join(OPTIMIZERS) + ": adamw (default, the paper's), adam "
     "(weight decay as a coupled L2 term, as Grokfast's runs) or sgd (with --momentum)"),
    ("--lr", "lr", float, "learning rate (paper: 1e-3)"),
    ("--weight-decay", "weight_decay", float, "weight decay: decoupled for adamw, an L2 term for adam and sgd "
     "(paper: 1.0)"),
    ("--momentum", "momentum", float, "SGD's momentum (default 0.9; only with --optimizer sgd)"),
    ("--batch-size", "batch_size", int, "training pairs per optimizer step; 0 = full batch (default, the "
     "paper's); an epoch is one pass over the training set, the last batch partial"),
    ("--warmup-steps", "warmup_steps", int, "linear warmup, in optimizer steps (paper: 10)"),
    ("--adam-eps", "adam_eps", float, "Adam(W)'s epsilon (default 1e-8, torch's; Prieto et al. 2025 use 1e-30)"),
    ("--grokfast", "grokfast", str, "none (default), ema or ma: Grokfast's gradient filter (Lee et al. 2024)"),
    ("--grokfast-alpha", "grokfast_alpha", float, "Grokfast-EMA's momentum alpha (default 0.98)"),
    ("--grokfast-lamb", "grokfast_lamb", float, "Grokfast's amplification lamb (default 2 for ema, 5 for ma)"),
    ("--grokfast-window", "grokfast_window", int, "Grokfast-MA's window of gradients (default 100)"),
    ("--loss", "loss", str, "softmax (default) or stablemax (Prieto et al. 2025): the cross-entropy's probabilities"),
    ("--softmax-precision", "softmax_precision", str,
     "float64 (default, the paper's intent) or float32 (what its released code computes)"),
    ("--num-epochs", "num_epochs", int, "epochs (passes over the training set) in total; one step each at full "
     "batch (paper code: 50000)"),
    ("--log-every", "log_every", int, "epochs between log lines (default 100)"),
    ("--checkpoint-every", "checkpoint_every", int, "epochs between checkpoints (default 1000)"),
    ("--measure-every", "measure_every", int,
     "epochs between progress measures (taken on log lines); 0 = off (default 500)"),
    ("--snapshot-every", "snapshot_every", int,
     "keep the weights every N epochs (epoch 0 too) in models/TAG/snapshots for offline analysis; 0 = off "
     "(default)"),
    ("--device", "device", str, "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"),
    ("--stop-after-grok", "stop_after_grok", int, "end the run N epochs after it groks (test accuracy >= 99%%), "
     "with a checkpoint; default: train to num_epochs"),
    ("--threads", "threads", int, "torch threads for training; 0 = the cores free when it starts (default); "
     "results do not depend on it on the CPU"),
]
