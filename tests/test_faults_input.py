"""Bad and hostile input, generated: every Config field, the CLI flags, tags, and the form.

Complements test_config.py (one hand-picked bad value per rule), test_properties.py (any value never
crashes the validator) and test_cli.py (a list of bad flags): here each field gets values that are
certainly invalid for it, drawn from wrong types, out-of-range numbers, NaN and infinities, huge
numbers and empty strings, and the message for that field must be there, starting with its name.

- validate(): never raises, and reports `<field>: <rule> (got <value>)` for the field (hypothesis).
- The CLI: `grok-tui train --FLAG=VALUE` exits 2 with one stderr line naming the flag or field and
  writes nothing: generated in-process through cli.main (hundreds of cases, cheap), and a handful as
  real subprocesses.
- Tags: path traversal, absolute paths, separators, unicode, control characters, hidden, overlong:
  refused by is_valid_tag, RunPaths, validate and the CLI; a valid tag never leaves logs/ or models/.
- The form: a bad value in any field disables Start and shows the message under the field (Pilot).

Found by these tests and fixed: an int too large for a float (from a config.json) in a float field made
validate() raise OverflowError, and an int past Python's 4,300-digit str() limit made it raise
ValueError; huge values are now named by their size in the message.
"""

from __future__ import annotations

import dataclasses
import os
import re
import string
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_config
from grok_tui.core.flags import CONFIG_FLAGS

from grok_tui.cli.main import main
from grok_tui.core.config import (MAX_EPOCHS, MAX_P, MAX_SEED, MAX_THREADS, MAX_WIDTH, OPERATIONS, Config, ConfigError, is_prime, is_valid_tag, validate)
from grok_tui.run.paths import RunPaths

NAN, INF = float("nan"), float("inf")
HUGE = 10**300  # the largest ints used below: within float range and far within str()'s digit limit
DEFAULT = Config()

# ---------------------------------------------------------------- invalid values, field by field

ODD_TYPES = st.one_of(
    st.booleans(), st.binary(max_size=8), st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True), st.fractions(), st.just(object()),
)
NOT_A_NUMBER = st.one_of(ODD_TYPES, st.text(max_size=12), st.none())  # "" included
NON_FINITE = st.sampled_from([NAN, INF, -INF])


def not_int(none_ok: bool = False) -> st.SearchStrategy[Any]:
    """Anything but an int: floats (5.0 too), strings, None, bools, containers, other number types."""
    base = st.one_of(ODD_TYPES, st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True))
    return base if none_ok else st.one_of(base, st.none())


def int_outside(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(-HUGE, low - 1), st.integers(high + 1, HUGE),
                     st.sampled_from([low - 1, high + 1, -(2**63), 2**63, 2**64, HUGE, -HUGE]).filter(
                         lambda v: not low <= v <= high))


def bad_int(low: int, high: int, none_ok: bool = False) -> st.SearchStrategy[Any]:
    return st.one_of(not_int(none_ok), int_outside(low, high))


def bad_real(outside: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Not a finite real number (ints are fine for float fields), or one outside the field's range."""
    return st.one_of(NOT_A_NUMBER, NON_FINITE, outside)


BAD_BETA = st.one_of(NOT_A_NUMBER, NON_FINITE, st.floats(max_value=-1e-300, allow_nan=False),
                     st.floats(min_value=1.0, allow_nan=False), st.integers(-HUGE, -1), st.integers(1, HUGE))
GOOD_BETA = st.floats(0.0, 0.99)
TAG_CHARS = string.ascii_letters + string.digits + "-_."
GOOD_TAG = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}", fullmatch=True)
TAG_PART = st.text(alphabet=TAG_CHARS, max_size=10)
BAD_TAG = st.one_of(
    st.sampled_from(["", ".", "..", "../x", "../../etc/passwd", "a/../b", "..\\x", "./x", "~", "~/x", "$HOME",
                     "x/", "/", "//x", "C:\\x", "a:b", "con", "x" * 65]).filter(lambda t: not is_valid_tag(t)),
    st.tuples(st.sampled_from(["/", "/etc/", "/tmp/", "\\\\server\\"]), TAG_PART).map("".join),  # absolute
    st.tuples(TAG_PART, st.sampled_from(["/", "\\", os.sep, "\x00", ":", "*", "?", "|"]), TAG_PART).map("".join),
    st.tuples(TAG_PART, st.characters(min_codepoint=128), TAG_PART).map("".join),  # unicode anywhere
    st.tuples(TAG_PART, st.sampled_from(list(" \t\n\r\x0b\x0c\x7f\x1b")), TAG_PART).map("".join),
    TAG_PART.map(lambda t: "." + t),  # hidden, and '..'-like names
    st.text(alphabet=TAG_CHARS, min_size=65, max_size=300),  # overlong
)
DEVICE_RULE = re.compile(r"auto|cpu|mps|cuda(:(0|[1-9][0-9]?))?")  # the rule the README states


def tiny_positive_frac() -> st.SearchStrategy[float]:
    """In (0, 1) but so small that no pair of the paper's p=113 is used for training."""
    return st.floats(min_value=1e-300, max_value=0.99 / DEFAULT.n_pairs)


INVALID: dict[str, st.SearchStrategy[Any]] = {
    "tag": st.one_of(BAD_TAG, st.integers(), st.none(), st.binary(max_size=8), st.lists(TAG_PART, max_size=2)),
    "p": st.one_of(bad_int(3, MAX_P), st.integers(3, MAX_P).filter(lambda p: not is_prime(p))),
    "operation": st.one_of(st.text(max_size=20).filter(lambda o: o not in OPERATIONS), st.integers(), st.none(),
                           st.binary(max_size=8)),
    "frac_train": bad_real(st.one_of(st.floats(max_value=0.0, allow_nan=False),
                                     st.floats(min_value=1.0, allow_nan=False), st.integers(-HUGE, 0),
                                     st.integers(1, HUGE), tiny_positive_frac())),
    "seed": bad_int(0, MAX_SEED),
    "d_model": bad_int(1, MAX_WIDTH),
    "num_heads": st.one_of(bad_int(1, MAX_WIDTH), st.integers(1, MAX_WIDTH).filter(lambda h: DEFAULT.d_model % h)),
    "d_mlp": bad_int(1, 4 * MAX_WIDTH, none_ok=True),  # None is valid: 4 * d_model
    "lr": bad_real(st.one_of(st.floats(max_value=0.0, allow_nan=False), st.integers(-HUGE, 0))),
    "weight_decay": bad_real(st.one_of(st.floats(max_value=-1e-300, allow_nan=False), st.integers(-HUGE, -1))),
    "betas": st.one_of(
        NOT_A_NUMBER.filter(lambda v: not isinstance(v, list)), st.floats(), st.integers(),
        st.lists(GOOD_BETA, max_size=5).filter(lambda b: len(b) != 2),
        st.tuples(BAD_BETA, GOOD_BETA), st.tuples(GOOD_BETA, BAD_BETA), st.lists(BAD_BETA, min_size=2, max_size=2),
    ),
    "warmup_steps": bad_int(0, MAX_EPOCHS),
    "num_epochs": bad_int(1, MAX_EPOCHS),
    "log_every": bad_int(1, MAX_EPOCHS),
    "checkpoint_every": bad_int(1, MAX_EPOCHS),
    "measure_every": bad_int(0, MAX_EPOCHS),
    "snapshot_every": bad_int(0, MAX_EPOCHS),
    "threads": bad_int(0, MAX_THREADS),
    "stop_after_grok": bad_int(0, MAX_EPOCHS, none_ok=True),  # None is valid: train to num_epochs
    "device": st.one_of(st.text(max_size=20).filter(lambda d: not DEVICE_RULE.fullmatch(d)), st.integers(),
                        st.none(), st.binary(max_size=8)),
    "adam_eps": bad_real(st.one_of(st.floats(max_value=0.0, allow_nan=False), st.integers(-HUGE, 0))),
    "grokfast": st.one_of(st.text(max_size=12).filter(lambda g: g not in ("none", "ema", "ma")), st.integers(),
                          st.none(), st.booleans()),
    "grokfast_alpha": bad_real(st.one_of(st.floats(max_value=-1e-300, allow_nan=False),
                                         st.floats(min_value=1.0, allow_nan=False), st.integers(-HUGE, -1),
                                         st.integers(1, HUGE))),
    "grokfast_lamb": st.one_of(NOT_A_NUMBER.filter(lambda v: v is not None), NON_FINITE,
                               st.floats(max_value=-1e-300, allow_nan=False), st.integers(-HUGE, -1)),
    "grokfast_window": bad_int(1, 10_000),
    "orthograd": st.one_of(st.integers(), st.none(), st.text(max_size=8), st.floats()),
    "loss": st.one_of(st.text(max_size=12).filter(lambda v: v not in ("softmax", "stablemax")), st.integers(),
                      st.none()),
    "softmax_precision": st.one_of(st.text(max_size=12).filter(lambda v: v not in ("float64", "float32")),
                                   st.integers(), st.none()),
    "optimizer": st.one_of(st.text(max_size=12).filter(lambda v: v not in ("adamw", "adam", "sgd")), st.integers(),
                           st.none(), st.booleans()),
    "momentum": bad_real(st.one_of(st.floats(max_value=-1e-300, allow_nan=False),
                                   st.floats(min_value=1.0, allow_nan=False), st.integers(-HUGE, -1),
                                   st.integers(1, HUGE))),
    # above MAX_EPOCHS, or above the paper's 3,830 training pairs
    "batch_size": st.one_of(bad_int(0, MAX_EPOCHS), st.integers(DEFAULT.n_train + 1, MAX_EPOCHS)),
}
FIELDS = [f.name for f in dataclasses.fields(Config)]


def test_every_config_field_has_invalid_values_here() -> None:
    """A new Config field must get its bad values here (and its flag below)."""
    assert sorted(set(FIELDS) - set(INVALID)) == []


@settings(max_examples=1500, deadline=None)
@given(case=st.sampled_from([f for f in INVALID if f in FIELDS]).flatmap(
    lambda field: st.tuples(st.just(field), INVALID[field])))
def test_validate_names_the_field_of_any_invalid_value(case: tuple[str, Any]) -> None:
    field, value = case
    problems = validate(Config(**{field: value}))  # never raises
    assert all(isinstance(p, str) and "\n" not in p for p in problems), problems
    mine = [p for p in problems if p.startswith(f"{field}: ")]
    assert mine, f"{field}={value!r}: no message for the field in {problems}"
    assert all("(got " in p for p in mine), mine


@pytest.mark.parametrize("field, value", [
    pytest.param("lr", 10**400, id="lr-1e400"), pytest.param("frac_train", 10**400, id="frac_train-1e400"),
    pytest.param("weight_decay", -(10**400), id="weight_decay--1e400"),
    pytest.param("betas", (10**400, 0.5), id="betas-1e400"), pytest.param("p", 10**5000, id="p-1e5000"),
    pytest.param("seed", 10**5000, id="seed-1e5000"), pytest.param("num_epochs", -(10**5000), id="epochs--1e5000"),
    pytest.param("tag", 10**5000, id="tag-1e5000"),
])
def test_validate_survives_ints_too_huge_for_float_or_str(field: str, value: Any) -> None:
    problems = validate(Config(**{field: value}))
    assert any(p.startswith(f"{field}: ") for p in problems)


def test_config_json_with_an_int_too_huge_for_a_float_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = RunPaths.of("huge", tmp_path)
    paths.log_dir.mkdir(parents=True)
    paths.config.write_text('{"tag": "huge", "lr": 1' + "0" * 400 + "}")
    assert main(["train", "--root", str(tmp_path), "--tag", "huge"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("grok-tui: error: ") and "config.json: lr: " in err and err.count("\n") == 1


# ---------------------------------------------------------------- tags


@settings(max_examples=500, deadline=None)
@given(tag=BAD_TAG)
def test_bad_tags_are_refused_everywhere(tag: str) -> None:
    assert not is_valid_tag(tag)
    with pytest.raises(ConfigError) as info:
        RunPaths.of(tag, "/r")
    assert str(info.value).startswith("tag: ")
    assert any(p.startswith("tag: ") for p in validate(Config(tag=tag)))


@settings(max_examples=300, deadline=None)
@given(tag=GOOD_TAG)
def test_a_valid_tag_names_one_folder_inside_logs_and_models(tag: str) -> None:
    assert is_valid_tag(tag)
    root = Path("/r")
    paths = RunPaths.of(tag, root)
    for folder, parent in ((paths.log_dir, root / "logs"), (paths.model_dir, root / "models")):
        assert Path(os.path.normpath(folder)) == folder and folder.parent == parent  # no '..', no '/'
        assert folder.name == tag and folder.name not in (".", "..")


# ---------------------------------------------------------------- the CLI, in-process

FLAG_OF = {name: flag for flag, name, _, _ in CONFIG_FLAGS}
KIND_OF = {name: kind for _, name, kind, _ in CONFIG_FLAGS}
NOT_INT_TEXT = st.sampled_from(["", " ", "abc", "1.5", "1e3", "nan", "inf", "-inf", "0x10", "1 2", "--", "+-1",
                                "1" * 5000, "\u00bd", "2**8"])
NOT_FLOAT_TEXT = st.sampled_from(["", " ", "abc", "1,5", "0.1.2", "0x1p-3", "--", "e5", "1e", "\u00bd"])
NON_FINITE_TEXT = st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1" + "0" * 400])
BAD_BETA_TEXT = st.one_of(NOT_FLOAT_TEXT, NON_FINITE_TEXT, st.floats(max_value=-1e-300, allow_infinity=False).map(repr),
                          st.floats(min_value=1.0, allow_infinity=False).map(repr))


def bad_flag_text(field: str) -> st.SearchStrategy[str]:
    """Text for --FLAG that the CLI must refuse: unparsable, or parsed to a value invalid for the field."""
    if KIND_OF[field] is int:
        parsed = INVALID[field].filter(lambda v: type(v) is int)  # out of range, non-prime, ...
        return st.one_of(NOT_INT_TEXT, parsed.map(str))
    if KIND_OF[field] is float:
        parsed = INVALID[field].filter(lambda v: type(v) in (int, float))
        return st.one_of(NOT_FLOAT_TEXT, NON_FINITE_TEXT, parsed.map(repr))
    return INVALID[field].filter(lambda v: isinstance(v, str) and "\x00" not in v)


def names_the_field(line: str, field: str) -> bool:
    return re.search(rf"{re.escape(FLAG_OF.get(field, '--' + field))}\b|\b{field}:", line) is not None


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value the CLI wrongly accepted must fail the test at once, not train the paper's run."""
    from grok_tui.training import trainer

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a bad value was accepted: training started")

    monkeypatch.setattr(trainer, "train_grokking", refuse)


def assert_refused(argv: list[str], field: str, status: int, err: str, root: Path) -> None:
    assert status == 2, (argv, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("grok-tui: error: "), (argv, err)
    assert names_the_field(lines[0], field), (argv, lines[0])
    assert list(root.iterdir()) == [], (argv, list(root.iterdir()))  # no logs/, no models/


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from([f for f in FLAG_OF if f in FIELDS]).flatmap(
    lambda field: st.tuples(st.just(field), bad_flag_text(field))))
def test_cli_refuses_any_bad_flag_value_in_one_line(case: tuple[str, str], capsys: pytest.CaptureFixture[str],
                                                    no_training: None) -> None:
    field, text = case
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        argv = ["train", "--root", str(root), f"{FLAG_OF[field]}={text}"]
        capsys.readouterr()
        status = main(argv)
        assert_refused(argv, field, status, capsys.readouterr().err, root)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=st.one_of(st.tuples(BAD_BETA_TEXT, GOOD_BETA.map(repr)), st.tuples(GOOD_BETA.map(repr), BAD_BETA_TEXT)))
def test_cli_refuses_bad_betas(pair: tuple[str, str], capsys: pytest.CaptureFixture[str], no_training: None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        argv = ["train", "--root", str(root), "--betas", *pair]
        capsys.readouterr()
        status = main(argv)
        assert_refused(argv, "betas", status, capsys.readouterr().err, root)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tag=BAD_TAG.filter(lambda t: "\x00" not in t), command=st.sampled_from(["train", "plot", "watch"]))
def test_cli_refuses_bad_tags_in_every_command(tag: str, command: str, capsys: pytest.CaptureFixture[str],
                                               no_training: None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        argv = [command, "--root", str(root), f"--tag={tag}"] if command == "train" else [
            command, "--root", str(root), "--", tag]
        capsys.readouterr()
        status = main(argv)
        assert_refused(argv, "tag", status, capsys.readouterr().err, root)


# ---------------------------------------------------------------- the CLI, as real processes

SUBPROCESS_CASES = [  # a handful not in test_cli.py's list; one field each
    (["--p="], "p"),
    (["--lr="], "lr"),
    (["--weight-decay=inf"], "weight_decay"),
    (["--seed=99999999999999999999999999999"], "seed"),
    (["--num-epochs=1e9"], "num_epochs"),
    (["--betas", "nan", "0.9"], "betas"),
    (["--device="], "device"),
    (["--tag=../../etc"], "tag"),
]


def test_cli_processes_refuse_bad_values_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # speed only: the parallel processes share 2 cores

    def run(case: tuple[list[str], str], index: int) -> tuple[subprocess.CompletedProcess[str], Path]:
        root = tmp_path / f"r{index}"
        root.mkdir()
        result = subprocess.run([sys.executable, "-m", "grok_tui.cli", "train", "--root", str(root), *case[0]],
                                cwd=root, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=120)
        return result, root

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, SUBPROCESS_CASES, range(len(SUBPROCESS_CASES))))
    for (flags, field), (result, root) in zip(SUBPROCESS_CASES, results, strict=True):
        assert "Traceback" not in result.stderr, result.stderr
        assert_refused(flags, field, result.returncode, result.stderr, root)
        assert result.stdout == ""


# ---------------------------------------------------------------- the form

FORM_TEXTS = ["", "nan", "inf", "-1", "1" + "0" * 400, "9" * 5000]  # bad for every numeric field (d_mlp: "" is ok)


async def test_form_refuses_a_bad_value_in_every_field(root: Path) -> None:
    from textual.widgets import Button, Input, Static

    from grok_tui.tui.app import GrokApp
    from grok_tui.tui.form import FIELDS as FORM_FIELDS

    app = GrokApp(tiny_config(tag="form-ok"), root=root, config_given=True)
    checked = 0
    async with app.run_test(size=(100, 40)) as pilot:
        start = app.screen.query_one("#start", Button)
        for _, name, _ in FORM_FIELDS:
            widget = app.screen.query_one(f"#in-{name}")
            if not isinstance(widget, Input) or name == "tag":
                continue  # operation and device are choices (no bad value can be entered); tags: below
            good = widget.value
            for text in FORM_TEXTS:
                if name in ("d_mlp", "threads", "stop_after_grok", "grokfast_lamb") and text == "":
                    continue  # blank is valid there: 4 x d_model, every core, train to num_epochs, the default
                widget.value = text
                await pilot.pause()
                shown = [str(app.screen.query_one(f"#err-{n}", Static).render()) for n in (name, "beta1")]
                assert start.disabled, (name, text[:20])
                target = "betas" if name.startswith("beta") else name
                assert any(s.startswith((f"{name}: ", f"{target}: ")) for s in shown), (name, text[:20], shown)
                checked += 1
            widget.value = good
            await pilot.pause()
            assert not start.disabled, name  # the field alone made Start disabled
        app.screen.query_one("#in-p", Input).value = "nan"
        await pilot.pause()
        await pilot.press("s")  # refused: nothing may be written
        await pilot.pause()
    assert checked >= 15 * (len(FORM_TEXTS) - 1)
    assert not (root / "logs").exists() and not (root / "models").exists()


async def test_form_refuses_hostile_tags(root: Path) -> None:
    from textual.widgets import Button, Input, Static

    from grok_tui.tui.app import GrokApp

    app = GrokApp(tiny_config(tag="form-ok"), root=root, config_given=True)
    async with app.run_test(size=(100, 40)) as pilot:
        start = app.screen.query_one("#start", Button)
        tag = app.screen.query_one("#in-tag", Input)
        for bad in ["../x", "../../etc/passwd", "/etc/passwd", "a/b", "a\\b", "caf\u00e9", "\u202etxt.exe", "x" * 65,
                    ".hidden", ""]:
            tag.value = bad
            await pilot.pause()
            assert start.disabled, bad
            assert str(app.screen.query_one("#err-tag", Static).render()).startswith("tag: "), bad
            await pilot.press("s")  # refused: nothing may be written
            await pilot.pause()
        tag.value = "fine.tag-1"
        await pilot.pause()
        assert not start.disabled
    assert not (root / "logs").exists() and not (root / "models").exists()
    assert not (root.parent / "x").exists() and not (root.parent / "etc").exists()
