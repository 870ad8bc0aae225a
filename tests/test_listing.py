"""`grok-tui list` choosing and ordering its rows (issue 22, item 9): natural tag order, --sort, --filter,
--sweep and --format csv|json; and `load_run`'s log keeping its list-valued keys."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from grok_tui.cli.main import main
from grok_tui.measures.loaded_run import log_columns
from test_labels import EMA, write_run


def listed(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    """The TAG column of `list`'s table."""
    assert main(["list", "--root", str(root), *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    return [line.split()[0] for line in lines[1:]]


@pytest.fixture
def runs(root: Path) -> Path:
    write_run(root, "s10", 300, seed=10)
    write_run(root, "s2", 700, seed=2, weight_decay=0.3)
    write_run(root, "s1", 5000, seed=1)  # never groks within its 1,000 epochs
    write_run(root, "gf", 500, seed=3, **EMA)
    return root


def test_tags_sort_naturally(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(runs, capsys) == ["gf", "s1", "s2", "s10"]


def test_sort_by_a_result_or_a_config_field(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(runs, capsys, "--sort", "grokked") == ["s10", "gf", "s2", "s1"]  # never grokked: last
    assert listed(runs, capsys, "--sort", "wd") == ["s2", "gf", "s1", "s10"]  # 0.3 first, then by tag
    assert listed(runs, capsys, "--sort", "seed") == ["s1", "s2", "gf", "s10"]
    assert main(["list", "--root", str(runs), "--sort", "colour"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("grok-tui: error: sort: must be a config field or one of tag,")


def test_filter_by_tag_text_or_field_value(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(runs, capsys, "--filter", "s1") == ["s1", "s10"]
    assert listed(runs, capsys, "--filter", "wd=0.3") == ["s2"]
    assert listed(runs, capsys, "--filter", "grokfast=ema") == ["gf"]
    assert listed(runs, capsys, "--filter", "weight-decay=1", "--filter", "s") == ["s1", "s10"]
    assert main(["list", "--root", str(runs), "--filter", "nope=1"]) == 2
    assert "filter: 'nope' is not a config field" in capsys.readouterr().err


def test_the_members_of_a_sweep(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (runs / "sweeps").mkdir()
    (runs / "sweeps" / "sw.json").write_text(json.dumps(
        {"base": {}, "axes": {"seed": [2, 10]}, "members": [{"tag": "s2", "values": {"seed": 2}},
                                                           {"tag": "s10", "values": {"seed": 10}}]}))
    assert listed(runs, capsys, "--sweep", "sw") == ["s2", "s10"]
    assert main(["list", "--root", str(runs), "--sweep", "other"]) == 2
    assert "sweep: no sweep 'other'" in capsys.readouterr().err


def test_csv_and_json_hold_every_field_and_result(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--root", str(runs), "--format", "json", "--sort", "grokked"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["tag"] for r in records] == ["s10", "gf", "s2", "s1"]
    s10, gf = records[0], records[1]
    assert s10["grokked"] == 300 and s10["epoch"] == 1000 and s10["weight_decay"] == 1.0 and s10["betas"] == [0.9, 0.98]
    assert s10["grokfast_alpha"] is None and s10["setup"] == "none"  # unused without Grokfast
    assert gf["grokfast_alpha"] == 0.98 and gf["setup"] == "Grokfast-EMA (\u03b1=0.98, \u03bb=2)"
    assert records[3]["grokked"] is None and records[3]["status"] == "finished"
    assert main(["list", "--root", str(runs), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["tag"] for r in rows] == ["gf", "s1", "s2", "s10"]
    assert rows[1]["grokked"] == "" and rows[2]["weight_decay"] == "0.3" and rows[3]["betas"] == "0.9,0.98"


def test_load_runs_log_keeps_list_valued_keys() -> None:
    records = [{"epoch": 0, "test_acc": 0.1}, {"epoch": 10, "test_acc": 0.5, "key_freqs": [3, 7]},
               {"epoch": 20, "test_acc": 0.9, "key_freqs": [3, 7, 9], "flag": True}]
    columns = log_columns(records)
    np.testing.assert_array_equal(columns["epoch"], [0.0, 10.0, 20.0])
    assert list(columns["key_freqs"]) == [None, [3, 7], [3, 7, 9]]
    assert "flag" not in columns  # neither a number nor a list
