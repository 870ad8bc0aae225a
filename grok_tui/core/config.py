"""The one experiment configuration: fields, derived values, validation and JSON.

Defaults are the paper's main run (Nanda et al. 2023, arXiv 2301.05217, section 3 and appendix):
p=113, x+y, a one-layer transformer with d_model=128, 4 heads, d_mlp=512, full-batch AdamW with
lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), 10 warmup steps, 30% of the p^2 pairs for training.

The CLI, the TUI form and `train_grokking` all call `validate()` and show its messages, so a bad value
is described the same way everywhere: "<field>: <rule> (got <value>)".
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grok_tui.core.atomic import NotRegularFile, atomic_write_text, read_regular

OPERATIONS: dict[str, str] = {
    "add": "x + y",
    "sub": "x - y",
    "mul": "x * y",
    "div": "x / y (y != 0)",
    "x2xyy2": "x^2 + xy + y^2",
    "rand": "random table (control: never generalizes)",
}
TAG_RULE = "1-64 characters of letters, digits, '-', '_', '.', not starting with '.'"
_TAG_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_DEVICE_RE = re.compile(r"(auto|cpu|mps|cuda(:(0|[1-9][0-9]?))?)")

# Upper bounds keep a typo from allocating the machine away: p^2 inputs are evaluated in one pass.
MAX_P = 1000
MAX_WIDTH = 8192
MAX_EPOCHS = 100_000_000
MAX_THREADS = 1024
MAX_SEED = 2**32 - 1  # numpy's legacy RandomState (used for the `rand` table) takes 32-bit seeds

# Fields that define the experiment: changing one of them on resume would splice two different runs.
EXPERIMENT_FIELDS = (
    "p", "operation", "d_model", "num_heads", "d_mlp", "lr", "weight_decay", "betas",
    "warmup_steps", "frac_train", "seed",
    "grokfast", "grokfast_alpha", "grokfast_lamb", "grokfast_window", "orthograd", "loss", "softmax_precision",
    "adam_eps", "optimizer", "momentum", "batch_size",
)

# Interventions from the later literature (grok_tui/experiment/interventions.py, grok_tui/experiment/losses.py); the defaults are
# the paper's run, bit for bit.
GROKFAST = ("none", "ema", "ma")  # Lee et al. 2024, arXiv 2405.20233
GROKFAST_LAMB = {"ema": 2.0, "ma": 5.0}  # the paper's defaults for each filter
LOSSES = ("softmax", "stablemax")  # StableMax: Prieto et al. 2025, arXiv 2501.04697
PRECISIONS = ("float64", "float32")
MAX_WINDOW = 10_000
# The optimizers of the literature (grok_tui/experiment/optimizers.py): AdamW (Nanda et al.), Adam with coupled
# L2 weight decay (Grokfast's published runs, devinterp's example), SGD with momentum.
OPTIMIZERS = ("adamw", "adam", "sgd")
# Settings that only matter under some values of another field: name -> (that field, the values it is used
# under). Grokfast's settings with their filter; Adam's betas and epsilon with Adam(W); momentum with SGD.
INACTIVE_UNLESS: dict[str, tuple[str, tuple[str, ...]]] = {
    "grokfast_alpha": ("grokfast", ("ema",)), "grokfast_window": ("grokfast", ("ma",)),
    "grokfast_lamb": ("grokfast", ("ema", "ma")),
    "betas": ("optimizer", ("adamw", "adam")), "adam_eps": ("optimizer", ("adamw", "adam")),
    "momentum": ("optimizer", ("sgd",)),
}


class ConfigError(ValueError):
    """A config that breaks one or more rules; `problems` holds one message per broken rule."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class Config:
    tag: str = "default"
    # task
    p: int = 113
    operation: str = "add"
    frac_train: float = 0.3
    seed: int = 0
    # model
    d_model: int = 128
    num_heads: int = 4
    d_mlp: int | None = None  # None: 4 * d_model, resolved when read through `mlp_width`
    # optimization
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 10
    adam_eps: float = 1e-8  # torch's default; Prieto et al. use 1e-30, a larger one damps Slingshots
    optimizer: str = "adamw"  # adamw | adam (coupled L2 weight decay) | sgd (with momentum)
    momentum: float = 0.9  # SGD's momentum (torch.optim.SGD, dampening 0, not Nesterov); unused by Adam(W)
    # Examples per optimizer step; 0: full batch (the paper's). An epoch is one pass over the training set in
    # ceil(n_train / batch_size) steps, the last one partial, shuffled afresh each epoch from (seed, epoch).
    batch_size: int = 0
    # interventions (off by default: the paper's run)
    grokfast: str = "none"  # none | ema | ma: amplify the slow part of the gradient
    grokfast_alpha: float = 0.98  # EMA: mu = alpha * mu + (1 - alpha) * g
    grokfast_lamb: float | None = None  # g += lamb * filtered; None: 2.0 for ema, 5.0 for ma
    grokfast_window: int = 100  # MA: the mean of the last `window` gradients
    orthograd: bool = False  # ⊥Grad: drop the gradient's component along the weights, keep its norm
    loss: str = "softmax"  # softmax | stablemax: the probabilities the cross-entropy is taken of
    softmax_precision: str = "float64"  # float64 (the paper's intent) | float32 (what its code computes)
    # schedule
    num_epochs: int = 50_000
    log_every: int = 100
    checkpoint_every: int = 1000
    # Progress measures (grok_tui/measures/progress_measures.py) go on the first log line at or after each multiple of
    # measure_every; 0 turns them off.
    measure_every: int = 500
    # run settings: may change on resume without changing the experiment
    device: str = "auto"
    # torch threads for training; 0: torch's default for the process (OMP_NUM_THREADS, else the cores).
    # On the CPU the results do not depend on it (the engine's sums are fixed-order; tested 1-8 threads).
    threads: int = 0
    # End the run this many epochs after it grokked (test accuracy >= 99%), at the first log line from
    # there, with a checkpoint; None: train to num_epochs. Not part of the experiment: a sweep that only
    # needs epochs-to-grok sets it to spend a fraction of num_epochs.
    stop_after_grok: int | None = None
    # Keep the model's weights (float32, weights only) at every multiple of snapshot_every, epoch 0
    # included, in models/<tag>/snapshots/ (grok_tui/run/snapshots.py), for offline analysis; 0 turns it off.
    snapshot_every: int = 0

    # ---- derived values (properties, so they never go stale when a field changes) ----
    @property
    def mlp_width(self) -> int:
        """The MLP hidden size: d_mlp if given, else the paper's 4 * d_model."""
        return self.d_mlp if self.d_mlp is not None else 4 * self.d_model

    @property
    def grokfast_strength(self) -> float:
        """Grokfast's lamb: the field if given, else the paper's default for the filter."""
        if self.grokfast_lamb is not None:
            return self.grokfast_lamb
        return GROKFAST_LAMB.get(self.grokfast, 0.0)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch: 1 full batch, else one per minibatch (the last one partial)."""
        return 1 if self.batch_size == 0 else -(-self.n_train // self.batch_size)

    def is_unused(self, name: str) -> bool:
        """Whether a field changes nothing for this run (Grokfast's settings without their filter, Adam's
        betas under SGD, SGD's momentum under Adam)."""
        if name not in INACTIVE_UNLESS:
            return False
        switch, values = INACTIVE_UNLESS[name]
        return getattr(self, switch) not in values

    @property
    def d_head(self) -> int:
        return self.d_model // self.num_heads

    @property
    def d_vocab(self) -> int:
        """Tokens 0..p-1 plus '=' (token p); the output keeps the '=' class too, as in the paper."""
        return self.p + 1

    @property
    def n_pairs(self) -> int:
        return self.p * (self.p - 1) if self.operation == "div" else self.p * self.p

    @property
    def n_train(self) -> int:
        return int(self.frac_train * self.n_pairs)

    @property
    def n_test(self) -> int:
        return self.n_pairs - self.n_train

    # ---- validation ----
    def problems(self) -> list[str]:
        return validate(self)

    def check(self) -> "Config":
        """Raise ConfigError naming every broken rule; return self when valid."""
        found = validate(self)
        if found:
            raise ConfigError(found)
        return self

    # ---- comparison and JSON ----
    def resolved(self, name: str) -> Any:
        """A field's value as it acts on the run: d_mlp and grokfast_lamb with their defaults filled in,
        None for a setting the run does not use (is_unused), betas as a tuple."""
        if name == "d_mlp":
            return self.mlp_width
        if self.is_unused(name):
            return None  # a setting the run does not use changes nothing
        if name == "grokfast_lamb":
            return self.grokfast_strength
        value = getattr(self, name)
        return tuple(value) if isinstance(value, list) else value  # a list from JSON equals the tuple

    def experiment_differences(self, other: "Config") -> list[str]:
        """Names of the experiment-defining fields whose values differ (compared as `resolved`)."""
        differ = []
        for name in EXPERIMENT_FIELDS:
            mine, theirs = self.resolved(name), other.resolved(name)
            if mine != theirs:
                differ.append(f"{name} ({theirs!r} -> {mine!r})")
        return differ

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Build from a dict (e.g. config.json); unknown keys are an error, missing keys take defaults."""
        if not isinstance(data, dict):
            raise ConfigError([f"config: must be a JSON object (got {type(data).__name__})"])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError([f"{name}: unknown config field" for name in unknown])
        values = dict(data)
        if isinstance(values.get("betas"), list):
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Config":
        """Read and validate a config.json: the one way every reader (list, plot, the TUI, the trainer's
        resume, sweeps) gets a run's config. Any problem is a ConfigError naming the file: not a regular
        file, too large, bad JSON, an unknown field, or a value that breaks a rule (the same validate()
        the CLI and the form use), so a hand-edited `"operation": 5` is a broken run, never a crash later.
        """
        try:
            data = json.loads(_read_config_file(Path(path)))
            return cls.from_dict(data).check()
        except ConfigError as err:
            raise ConfigError([f"{path}: {problem}" for problem in err.problems]) from None
        except (OSError, ValueError, TypeError, RecursionError) as err:  # ValueError covers bad JSON
            raise ConfigError([f"{path}: cannot be read as a config ({err})"]) from None


CONFIG_MAX_BYTES = 1024 * 1024  # a config.json is about 1 KB; anything past this is not one (and is not read)


def _read_config_file(path: Path) -> bytes:
    """The bytes of a config file that is a regular file (or a symlink to one) of at most CONFIG_MAX_BYTES:
    anything else is refused unread (atomic.read_regular)."""
    try:
        return read_regular(path, CONFIG_MAX_BYTES)
    except NotRegularFile as err:
        raise ConfigError([err.message.removeprefix(f"{path}: ")]) from None


PRESETS: dict[str, dict[str, Any]] = {
    # The paper's main experiment.
    "paper": {},
    # Groks in well under a minute on a 2-core CPU (see README, "The quick config").
    "quick": {"p": 47, "d_model": 64, "frac_train": 0.5, "lr": 3e-3, "num_epochs": 3000, "log_every": 10,
              "measure_every": 50},
}


def preset(name: str, **overrides: Any) -> Config:
    """A Config from a named preset, with any field overridden."""
    if name not in PRESETS:
        raise ConfigError([f"preset: must be one of {', '.join(PRESETS)} (got {name!r})"])
    return Config(**{**PRESETS[name], **overrides})


# ---------------------------------------------------------------- validation


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % k for k in range(2, math.isqrt(n) + 1))


def is_valid_tag(tag: object) -> bool:
    """Tags name folders under logs/ and models/: the rule rules out separators, '..' and hidden names."""
    return isinstance(tag, str) and _TAG_RE.fullmatch(tag) is not None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    # An int too large for a float (a 400-digit "lr" in a config.json) is not a usable number either.
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= sys.float_info.max


def _show(value: object) -> str:
    """A value for an error message: repr, but never a traceback and never a screenful.

    repr of an int over Python's 4,300-digit limit raises ValueError; a huge one is named by its size.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 128:
            return f"an integer of {value.bit_length():,} bits"
        text = f"{value:,}"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_rule(problems: list[str], name: str, value: object, low: int, high: int) -> bool:
    if not _is_int(value):
        problems.append(f"{name}: must be a whole number (got {_show(value)})")
        return False
    assert isinstance(value, int)
    if not low <= value <= high:
        problems.append(f"{name}: must be between {low:,} and {high:,} (got {_show(value)})")
        return False
    return True


def validate(config: Config) -> list[str]:
    """Every broken rule of `config`, one message each, naming the field and the rule; [] when valid."""
    problems: list[str] = []
    c = config

    if not is_valid_tag(c.tag):
        problems.append(f"tag: must be {TAG_RULE} (got {_show(c.tag)})")

    p_ok = _is_int(c.p) and 3 <= c.p <= MAX_P and is_prime(c.p)
    if not p_ok:
        problems.append(f"p: must be a prime number between 3 and {MAX_P} (got {_show(c.p)})")

    op_ok = isinstance(c.operation, str) and c.operation in OPERATIONS
    if not op_ok:
        problems.append(f"operation: must be one of {', '.join(OPERATIONS)} (got {_show(c.operation)})")

    if not _is_real(c.frac_train) or not 0 < c.frac_train < 1:
        problems.append(f"frac_train: must be a number strictly between 0 and 1 (got {_show(c.frac_train)})")
    elif p_ok and op_ok and (c.n_train < 1 or c.n_test < 1):
        problems.append(
            f"frac_train: must leave at least one train and one test pair of the {c.n_pairs:,} "
            f"(got {_show(c.frac_train)}: {c.n_train} train, {c.n_test} test)"
        )

    _int_rule(problems, "seed", c.seed, 0, MAX_SEED)

    d_model_ok = _int_rule(problems, "d_model", c.d_model, 1, MAX_WIDTH)
    heads_ok = _int_rule(problems, "num_heads", c.num_heads, 1, MAX_WIDTH)
    if d_model_ok and heads_ok and c.d_model % c.num_heads:
        problems.append(
            f"num_heads: must divide d_model (got d_model={c.d_model}, num_heads={c.num_heads})"
        )
    if c.d_mlp is not None:
        _int_rule(problems, "d_mlp", c.d_mlp, 1, 4 * MAX_WIDTH)

    if not _is_real(c.lr) or not c.lr > 0:
        problems.append(f"lr: must be a finite number > 0 (got {_show(c.lr)})")
    if not _is_real(c.weight_decay) or not c.weight_decay >= 0:
        problems.append(f"weight_decay: must be a finite number >= 0 (got {_show(c.weight_decay)})")
    betas = c.betas
    if (
        not isinstance(betas, (tuple, list))
        or len(betas) != 2
        or not all(_is_real(b) and 0 <= b < 1 for b in betas)
    ):
        problems.append(f"betas: must be two numbers in [0, 1) (got {_show(betas)})")
    _int_rule(problems, "warmup_steps", c.warmup_steps, 0, MAX_EPOCHS)
    if not _is_real(c.adam_eps) or not c.adam_eps > 0:
        problems.append(f"adam_eps: must be a finite number > 0 (got {_show(c.adam_eps)})")
    _optimizer_rules(problems, c, p_ok and op_ok)
    _interventions_rules(problems, c)

    _int_rule(problems, "num_epochs", c.num_epochs, 1, MAX_EPOCHS)
    _int_rule(problems, "log_every", c.log_every, 1, MAX_EPOCHS)
    _int_rule(problems, "checkpoint_every", c.checkpoint_every, 1, MAX_EPOCHS)
    _int_rule(problems, "measure_every", c.measure_every, 0, MAX_EPOCHS)
    _int_rule(problems, "snapshot_every", c.snapshot_every, 0, MAX_EPOCHS)

    _int_rule(problems, "threads", c.threads, 0, MAX_THREADS)
    if c.stop_after_grok is not None:
        _int_rule(problems, "stop_after_grok", c.stop_after_grok, 0, MAX_EPOCHS)
    if not isinstance(c.device, str) or not _DEVICE_RE.fullmatch(c.device):
        problems.append(f"device: must be auto, cpu, cuda, cuda:N or mps (got {_show(c.device)})")
    return problems


def _optimizer_rules(problems: list[str], c: Config, task_ok: bool) -> None:
    if not isinstance(c.optimizer, str) or c.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer: must be one of {', '.join(OPTIMIZERS)} (got {_show(c.optimizer)})")
    if not _is_real(c.momentum) or not 0 <= c.momentum < 1:
        problems.append(f"momentum: must be a number in [0, 1) (got {_show(c.momentum)})")
    if _int_rule(problems, "batch_size", c.batch_size, 0, MAX_EPOCHS) and task_ok and _is_real(c.frac_train) \
            and 0 < c.frac_train < 1 and c.batch_size > c.n_train >= 1:
        problems.append(f"batch_size: must be at most the training set's {c.n_train:,} pairs, or 0 for full batch "
                        f"(got {_show(c.batch_size)})")


def _interventions_rules(problems: list[str], c: Config) -> None:
    if not isinstance(c.grokfast, str) or c.grokfast not in GROKFAST:
        problems.append(f"grokfast: must be one of {', '.join(GROKFAST)} (got {_show(c.grokfast)})")
    if not _is_real(c.grokfast_alpha) or not 0 <= c.grokfast_alpha < 1:
        problems.append(f"grokfast_alpha: must be a number in [0, 1) (got {_show(c.grokfast_alpha)})")
    if c.grokfast_lamb is not None and (not _is_real(c.grokfast_lamb) or not c.grokfast_lamb >= 0):
        problems.append(f"grokfast_lamb: must be a finite number >= 0 (got {_show(c.grokfast_lamb)})")
    _int_rule(problems, "grokfast_window", c.grokfast_window, 1, MAX_WINDOW)
    if not isinstance(c.orthograd, bool):
        problems.append(f"orthograd: must be true or false (got {_show(c.orthograd)})")
    if not isinstance(c.loss, str) or c.loss not in LOSSES:
        problems.append(f"loss: must be one of {', '.join(LOSSES)} (got {_show(c.loss)})")
    if not isinstance(c.softmax_precision, str) or c.softmax_precision not in PRECISIONS:
        problems.append(f"softmax_precision: must be one of {', '.join(PRECISIONS)} "
                        f"(got {_show(c.softmax_precision)})")


__all__ = [
    "Config", "ConfigError", "EXPERIMENT_FIELDS", "OPERATIONS", "OPTIMIZERS", "PRESETS", "preset", "validate",
    "is_prime", "is_valid_tag",
]
