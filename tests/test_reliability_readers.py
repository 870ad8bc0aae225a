"""Every file grok-tui reads is a regular file of bounded size, checked on the opened descriptor (issue 23, S7).

A FIFO put in place of a file blocked the reader forever (opening a FIFO waits for a writer), and a link to
/dev/zero read until memory ran out. Each case runs in a subprocess with a timeout, so a reader that hangs
fails its test instead of hanging the suite; the timeout is generous (a loaded machine), the fixed readers
answer in a second or two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking

HANG_S = 120  # far past what any of these takes; only a reader that blocks reaches it


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run `tiny` (with a snapshot) and a sweep `sw` of one member, under one root."""
    root = tmp_path_factory.mktemp("readers")
    train_grokking(tiny_config(num_epochs=60, snapshot_every=50), root=root)
    done = cli("sweep", "sw", "--root", str(root), *TINY_FLAGS, "--headless")
    assert done.returncode == 0, done.stderr
    return root


TINY_FLAGS = ("--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--num-epochs", "20",
              "--log-every", "10", "--checkpoint-every", "10", "--device", "cpu", "--seed", "0,1")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grok_tui.cli", *args], capture_output=True, text=True,
                          timeout=HANG_S, cwd=cwd, stdin=subprocess.DEVNULL)


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=HANG_S, stdin=subprocess.DEVNULL)


def replaced(path: Path, kind: str) -> None:
    """Put a FIFO, or a symlink to /dev/zero, where `path` was (its file kept beside it as `path`.orig)."""
    if path.exists() or path.is_symlink():
        path.rename(path.with_name(path.name + ".orig"))
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


def restored(path: Path) -> None:
    path.unlink()
    original = path.with_name(path.name + ".orig")
    if original.exists():
        original.rename(path)


@pytest.fixture
def swap(trained: Path):  # type: ignore[no-untyped-def]
    """swap(path, kind): replace a file of the shared root for one test, put back afterwards."""
    swapped: list[Path] = []

    def do(path: Path, kind: str) -> None:
        replaced(path, kind)
        swapped.append(path)

    yield do
    for path in swapped:
        restored(path)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("grok-tui: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# ---------------------------------------------------------------- the helper itself


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_open_regular_refuses_a_fifo_or_a_device_without_blocking(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "file"
    replaced(path, kind)
    result = python(f"""
        from grok_tui.core.atomic import NotRegularFile, read_regular
        try:
            read_regular({str(path)!r}, 1024)
        except NotRegularFile as err:
            print(err)
    """)
    assert result.returncode == 0 and "not a regular file; it was not read" in result.stdout, result.stderr
    assert ("a FIFO" if kind == "fifo" else "a character device") in result.stdout


def test_read_regular_refuses_a_file_past_its_bound_and_reads_one_within(tmp_path: Path) -> None:
    from grok_tui.core.atomic import NotRegularFile, open_regular, read_regular

    path = tmp_path / "file"
    path.write_bytes(b"x" * 2048)
    assert read_regular(path, 2048) == b"x" * 2048
    with pytest.raises(NotRegularFile, match="larger than 1 KiB"):
        read_regular(path, 1024)
    link = tmp_path / "link"
    link.symlink_to(path)
    with open_regular(link) as handle:  # a symlink to a regular file is read through
        assert handle.read() == b"x" * 2048


# ---------------------------------------------------------------- sessions.jsonl: list, watch, the TUI


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_list_long_with_sessions_replaced_answers_at_once(trained: Path, swap, kind: str) -> None:  # type: ignore[no-untyped-def]
    swap(RunPaths.of("tiny", trained).sessions, kind)
    result = cli("list", "--long", "--root", str(trained))
    assert result.returncode == 0 and "tiny" in result.stdout, result.stderr


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_read_sessions_and_started_at_of_a_fifo_or_device_are_none(trained: Path, swap, kind: str) -> None:  # type: ignore[no-untyped-def]
    # What `watch` and the TUI's status panel read.
    swap(RunPaths.of("tiny", trained).sessions, kind)
    result = python(f"""
        from grok_tui.run.paths import RunPaths
        from grok_tui.run.sessions import read_sessions
        from grok_tui.run.summary import started_at
        paths = RunPaths.of("tiny", {str(trained)!r})
        print(read_sessions(paths.sessions), started_at(paths))
    """)
    assert result.returncode == 0 and result.stdout.split() == ["[]", "None"], result.stderr


# ---------------------------------------------------------------- checkpoints and snapshots


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_export_of_a_fifo_or_device_checkpoint_is_one_line(trained: Path, swap, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    paths = RunPaths.of("tiny", trained)
    swap(paths.checkpoint, kind)
    result = cli("export", "tiny", "--out", str(tmp_path / "w.pt"), "--root", str(trained))
    one_line_error(result, str(paths.checkpoint), "not a regular file")
    assert not (tmp_path / "w.pt").exists()


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_load_run_of_a_fifo_or_device_checkpoint_or_snapshot_raises_checkpoint_error(
        trained: Path, swap, kind: str) -> None:  # type: ignore[no-untyped-def]
    paths = RunPaths.of("tiny", trained)
    swap(paths.checkpoint, kind)
    swap(paths.model_dir / "snapshots" / "epoch_000000050.pth", kind)
    result = python(f"""
        from grok_tui.core.errors import CheckpointError
        from grok_tui.measures.loaded_run import load_run
        for epoch in (None, 50):
            try:
                load_run("tiny", epoch=epoch, root={str(trained)!r})
            except CheckpointError as err:
                print("refused:", err)
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("not a regular file" in line for line in lines), result.stdout


def test_sweep_with_a_fifo_checkpoint_answers_and_the_member_fails_in_one_line(trained: Path, swap) -> None:  # type: ignore[no-untyped-def]
    paths = RunPaths.of("sw.s0", trained)
    swap(paths.checkpoint, "fifo")
    dry = cli("sweep", "sw", "--root", str(trained), "--dry-run")
    assert dry.returncode == 0 and "sw.s0" in dry.stdout, dry.stderr
    run = cli("sweep", "sw", "--root", str(trained), "--headless")
    assert run.returncode == 1 and "member sw.s0 failed" in run.stderr and "not a regular file" in run.stderr


# ---------------------------------------------------------------- sweeps/NAME.json and events.json


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("command", [("sweep", "sw", "--dry-run"), ("plot", "--sweep", "sw")])
def test_a_fifo_or_device_sweep_definition_is_one_line(trained: Path, swap, tmp_path: Path, kind: str,
                                                       command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    path = trained / "sweeps" / "sw.json"
    swap(path, kind)
    out = ("--out", str(tmp_path / "sw.png")) if command[0] == "plot" else ()
    result = cli(*command, *out, "--root", str(trained))
    one_line_error(result, str(path), "not a regular file")
    assert not (tmp_path / "sw.png").exists()


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_the_sweep_view_reads_a_fifo_or_device_definition_as_an_error(trained: Path, swap, kind: str) -> None:  # type: ignore[no-untyped-def]
    # What `watch --sweep` and the sweep view show (grok_tui/sweeps/results.py).
    swap(trained / "sweeps" / "sw.json", kind)
    result = python(f"""
        from grok_tui.core.config import ConfigError
        from grok_tui.sweeps.results import member_results
        try:
            member_results("sw", {str(trained)!r})
        except ConfigError as err:
            print("refused:", err)
    """)
    assert result.returncode == 0 and "refused:" in result.stdout and "not a regular file" in result.stdout, \
        result.stderr


def test_a_sweep_definition_past_its_bound_is_refused_unread(trained: Path, swap) -> None:  # type: ignore[no-untyped-def]
    from grok_tui.core.config import ConfigError
    from grok_tui.sweeps.grid import DEFINITION_MAX_BYTES, load_definition

    path = trained / "sweeps" / "sw.json"
    swap(path, "fifo")
    path.unlink()
    with open(path, "wb") as handle:  # sparse: no disk is used
        handle.truncate(DEFINITION_MAX_BYTES + 1)
    with pytest.raises(ConfigError, match="larger than 64 MiB"):
        load_definition(path)
    path.unlink()
    os.mkfifo(path)  # for the fixture to remove


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_events_of_a_fifo_or_device_are_none(trained: Path, swap, kind: str) -> None:  # type: ignore[no-untyped-def]
    paths = RunPaths.of("tiny", trained)
    swap(paths.events, kind)
    result = python(f"""
        from grok_tui.run.phases import load_events
        print(load_events(__import__("pathlib").Path({str(paths.events)!r})))
    """)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_events_with_names_the_trainer_never_writes_are_skipped(tmp_path: Path) -> None:
    from grok_tui.run.phases import load_events

    path = tmp_path / "events.json"
    path.write_text(json.dumps([{"name": "grokked", "epoch": 5, "text": "t"},
                                {"name": "[@click=app.quit]x", "epoch": 6, "text": "t"}]))
    assert [event.name for event in load_events(path)] == ["grokked"]
