"""Sweeps: a grid of ordinary runs from one command, and the executors that decide where each one trains.

`grok-tui sweep NAME --seed 0-4 --weight-decay 0.1,0.3,1` is the Cartesian product of the values given
(the shape of Power et al. 2022's fraction sweep and Liu et al. 2022's phase diagrams). Each member is an
ordinary run with a readable tag derived from its values (NAME.wd0.3.s1), so `train`, `watch`, `plot`,
`list` and the compare view work on it unchanged. The sweep's definition lives in
<root>/sweeps/NAME.json (written atomically); running the same command again resumes unfinished members
from their checkpoints and skips finished ones; a larger grid adds members and deletes nothing.

An executor only decides where `grok-tui train` runs: the local one keeps `workers` child processes busy,
each training one member with one torch thread (on a CPU, one-thread processes side by side do more work
than one run on every core: REFERENCE.md section 6). It never writes a run's files itself, so a member
stopped anywhere resumes from its own checkpoint.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grok_tui.core.config import EXPERIMENT_FIELDS, Config, ConfigError, is_valid_tag

# The order of a member's tag parts (seed last, so a seed group's tags sort together) and their short names.
TAG_PARTS: dict[str, str] = {
    "operation": "op", "p": "p", "d_model": "dm", "num_heads": "h", "d_mlp": "mlp", "optimizer": "opt", "lr": "lr",
    "weight_decay": "wd", "momentum": "mom", "batch_size": "bs", "warmup_steps": "wu", "frac_train": "ft",
    "num_epochs": "ep", "log_every": "le",
    "checkpoint_every": "ce", "measure_every": "me", "stop_after_grok": "sg", "device": "dev",
    "adam_eps": "eps", "grokfast": "gf", "grokfast_alpha": "gfa", "grokfast_lamb": "gfl", "grokfast_window": "gfw",
    "orthograd": "og", "loss": "loss", "softmax_precision": "sp", "seed": "s",
}
SWEEPABLE = tuple(TAG_PARTS)
INT_FIELDS = {"p", "d_model", "num_heads", "d_mlp", "warmup_steps", "num_epochs", "log_every", "checkpoint_every",
              "measure_every", "stop_after_grok", "seed", "threads", "grokfast_window", "batch_size"}
FLOAT_FIELDS = {"lr", "weight_decay", "frac_train", "adam_eps", "grokfast_alpha", "grokfast_lamb", "momentum"}
BOOL_FIELDS = {"orthograd"}
BOOL_TEXT = {"on": True, "off": False, "true": True, "false": False}
MAX_MEMBERS = 10_000
DEFINITION_MAX_BYTES = 64 * 1024 * 1024  # a definition of MAX_MEMBERS members is a few MB; past this, not ours
_RANGE = re.compile(r"(\d+)-(\d+)")


def default_workers() -> int:
    """The cores this process may use: the local executor's default pool size."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_values(name: str, text: str) -> list[Any]:
    """'0-4' (whole numbers, inclusive), '0.1,0.3,1' or a single value -> the list of values, in order."""
    flag = "--" + name.replace("_", "-")
    values: list[Any] = []
    for piece in text.split(","):
        piece = piece.strip()
        if name in INT_FIELDS and _RANGE.fullmatch(piece):
            low, high = (int(x) for x in _RANGE.fullmatch(piece).groups())  # type: ignore[union-attr]
            if high < low or high - low >= MAX_MEMBERS:
                raise ConfigError([f"{name}: a range must go up, with at most {MAX_MEMBERS:,} values "
                                   f"(got {flag} {piece})"])
            values.extend(range(low, high + 1))
        elif name in INT_FIELDS:
            values.append(_convert(int, name, piece, "whole numbers or ranges such as 0-4", flag))
        elif name in FLOAT_FIELDS:
            values.append(_convert(float, name, piece, "numbers", flag))
        elif name in BOOL_FIELDS:
            if piece.lower() not in BOOL_TEXT:
                raise ConfigError([f"{name}: must be on or off, or both as on,off (got {flag} {piece!r})"])
            values.append(BOOL_TEXT[piece.lower()])
        else:
            values.append(piece)
    if len(set(values)) != len(values):
        raise ConfigError([f"{name}: each value once (got {flag} {text})"])
    return values


def _convert(kind: type, name: str, piece: str, rule: str, flag: str) -> Any:
    try:
        return kind(piece)
    except ValueError:
        raise ConfigError([f"{name}: must be {rule} separated by commas (got {flag} {piece!r})"]) from None


def value_text(value: Any) -> str:
    """A value as it appears in a tag: 0.3, 1, 1e-05, add, on."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return format(value, "g") if isinstance(value, float) else str(value)


def member_tag(name: str, values: dict[str, Any]) -> str:
    return ".".join([name, *(TAG_PARTS[field] + value_text(values[field]) for field in SWEEPABLE if field in values)])


@dataclass
class Member:
    tag: str
    values: dict[str, Any]  # the swept fields' values
    config: Config


@dataclass
class Sweep:
    name: str
    base: Config  # every field that is not swept
    axes: dict[str, list[Any]]  # swept field -> its values, in the order given
    members: list[Member]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": 1, "base": self.base.to_dict(), "axes": self.axes,
                "members": [{"tag": m.tag, "values": m.values} for m in self.members]}


def definition_path(root: Path | str, name: str) -> Path:
    return Path(root) / "sweeps" / f"{name}.json"


def expand(name: str, base: Config, axes: dict[str, list[Any]], known: list[Member] | None = None) -> Sweep:
    """The grid's members, each validated; a problem in any one is a ConfigError naming the member.

    `known` are the members an earlier invocation defined: a member of the same experiment keeps its tag
    (when a field given once before becomes an axis, its members' tags would otherwise change).
    """
    if not is_valid_tag(name):
        raise ConfigError([f"sweep: the name must be a valid tag (got {name!r})"])
    unknown = [field for field in axes if field not in SWEEPABLE]
    if unknown:
        raise ConfigError([f"{field}: cannot be swept" for field in unknown])
    ordered = {field: axes[field] for field in SWEEPABLE if field in axes}
    count = 1
    for axis in ordered.values():
        count *= len(axis)
    if count > MAX_MEMBERS:
        raise ConfigError([f"sweep: {count:,} members is more than {MAX_MEMBERS:,}"])
    known_tags = _tags_by_experiment(known or [])
    members, tags = [], set()
    for combo in itertools.product(*ordered.values()):
        values = dict(zip(ordered, combo))
        config = dataclasses.replace(base, **values)
        key = experiment_key(config)
        config.tag = (known_tags.get(key) if key is not None else None) or member_tag(name, values)
        tag = config.tag
        problems = config.problems()
        if problems:
            raise ConfigError([f"member {tag}: {problems[0]}"])
        if tag in tags:
            raise ConfigError([f"member {tag}: two members would share this tag"])
        tags.add(tag)
        members.append(Member(tag, values, config))
    return Sweep(name, base, ordered, members)


def experiment_key(config: Config) -> tuple[Any, ...] | None:
    """The experiment-defining fields' values (as Config.experiment_differences compares them), as one
    hashable key; None when one of them is not hashable (a saved member's hostile value)."""
    key = tuple(config.resolved(name) for name in EXPERIMENT_FIELDS)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _tags_by_experiment(known: list[Member]) -> dict[tuple[Any, ...], str]:
    """Each known experiment's tag (the first member's when two share one), looked up by experiment_key: a
    dict, so expanding n members against n known ones is linear (comparing each with each took 92 s at 3,000).
    A key that is not hashable cannot equal a valid member's, whose values are all numbers and words."""
    tags: dict[tuple[Any, ...], str] = {}
    for member in known:
        key = experiment_key(member.config)
        if key is not None:
            tags.setdefault(key, member.tag)
    return tags


def load_definition(path: Path) -> dict[str, Any] | None:
    """A saved sweep definition, or None when there is none; a broken one is a ConfigError naming it."""
    from grok_tui.core.atomic import read_regular

    try:
        data = json.loads(read_regular(path, DEFINITION_MAX_BYTES))
        if (not isinstance(data, dict) or not isinstance(data.get("axes"), dict)
                or not isinstance(data.get("members"), list)
                or not all(isinstance(m, dict) and isinstance(m.get("tag"), str) and isinstance(m.get("values"), dict)
                           for m in data["members"])):
            raise ValueError("not a sweep definition")
        return data
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as err:
        raise ConfigError([f"{path}: cannot be read as a sweep definition ({err}); move it away to start over"]) from None


def merge_axes(saved: dict[str, Any] | None, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The grid of this invocation grown by the saved one's values: running again deletes no member."""
    merged = {field: list(values) for field, values in axes.items()}
    for field, values in (saved or {}).get("axes", {}).items():
        if field in SWEEPABLE and isinstance(values, list):
            axis = merged.setdefault(field, [])
            present = _Seen(axis)
            axis += [v for v in values if present.add(v)]
    return merged


class _Seen:
    """Membership of an axis's values as `in` decides it (1 and 1.0 alike), in constant time for the
    hashable ones: a 10,000-value saved axis was checked against a list, value by value."""

    def __init__(self, values: list[Any]) -> None:
        self.hashable: set[Any] = set()
        self.other: list[Any] = []
        for value in values:
            self.add(value)

    def add(self, value: Any) -> bool:
        """Record `value`; whether it was new."""
        try:
            if value in self.hashable:
                return False
            self.hashable.add(value)
            return True
        except TypeError:  # a list or dict from a hostile file: compared the slow way
            if value in self.other:
                return False
            self.other.append(value)
            return True


def saved_members(saved: dict[str, Any] | None, path: Path) -> list[Member]:
    """The members of a saved definition, as configs (its base with each member's values)."""
    if saved is None:
        return []
    try:
        base = Config.from_dict(saved["base"])
        members = [Member(m["tag"], m["values"], dataclasses.replace(base, tag=m["tag"], **m["values"]))
                   for m in saved["members"]]
        for member in members:  # the file is hostile: every value is checked, as for `grok-tui train`
            member.config.check()
        return members
    except (ConfigError, TypeError, KeyError) as err:
        raise ConfigError([f"{path}: cannot be read as a sweep definition ({err}); move it away to start over"]) from None


def save_definition(root: Path | str, sweep: Sweep) -> Path:
    from grok_tui.core.atomic import atomic_write_text

    path = definition_path(root, sweep.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(sweep.to_dict(), indent=2) + "\n")
    return path


__all__ = ["Member", "Sweep", "expand", "load_definition", "member_tag", "merge_axes", "parse_values",
           "save_definition", "saved_members", "SWEEPABLE"]
