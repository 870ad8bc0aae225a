"""sessions.jsonl: one environment record per training session, read as hostile input; a resume in a new
environment says so in `train`, `list --long` and the TUI's status panel; --threads in the CLI and the form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.widgets import Input

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.run.sessions import (ENVIRONMENT_KEYS, TAIL_BYTES, Session, append_session, describe, environment_changes, read_sessions)
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking
from grok_tui.tui.app import GrokApp
from grok_tui.tui.form import parse_form
from grok_tui.tui.live import LiveScreen, StatusPanel

TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--device", "cpu"]


def session(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {"start_epoch": 0, "time": "2026-12-01T10:00:00Z", "host": "box", "pid": 7,
                                 "device": "cpu", "device_name": "AMD EPYC", "threads": 2,
                                 "cpu_capability": "AVX2", "deterministic": True, "torch": "2.13.0+cpu",
                                 "numpy": "2.4.6", "python": "3.11.7", "grok_tui": "0.1.0", "platform": "Linux"}
    record.update(overrides)
    return record


def test_changes_name_what_differs_and_ignore_threads_and_time() -> None:
    before = session()
    assert environment_changes(before, session(threads=1, time="2027-01-01T00:00:00Z", pid=9)) == []
    assert environment_changes(before, session(torch="2.14.0", host="gpu1")) == [
        "host box -> gpu1", "torch 2.13.0+cpu -> 2.14.0"]
    assert "cpu_capability" in ENVIRONMENT_KEYS
    warning = Session(session(), environment_changes(before, session(numpy="3.0"))).warning()
    assert warning is not None and "numpy 2.4.6 -> 3.0" in warning and "bit for bit" in warning
    assert Session(session()).warning() is None
    assert Session(session(threads=1)).summary() == "device cpu (AMD EPYC), 1 thread"


def test_reading_skips_what_is_not_a_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.jsonl"
    path.write_bytes(b"garbage\n[1, 2]\n" + b"[" * 200_000 + b"\n{\"threads\": 1" + b"9" * 5000 + b"}\n"
                     + b"\xff\xfe\n" + json.dumps(session(host="ok")).encode() + b"\n{\"half\": ")
    assert [s["host"] for s in read_sessions(path)] == ["ok"]
    assert read_sessions(tmp_path / "missing.jsonl") == []
    (tmp_path / "folder.jsonl").mkdir()
    assert read_sessions(tmp_path / "folder.jsonl") == []


def test_a_huge_file_is_read_from_its_tail_only(tmp_path: Path) -> None:
    path = tmp_path / "sessions.jsonl"
    with open(path, "wb") as file:
        file.write(b"x" * (3 * TAIL_BYTES))  # one enormous line, then real sessions
        file.write(b"\n")
    for host in ("a", "b"):
        append_session(path, session(host=host))
    assert [s["host"] for s in read_sessions(path)] == ["a", "b"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode),
                          st.dictionaries(st.text(max_size=10), st.one_of(
                              st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=90),
                              st.lists(st.integers(), max_size=3)), max_size=6).map(
                              lambda d: json.dumps(d).encode())), max_size=6))
def test_no_line_breaks_the_readers(tmp_path_factory, lines: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("s") / "sessions.jsonl"
    path.write_bytes(b"\n".join(lines))
    records = read_sessions(path)
    assert all(isinstance(r, dict) for r in records)
    for record in records:
        text = describe(record)
        assert "\n" not in text and len(text) < 600
    if len(records) > 1:
        environment_changes(records[-2], records[-1])


def test_train_prints_device_and_threads_and_warns_of_a_new_environment(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["train", "--root", str(tmp_path), "--tag", "t", *TINY, "--num-epochs", "20",
                 "--threads", "1"]) == 0
    out = capsys.readouterr()
    assert "grok-tui: device cpu (" in out.out and "), 1 thread" in out.out
    assert "warning" not in out.err
    # The run's last session as if it had run on another machine with another torch.
    paths = RunPaths.of("t", tmp_path)
    first = read_sessions(paths.sessions)[0]
    paths.sessions.write_text(json.dumps({**first, "host": "elsewhere", "torch": "1.0"}) + "\n")
    assert main(["train", "--root", str(tmp_path), "--tag", "t", "--num-epochs", "40"]) == 0
    out = capsys.readouterr()
    assert "resumed in a different environment" in out.err
    assert "host elsewhere -> " in out.err and "torch 1.0 -> " in out.err
    assert len(out.err.strip().splitlines()) == 1
    assert [s["start_epoch"] for s in read_sessions(paths.sessions)] == [0, 20]
    assert main(["list", "--root", str(tmp_path), "--long"]) == 0
    listing = capsys.readouterr().out
    assert "last session: cpu (" in listing and "[environment changed: host elsewhere -> " in listing


def test_threads_flag_is_validated_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "grok_tui.cli", "train", "--root", str(tmp_path), *TINY,
                             "--threads", "5000"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2
    assert result.stderr.strip() == "grok-tui: error: threads: must be between 0 and 1,024 (got 5,000)"
    assert not (tmp_path / "logs").exists()


def test_the_form_reads_a_blank_threads_field_as_every_core() -> None:
    texts = {"tag": "x", "device": "cpu", "threads": "", "p": "11", "operation": "add", "frac_train": "0.5",
             "seed": "0", "d_model": "16", "num_heads": "2", "d_mlp": "", "lr": "0.001", "weight_decay": "1",
             "beta1": "0.9", "beta2": "0.98", "warmup_steps": "10", "num_epochs": "100", "log_every": "10",
             "checkpoint_every": "50", "measure_every": "0"}
    config, problems = parse_form(texts)
    assert problems == {} and config is not None and config.threads == 0
    config, problems = parse_form({**texts, "threads": "3"})
    assert config is not None and config.threads == 3
    config, problems = parse_form({**texts, "threads": "-2"})
    assert config is None and problems["threads"].startswith("threads: must be between 0")


async def test_status_panel_shows_the_sessions_device_and_a_changed_environment(tmp_path: Path) -> None:
    config = tiny_config(tag="w", device="auto")
    paths = RunPaths.of("w", tmp_path)
    config.save(paths.config)
    with RunLogWriter(paths.log) as writer:
        writer.write({"epoch": 0, "train_loss": 2.0, "test_loss": 2.0, "train_acc": 0.1, "test_acc": 0.1,
                      "lr": 0.0, "weight_norm": 10.0, "elapsed_s": 0.0})
    append_session(paths.sessions, session(threads=3))
    app = GrokApp(root=tmp_path, watch="w")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, LiveScreen)
        text = str(app.screen.query_one(StatusPanel).render())
        assert "device   cpu, 3 threads" in text and "auto" not in text
        assert "env changed" not in text
        append_session(paths.sessions, session(start_epoch=0, torch="2.99"))
        await pilot.pause(1.2)  # two polls
        text = str(app.screen.query_one(StatusPanel).render())
        assert "device   cpu, 2 threads" in text
        assert "env changed: torch 2.13.0+cpu -> 2.99" in text


async def test_the_form_passes_threads_to_the_trainer(tmp_path: Path) -> None:
    app = GrokApp(tiny_config(tag="f", num_epochs=30), root=tmp_path, config_given=True)
    async with app.run_test(size=(100, 40)) as pilot:
        app.screen.query_one("#in-threads", Input).value = "1"
        await pilot.pause()
        await pilot.press("s")
        deadline = 200
        while app.training is not None or not RunPaths.of("f", tmp_path).sessions.exists():
            await pilot.pause(0.1)
            deadline -= 1
            assert deadline > 0, "training did not finish"
    assert [s["threads"] for s in read_sessions(RunPaths.of("f", tmp_path).sessions)] == [1]


def test_fresh_removes_the_sessions(tmp_path: Path) -> None:
    train_grokking(tiny_config(num_epochs=10), root=tmp_path)
    train_grokking(tiny_config(num_epochs=10), resume=False, root=tmp_path)
    assert len(read_sessions(RunPaths.of("tiny", tmp_path).sessions)) == 1
