"""Config: the paper's defaults, derived values, validation messages, JSON and experiment diffs."""

from __future__ import annotations

import json
import math

import pytest

from grok_tui.core.config import EXPERIMENT_FIELDS, PRESETS, Config, ConfigError, preset, validate

# ---------------------------------------------------------------- defaults


def test_defaults_are_the_papers_main_run() -> None:
    c = Config()
    assert c.p == 113
    assert c.operation == "add"
    assert c.d_model == 128
    assert c.num_heads == 4
    assert c.d_head == 32
    assert c.mlp_width == 512
    assert c.d_vocab == 114
    assert c.lr == 1e-3
    assert c.weight_decay == 1.0
    assert tuple(c.betas) == (0.9, 0.98)
    assert c.warmup_steps == 10
    assert c.frac_train == 0.3
    assert c.num_epochs == 50_000
    assert c.log_every == 100
    assert c.checkpoint_every == 1000
    assert c.device == "auto"
    assert validate(c) == []


def test_default_split_sizes() -> None:
    c = Config()
    assert (c.n_pairs, c.n_train, c.n_test) == (113 * 113, 3830, 8939)
    div = Config(operation="div")
    assert div.n_pairs == 113 * 112


# ---------------------------------------------------------------- d_mlp / mlp_width


def test_mlp_width_is_four_times_d_model_and_follows_changes() -> None:
    c = Config()
    assert c.d_mlp is None
    assert c.mlp_width == 4 * 128
    c.d_model = 64
    assert c.mlp_width == 256  # derived on read, never stale
    c.d_model = 32
    assert c.mlp_width == 128


def test_explicit_d_mlp_wins() -> None:
    c = Config(d_mlp=300)
    assert c.mlp_width == 300
    c.d_model = 64
    assert c.mlp_width == 300


# ---------------------------------------------------------------- bad values, one row per rule

TAG_RULE = "1-64 characters"

BAD_VALUES = [
    # (field named in the message, overrides, fragment naming the rule)
    ("p", {"p": 9}, "prime"),
    ("p", {"p": 100}, "prime"),
    ("p", {"p": 2}, "between 3"),
    ("p", {"p": 1}, "between 3"),
    ("p", {"p": -7}, "between 3"),
    ("p", {"p": 1009}, "1000"),  # prime, but above the limit
    ("p", {"p": True}, "prime number"),
    ("p", {"p": "113"}, "prime number"),
    ("p", {"p": 113.0}, "prime number"),
    ("operation", {"operation": "pow"}, "must be one of"),
    ("operation", {"operation": "ADD"}, "must be one of"),
    ("frac_train", {"frac_train": 0}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": 0.0}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": 1}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": 1.0}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": math.nan}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": math.inf}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": -0.3}, "strictly between 0 and 1"),
    ("frac_train", {"frac_train": "0.3"}, "strictly between 0 and 1"),
    ("frac_train", {"p": 3, "frac_train": 0.05}, "at least one train"),
    ("num_heads", {"d_model": 130, "num_heads": 4}, "must divide d_model"),
    ("d_model", {"d_model": 0}, "between 1"),
    ("d_model", {"d_model": -128}, "between 1"),
    ("d_model", {"d_model": 128.0}, "whole number"),
    ("num_heads", {"num_heads": 0}, "between 1"),
    ("num_heads", {"num_heads": -4}, "between 1"),
    ("d_mlp", {"d_mlp": 0}, "between 1"),
    ("d_mlp", {"d_mlp": -512}, "between 1"),
    ("warmup_steps", {"warmup_steps": -1}, "between 0"),
    ("lr", {"lr": 0}, "> 0"),
    ("lr", {"lr": 0.0}, "> 0"),
    ("lr", {"lr": -1e-3}, "> 0"),
    ("lr", {"lr": math.nan}, "finite"),
    ("lr", {"lr": math.inf}, "finite"),
    ("weight_decay", {"weight_decay": -0.1}, ">= 0"),
    ("weight_decay", {"weight_decay": math.nan}, "finite"),
    ("betas", {"betas": (0.9,)}, "two numbers in [0, 1)"),
    ("betas", {"betas": (0.9, 0.98, 0.99)}, "two numbers in [0, 1)"),
    ("betas", {"betas": (0.9, 1.0)}, "two numbers in [0, 1)"),
    ("betas", {"betas": (-0.1, 0.98)}, "two numbers in [0, 1)"),
    ("betas", {"betas": (math.nan, 0.98)}, "two numbers in [0, 1)"),
    ("betas", {"betas": "ab"}, "two numbers in [0, 1)"),
    ("betas", {"betas": 0.9}, "two numbers in [0, 1)"),
    ("num_epochs", {"num_epochs": 0}, "between 1"),
    ("log_every", {"log_every": 0}, "between 1"),
    ("checkpoint_every", {"checkpoint_every": 0}, "between 1"),
    ("seed", {"seed": -1}, "between 0"),
    ("seed", {"seed": 2**32}, "4,294,967,295"),
    ("seed", {"seed": 1.5}, "whole number"),
    ("device", {"device": "gpu"}, "cuda:N"),
    ("device", {"device": "CPU"}, "cuda:N"),
    ("device", {"device": ""}, "cuda:N"),
    ("device", {"device": " cpu"}, "cuda:N"),
    ("device", {"device": "cpu\n"}, "cuda:N"),
    ("device", {"device": "cuda:"}, "cuda:N"),
    ("device", {"device": "cuda:-1"}, "cuda:N"),
    ("device", {"device": "cuda:x"}, "cuda:N"),
    ("device", {"device": "cuda:123"}, "cuda:N"),
    ("device", {"device": None}, "cuda:N"),
    # torch.device() rejects these two, so validate must too.
    ("device", {"device": "cuda:01"}, "cuda:N"),
    ("device", {"device": "cuda:\u0663"}, "cuda:N"),  # ARABIC-INDIC DIGIT THREE
    ("tag", {"tag": ""}, TAG_RULE),
    ("tag", {"tag": ".hidden"}, TAG_RULE),
    ("tag", {"tag": "../x"}, TAG_RULE),
    ("tag", {"tag": ".."}, TAG_RULE),
    ("tag", {"tag": "a/b"}, TAG_RULE),
    ("tag", {"tag": "a\\b"}, TAG_RULE),
    ("tag", {"tag": "/abs"}, TAG_RULE),
    ("tag", {"tag": "x" * 65}, TAG_RULE),
    ("tag", {"tag": "\u00e9"}, TAG_RULE),
    ("tag", {"tag": "tab\t"}, TAG_RULE),
    ("tag", {"tag": "x\n"}, TAG_RULE),
    ("tag", {"tag": "a b"}, TAG_RULE),
    ("tag", {"tag": None}, TAG_RULE),
]


@pytest.mark.parametrize(
    ("field", "overrides", "rule"),
    BAD_VALUES,
    ids=[f"{f}={next(iter(o.values()))!r}" if len(o) == 1 else f"{f}:{o!r}" for f, o, _ in BAD_VALUES],
)
def test_bad_value_is_named_with_its_rule(field: str, overrides: dict, rule: str) -> None:
    problems = validate(Config(**overrides))
    assert len(problems) == 1, problems
    message = problems[0]
    assert message.startswith(f"{field}:"), message
    assert rule in message, message


def test_validate_reports_every_problem_at_once() -> None:
    c = Config(p=4, lr=0, tag="", device="gpu", num_epochs=0, betas=(1.5, 0.9), seed=-1)
    problems = validate(c)
    fields = sorted(m.split(":", 1)[0] for m in problems)
    assert fields == sorted(["p", "lr", "tag", "device", "num_epochs", "betas", "seed"])
    assert c.problems() == problems


def test_check_raises_config_error_with_all_problems() -> None:
    c = Config(p=4, lr=-1.0)
    with pytest.raises(ConfigError) as info:
        c.check()
    assert info.value.problems == validate(c)
    assert len(info.value.problems) == 2
    assert "p:" in str(info.value) and "lr:" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_check_returns_self_when_valid() -> None:
    c = Config(tag="ok")
    assert c.check() is c


@pytest.mark.parametrize("tag", ["run-1_b.2", "a", "x" * 64, "_x", "-x", "A.B", "0", "default"])
def test_valid_tags_pass(tag: str) -> None:
    assert validate(Config(tag=tag)) == []


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:7", "cuda:15", "mps"])
def test_valid_devices_pass(device: str) -> None:
    assert validate(Config(device=device)) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"p": 3, "frac_train": 0.5},
        {"p": 997},
        {"operation": "div"},
        {"operation": "rand", "seed": 2**32 - 1},
        {"d_mlp": 1},
        {"weight_decay": 0},
        {"betas": [0.0, 0.5]},
        {"warmup_steps": 0},
        {"num_heads": 128},
    ],
)
def test_edge_values_that_are_valid(overrides: dict) -> None:
    assert validate(Config(**overrides)) == []


# ---------------------------------------------------------------- JSON


def test_dict_round_trip() -> None:
    c = Config(tag="round", p=97, operation="sub", d_mlp=200, betas=(0.8, 0.95), seed=7, lr=3e-3)
    data = c.to_dict()
    assert data["betas"] == [0.8, 0.95]
    assert Config.from_dict(json.loads(json.dumps(data))) == c


def test_save_load_round_trip(tmp_path) -> None:
    c = Config(tag="saved", p=59, frac_train=0.45, d_model=64, num_heads=2, device="cpu", seed=3)
    path = tmp_path / "config.json"
    c.save(path)
    assert json.loads(path.read_text())["p"] == 59
    loaded = Config.load(path)
    assert loaded == c
    assert loaded.experiment_differences(c) == []
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left behind


def test_from_dict_missing_keys_take_defaults() -> None:
    assert Config.from_dict({"p": 97}) == Config(p=97)
    assert Config.from_dict({}) == Config()


def test_from_dict_rejects_unknown_keys_naming_them() -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"p": 113, "bogus": 1, "d_hidden": 2})
    text = str(info.value)
    assert "bogus" in text and "d_hidden" in text
    assert len(info.value.problems) == 2
    assert all(m.split(":")[0] in {"bogus", "d_hidden"} for m in info.value.problems)


def test_from_dict_rejects_non_object() -> None:
    with pytest.raises(ConfigError):
        Config.from_dict([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff\xfe this is not json",
        b"not json at all",
        b"",
        b"[1, 2, 3]",
        b"null",
        b'"a string"',
        b'{"p": 113, "bogus": 1}',
    ],
    ids=["binary", "text", "empty", "list", "null", "string", "unknown-key"],
)
def test_load_bad_file_names_the_path(tmp_path, content: bytes) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert str(path) in str(info.value)
    assert all(str(path) in m for m in info.value.problems)


def test_load_truncated_json_names_the_path(tmp_path) -> None:
    full = json.dumps(Config().to_dict(), indent=2)
    path = tmp_path / "config.json"
    path.write_text(full[: len(full) // 2])
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert str(path) in str(info.value)


def test_load_missing_file_names_the_path(tmp_path) -> None:
    path = tmp_path / "nope" / "config.json"
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert str(path) in str(info.value)


def test_load_deeply_nested_garbage_is_a_config_error(tmp_path) -> None:
    # "any problem is a ConfigError naming the file": json.loads raises RecursionError here.
    path = tmp_path / "config.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- experiment differences


def _names(differences: list[str]) -> list[str]:
    return [d.split(" ", 1)[0] for d in differences]


def test_experiment_differences_names_changed_fields() -> None:
    base = Config()
    assert base.experiment_differences(Config()) == []
    assert _names(Config(p=97).experiment_differences(base)) == ["p"]
    assert _names(Config(lr=3e-3).experiment_differences(base)) == ["lr"]
    assert _names(Config(seed=1).experiment_differences(base)) == ["seed"]
    changed = Config(p=97, lr=3e-3, seed=1).experiment_differences(base)
    assert sorted(_names(changed)) == ["lr", "p", "seed"]
    # the message shows both values
    (line,) = Config(p=97).experiment_differences(base)
    assert "97" in line and "113" in line


@pytest.mark.parametrize(
    "overrides",
    [
        {"operation": "mul"}, {"d_model": 64}, {"num_heads": 8}, {"d_mlp": 256},
        {"weight_decay": 0.1}, {"betas": (0.9, 0.99)}, {"warmup_steps": 0}, {"frac_train": 0.5},
    ],
)
def test_every_experiment_field_is_compared(overrides: dict) -> None:
    names = _names(Config(**overrides).experiment_differences(Config()))
    for key in overrides:
        assert key in names
        assert key in EXPERIMENT_FIELDS


def test_d_mlp_is_compared_resolved() -> None:
    implicit = Config(d_model=128, d_mlp=None)
    explicit = Config(d_model=128, d_mlp=512)
    assert implicit.experiment_differences(explicit) == []
    assert explicit.experiment_differences(implicit) == []
    # changing d_model with d_mlp implicit also changes the resolved width
    assert sorted(_names(Config(d_model=64).experiment_differences(Config()))) == ["d_mlp", "d_model"]


def test_betas_list_and_tuple_are_not_a_difference() -> None:
    assert Config(betas=[0.9, 0.98]).experiment_differences(Config()) == []  # type: ignore[arg-type]


def test_schedule_and_run_fields_are_not_differences() -> None:
    other = Config(num_epochs=10, log_every=1, checkpoint_every=5, device="cpu", tag="other")
    assert other.experiment_differences(Config()) == []
    assert Config().experiment_differences(other) == []


# ---------------------------------------------------------------- presets


@pytest.mark.parametrize("name", ["paper", "quick"])
def test_presets_are_valid(name: str) -> None:
    assert name in PRESETS
    assert validate(preset(name)) == []


def test_paper_preset_is_the_default() -> None:
    assert preset("paper") == Config()


def test_quick_preset_is_smaller_and_overridable() -> None:
    quick = preset("quick")
    assert quick.p < 113 and quick.num_epochs < 50_000
    assert preset("quick", seed=5).seed == 5
    assert preset("quick", seed=5).p == quick.p


def test_unknown_preset_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        preset("nope")
    assert "nope" in str(info.value)
