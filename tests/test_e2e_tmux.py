"""End to end in a real terminal: grok-tui in a tmux pane, driven with send-keys, read with capture-pane."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.run.log import read_log
from grok_tui.run.paths import RunPaths

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[str]:
    name = f"grok-e2e-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def wait_screen(name: str, condition: Callable[[str], bool], timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", name, "-p")
        if condition(screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"timed out; the pane shows:\n{screen}")


def shown_epoch(screen: str) -> int | None:
    match = re.search(r"epoch\s+([\d,]+)/", screen)
    return int(match.group(1).replace(",", "")) if match else None


def test_start_export_quit_in_a_100x30_pane(tmp_path: Path, pane: str) -> None:
    exit_file = tmp_path / "exit_status"
    command = (f"{shlex.quote(sys.executable)} -m grok_tui.cli --root {shlex.quote(str(tmp_path))} --tag e2e "
               "--preset quick --num-epochs 100000 --device cpu; "
               f"echo $? > {shlex.quote(str(exit_file))}")
    tmux("new-session", "-d", "-s", pane, "-x", "100", "-y", "30", command)
    wait_screen(pane, lambda s: "Start" in s and "e2e" in s)
    tmux("send-keys", "-t", pane, "s")
    first = shown_epoch(wait_screen(pane, lambda s: (shown_epoch(s) or 0) > 0))
    assert first is not None
    later = shown_epoch(wait_screen(pane, lambda s: (shown_epoch(s) or 0) > first + 50))
    assert later is not None and later > first  # the epoch advances on screen
    paths = RunPaths.of("e2e", tmp_path)
    tmux("send-keys", "-t", pane, "e")  # while training: figures named by their epoch
    deadline = time.monotonic() + 30
    while not list(paths.log_dir.glob("training_curves-epoch*.png")) and time.monotonic() < deadline:
        time.sleep(0.2)
    exported = list(paths.log_dir.glob("training_curves-epoch*.png"))
    assert len(exported) == 1 and exported[0].stat().st_size > 10_000
    assert not paths.curves_png.exists()  # the run's own figure is the end-of-run export's
    tmux("send-keys", "-t", pane, "q")
    deadline = time.monotonic() + 30
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.read_text().strip() == "0"
    checkpoint_epoch = load_checkpoint(paths.checkpoint)["epoch"]
    assert checkpoint_epoch >= later
    assert read_log(paths.log)[-1]["epoch"] == checkpoint_epoch
    assert not paths.lock.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ssh_drop_stops_the_run_with_a_checkpoint(tmp_path: Path, pane: str) -> None:
    """Killing the tmux session sends SIGHUP, as an SSH drop does: the run must stop cleanly and exit."""
    pid_file = tmp_path / "pid"
    command = (f"echo $$ > {shlex.quote(str(pid_file))}; exec {shlex.quote(sys.executable)} -m grok_tui.cli "
               f"--root {shlex.quote(str(tmp_path))} --tag hup --preset quick --num-epochs 100000 "
               "--checkpoint-every 100000 --device cpu")
    tmux("new-session", "-d", "-s", pane, "-x", "100", "-y", "30", command)
    wait_screen(pane, lambda s: "Start" in s and "hup" in s)
    tmux("send-keys", "-t", pane, "s")
    wait_screen(pane, lambda s: (shown_epoch(s) or 0) > 20)
    pid = int(pid_file.read_text())
    subprocess.run(["tmux", "kill-session", "-t", pane], check=True)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "grok-tui kept running after its terminal went away"
    paths = RunPaths.of("hup", tmp_path)
    checkpoint_epoch = load_checkpoint(paths.checkpoint)["epoch"]  # written at the stop, not at 100,000
    assert checkpoint_epoch > 20
    assert read_log(paths.log)[-1]["epoch"] == checkpoint_epoch
    assert not paths.lock.exists()


def start_training_in_pane(tmp_path: Path, pane: str, tag: str, size: tuple[int, int] = (100, 30)) -> tuple[int, Path]:
    """grok-tui in a pane, run by a shell that writes its exit status; Start pressed, a few epochs trained.
    Returns grok-tui's PID and the file its exit status will be in."""
    exit_file = tmp_path / f"{tag}.exit"
    command = (f"{shlex.quote(sys.executable)} -m grok_tui.cli --root {shlex.quote(str(tmp_path))} --tag {tag} "
               "--preset quick --num-epochs 100000 --checkpoint-every 100000 --device cpu --threads 1; "
               f"echo $? > {shlex.quote(str(exit_file))}")
    tmux("new-session", "-d", "-s", pane, "-x", str(size[0]), "-y", str(size[1]), command)
    wait_screen(pane, lambda s: "Start" in s and tag in s)
    tmux("send-keys", "-t", pane, "s")
    wait_screen(pane, lambda s: (shown_epoch(s) or 0) > 20)
    shell = int(tmux("display-message", "-p", "-t", pane, "#{pane_pid}").strip())
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0]), exit_file


def wait_exit_status(exit_file: Path, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.exists(), "grok-tui did not exit"
    time.sleep(0.1)  # the shell's echo has finished writing
    return int(exit_file.read_text())


def assert_stopped_with_checkpoint(tmp_path: Path, tag: str) -> None:
    paths = RunPaths.of(tag, tmp_path)
    last_epoch = read_log(paths.log)[-1]["epoch"]
    assert 20 < last_epoch < 100_000
    assert load_checkpoint(paths.checkpoint)["epoch"] == last_epoch  # written at the stop
    assert not paths.lock.exists()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_the_run_with_a_checkpoint_and_its_exit_status(tmp_path: Path, pane: str, signum: int,
                                                                      status: int) -> None:
    pid, exit_file = start_training_in_pane(tmp_path, pane, "sig")
    os.kill(pid, signum)
    assert wait_exit_status(exit_file) == status
    assert_stopped_with_checkpoint(tmp_path, "sig")


def test_ctrl_q_and_the_palettes_quit_stop_the_run_as_q_does(tmp_path: Path, pane: str) -> None:
    """Textual's own ctrl+q and palette Quit exit at once and left the trainer running to num_epochs."""
    _, exit_file = start_training_in_pane(tmp_path, pane, "cq")
    tmux("send-keys", "-t", pane, "C-q")
    assert wait_exit_status(exit_file) == 0
    assert_stopped_with_checkpoint(tmp_path, "cq")
    subprocess.run(["tmux", "kill-session", "-t", pane], capture_output=True)
    _, exit_file = start_training_in_pane(tmp_path, pane, "pq")
    tmux("send-keys", "-t", pane, "C-p")
    wait_screen(pane, lambda s: "Search for commands" in s)
    tmux("send-keys", "-t", pane, "-l", "quit")
    wait_screen(pane, lambda s: "Quit (q)" in s)
    tmux("send-keys", "-t", pane, "Enter")
    assert wait_exit_status(exit_file) == 0
    assert_stopped_with_checkpoint(tmp_path, "pq")


def test_the_train_progress_line_fits_a_narrow_terminal(tmp_path: Path, pane: str) -> None:
    """A line wider than the terminal wraps, and redrawing it in place then leaves a copy per update."""
    done = tmp_path / "done"
    command = (f"{shlex.quote(sys.executable)} -m grok_tui.cli train --root {shlex.quote(str(tmp_path))} --tag narrow "
               "--preset quick --num-epochs 400 --device cpu --threads 1; "
               f"touch {shlex.quote(str(done))}; sleep 60")
    tmux("new-session", "-d", "-s", pane, "-x", "60", "-y", "30", command)
    deadline = time.monotonic() + 60
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.exists(), tmux("capture-pane", "-t", pane, "-p")
    screen = tmux("capture-pane", "-t", pane, "-p")
    progress = [line for line in screen.splitlines() if line.startswith("epoch ")]
    assert len(progress) == 1, screen  # redrawn in place: one line, however many updates
    assert progress[0].startswith("epoch 400/400") and "acc 100.0%" in progress[0], screen
    assert "finished at epoch 400" in screen


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
def test_watch_draws_every_line_in_braille_with_its_sign_and_whole_tick_rows(tmp_path: Path,
                                                                           size: tuple[int, int]) -> None:
    """`grok-tui watch` of a finished run at the three sizes of issue 22, read as plain text (no colour):
    the test lines are braille with their `x` signs (no one-dot-a-cell `•`), and the accuracy chart labels
    100 and 0. On a tmux server of its own, so that no other client's size applies to the window."""
    from test_snapshots import write_fixture_run

    write_fixture_run(tmp_path, "done", 3000, 3000)
    width, height = size
    server = ["-S", str(tmp_path / "tmux.sock")]
    # Textual takes COLUMNS and LINES (which pytest's terminal may have set) over the pane's size.
    command = (f"env -u COLUMNS -u LINES {shlex.quote(sys.executable)} -m grok_tui.cli watch done "
               f"--root {shlex.quote(str(tmp_path))}")
    tmux(*server, "-f", "/dev/null", "new-session", "-d", "-s", "sizes", "-x", str(width), "-y", str(height),
         command)
    try:
        deadline, screen = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not ("accuracy (%)" in screen and "phase    grokked" in screen):
            time.sleep(0.25)
            screen = tmux(*server, "capture-pane", "-t", "sizes", "-p")
        assert "accuracy (%)" in screen and "phase    grokked" in screen, screen
        assert "⠤x⠤ test" in screen and "•" not in screen
        plots = [line for line in screen.splitlines() if "┤" in line]
        assert sum(line.count("x") for line in plots) >= 4  # signs on both charts' test lines
        assert any(re.match(r"\s*100┤", line) for line in plots) and any(re.match(r"\s*0┤", line) for line in plots)
        assert max(len(line) for line in screen.splitlines()) <= width
    finally:
        subprocess.run(["tmux", *server, "kill-server"], capture_output=True)
