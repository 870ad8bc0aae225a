"""The `grok-tui` command line, run as a real subprocess (`python -m grok_tui.cli`) against a tmp root.

Every call passes `--root` (and runs with the tmp folder as its working directory), so nothing is
written in the repository. Every training uses the tiny model of conftest.tiny_config.

Each call pays ~2 s of interpreter start (torch and matplotlib imports). To keep the file near a
minute on 2 cores, the calls that need no trained run (bad flags, help, empty `list`, ...) are started
in a background thread pool as soon as the module starts, and their tests only collect the results;
the runs that build on each other (train, resume, plot, list) share one module-scoped trained run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.core.config import Config

TINY = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--device", "cpu"]
LONG = [*TINY, "--num-epochs", "1000000", "--log-every", "1000", "--checkpoint-every", "100000"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMEOUT = 120  # seconds for one CLI call, generous for a loaded 2-core machine
# One thread per process keeps concurrent calls from oversubscribing the cores; it changes no result.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# ---------------------------------------------------------------- helpers


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "grok_tui.cli", *args]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `grok-tui ARGS` to completion with stdout and stderr captured (stdout is a pipe, not a tty)."""
    return subprocess.run(command(*args), cwd=cwd, env=ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)


def train(root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`grok-tui train --root ROOT FLAGS`: --root comes first so that a bad flag is really the last one."""
    return cli("train", "--root", str(root), *flags, cwd=root)


def start_train(root: Path, *flags: str) -> subprocess.Popen[str]:
    # SIGINT as a terminal gives it: a suite started in the background may have it ignored, and the trainer
    # keeps an ignored SIGINT (as nohup users expect), which the Ctrl-C tests would then wait on in vain.
    return subprocess.Popen(command("train", "--root", str(root), *flags), cwd=root, env=ENV,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def log_epochs(path: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in path.read_text(encoding="utf-8").splitlines()]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root, by its path relative to root."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `grok-tui: error:` line of a failed call (and no traceback anywhere)."""
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{result.stderr}"
    assert lines[0].startswith("grok-tui: error: "), lines[0]
    return lines[0]


def wait_for_log_line(proc: subprocess.Popen[str], log: Path, deadline_s: float = 60.0) -> None:
    """Poll until the run log holds its first whole line (the epoch-0 record)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if log.exists() and log.read_bytes().endswith(b"\n"):
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"trainer exited early with {proc.returncode}:\n{out}\n{err}")
        time.sleep(0.05)
    pytest.fail(f"no log line in {log} after {deadline_s} s")


def stop(proc: subprocess.Popen[str], signum: int, timeout: float = 30.0) -> tuple[str, str]:
    """Send `signum` and wait for the trainer to exit; kill it (and fail) if it does not."""
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"trainer still running {timeout} s after {signal.Signals(signum).name}")


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes appended here are killed at teardown if a failed test left them running."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# ---------------------------------------------------------------- calls that need no trained run

BAD_FLAGS = [
    # (flags, regex the error line must match: the flag or the Config field it names)
    pytest.param(["--p", "abc"], r"--p\b|\bp:", id="p-abc"),
    pytest.param(["--p", "4"], r"--p\b|\bp:", id="p-4"),
    pytest.param(["--p", "1"], r"--p\b|\bp:", id="p-1"),
    pytest.param(["--p", "2.5"], r"--p\b|\bp:", id="p-2.5"),
    pytest.param(["--lr", "0"], r"--lr\b|\blr:", id="lr-0"),
    pytest.param(["--lr", "-1"], r"--lr\b|\blr:", id="lr-neg"),
    pytest.param(["--lr", "nan"], r"--lr\b|\blr:", id="lr-nan"),
    pytest.param(["--lr", "inf"], r"--lr\b|\blr:", id="lr-inf"),
    pytest.param(["--weight-decay", "-1"], r"--weight-decay|weight_decay:", id="wd-neg"),
    pytest.param(["--frac-train", "0"], r"--frac-train|frac_train:", id="frac-0"),
    pytest.param(["--frac-train", "1.5"], r"--frac-train|frac_train:", id="frac-1.5"),
    pytest.param(["--frac-train", "nan"], r"--frac-train|frac_train:", id="frac-nan"),
    pytest.param(["--d-model", "10", "--num-heads", "3"], r"--num-heads|num_heads", id="heads-not-dividing"),
    pytest.param(["--d-model", "0"], r"--d-model|d_model:", id="d-model-0"),
    pytest.param(["--num-epochs", "0"], r"--num-epochs|num_epochs:", id="epochs-0"),
    pytest.param(["--num-epochs", "x"], r"--num-epochs|num_epochs:", id="epochs-x"),
    pytest.param(["--log-every", "0"], r"--log-every|log_every:", id="log-every-0"),
    pytest.param(["--checkpoint-every", "-5"], r"--checkpoint-every|checkpoint_every:", id="ckpt-every-neg"),
    pytest.param(["--seed", "-1"], r"--seed\b|\bseed:", id="seed-neg"),
    pytest.param(["--operation", "pow"], r"--operation|operation:", id="op-pow"),
    pytest.param(["--device", "tpu"], r"--device|device:", id="device-tpu"),
    pytest.param(["--tag", "../x"], r"--tag|\btag:", id="tag-dotdot"),
    pytest.param(["--tag", ""], r"--tag|\btag:", id="tag-empty"),
    pytest.param(["--tag", ".hidden"], r"--tag|\btag:", id="tag-hidden"),
    pytest.param(["--tag", "a/b"], r"--tag|\btag:", id="tag-slash"),
    pytest.param(["--bogus", "1"], r"--bogus", id="unknown-flag"),
    pytest.param(["--betas", "0.9"], r"--betas|betas:", id="betas-one-value"),
    pytest.param(["--betas", "0.9", "1.5"], r"--betas|betas:", id="betas-1.5"),
    pytest.param(["--preset", "nope"], r"--preset|preset:", id="preset-nope"),
]
SUBCOMMANDS = ["train", "plot", "list", "watch"]
GARBAGE_CONFIG = b"{this is not json\x00\xff garbage,,\n"


@dataclass
class Prefetched:
    """A background CLI call: the root it ran against and its result (waits for it)."""

    root: Path
    future: Future[subprocess.CompletedProcess[str]]

    @property
    def result(self) -> subprocess.CompletedProcess[str]:
        return self.future.result(timeout=2 * TIMEOUT)


@pytest.fixture(scope="module", autouse=True)
def prefetched(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Prefetched]]:
    """Start the calls that need no trained run at once, in a small thread pool (see the docstring).

    Each call is keyed by the name of the test that checks it, and only the selected tests' calls run.
    """
    selected = {item.name for item in request.session.items if getattr(item, "module", None) is request.module}
    runs: dict[str, Prefetched] = {}
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:

        def submit(test: str, *args: str, root: Path | None = None, train_flags: bool = False) -> None:
            if test not in selected:
                return
            root = root if root is not None else tmp_path_factory.mktemp("pre")
            call = pool.submit(train, root, *args) if train_flags else pool.submit(cli, *args, cwd=root)
            runs[test] = Prefetched(root, call)

        # in the order the tests below ask for them
        for test, *args in (("test_plot_unknown_tag", "plot", "nosuchtag"),
                            ("test_plot_tag_outside_the_root", "plot", "../evil"),
                            ("test_list_of_an_empty_root", "list")):
            empty = tmp_path_factory.mktemp("empty")
            submit(test, *args, "--root", str(empty), root=empty)
        for case in BAD_FLAGS:
            flags, _ = case.values
            submit(f"test_bad_flag_is_one_error_line_and_creates_nothing[{case.id}]",
                   "--tag", "bad", *TINY, "--num-epochs", "10", *flags, train_flags=True)  # type: ignore[misc]
        garbage_root = tmp_path_factory.mktemp("garbage")
        (garbage_root / "logs" / "g1").mkdir(parents=True)
        (garbage_root / "logs" / "g1" / "config.json").write_bytes(GARBAGE_CONFIG)
        submit("test_garbage_config_json_is_reported_and_kept", "--tag", "g1", "--num-epochs", "10",
               root=garbage_root, train_flags=True)
        submit("test_top_level_help_lists_the_commands", "--help")
        submit("test_watch_unknown_tag", "watch", "nosuchtag")
        for name in SUBCOMMANDS:
            submit(f"test_subcommand_help[{name}]", name, "--help")
        yield runs
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- one shared run: train, then resume


@dataclass
class Step:
    result: subprocess.CompletedProcess[str]
    files: dict[str, bytes]  # snapshot of the root right after the step


@dataclass
class T1:
    root: Path
    first: Step  # train 60 epochs
    resumed: Step  # the same tag again with --num-epochs 100 only


@pytest.fixture(scope="module")
def t1(tmp_path_factory: pytest.TempPathFactory) -> T1:
    root = tmp_path_factory.mktemp("t1")
    first = train(root, "--tag", "t1", *TINY, "--num-epochs", "60", "--log-every", "10",
                  "--checkpoint-every", "20")
    first_files = snapshot(root)
    resumed = train(root, "--tag", "t1", "--num-epochs", "100")
    return T1(root, Step(first, first_files), Step(resumed, snapshot(root)))


def epochs_of(files: dict[str, bytes], tag: str = "t1") -> list[int]:
    lines = files[f"logs/{tag}/training_log.jsonl"].decode().splitlines()
    return [json.loads(line)["epoch"] for line in lines]


def test_train_writes_the_run_files_and_whole_progress_lines(t1: T1) -> None:
    result, files = t1.first.result, t1.first.files
    assert result.returncode == 0, result.stderr
    for name in ("logs/t1/config.json", "logs/t1/training_log.jsonl", "logs/t1/training_curves.png",
                 "models/t1/checkpoint.pth"):
        assert name in files, f"{name} missing; have {sorted(files)}"
    assert "logs/t1/train.lock" not in files  # released at the end
    assert epochs_of(files) == list(range(0, 61, 10))
    assert files["logs/t1/training_curves.png"].startswith(PNG_SIGNATURE)
    config = json.loads(files["logs/t1/config.json"])
    assert (config["p"], config["d_model"], config["num_heads"], config["num_epochs"]) == (11, 16, 2, 60)

    # stdout is a pipe: whole lines only, no carriage returns or terminal escapes
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    progress = [line for line in lines if line.startswith("epoch ")]
    assert progress, result.stdout
    assert all(line.endswith("(train/test)") for line in progress), progress
    assert any(line.startswith("epoch 60/60") and "ep/s" in line for line in progress), result.stdout
    assert any(line.startswith("finished at epoch 60") for line in lines), result.stdout


def test_train_again_resumes_with_the_runs_own_config(t1: T1) -> None:
    result, files = t1.resumed.result, t1.resumed.files
    assert result.returncode == 0, result.stderr
    config = json.loads(files["logs/t1/config.json"])
    assert (config["p"], config["d_model"], config["num_heads"], config["frac_train"], config["device"]) == (
        11, 16, 2, 0.5, "cpu")
    assert config["num_epochs"] == 100
    epochs = epochs_of(files)
    assert epochs == list(range(0, 101, 10))  # ends at 100, epoch 60 once, strictly increasing
    assert all(a < b for a, b in zip(epochs, epochs[1:]))
    assert load_checkpoint(t1.root / "models/t1/checkpoint.pth")["epoch"] == 100
    assert any(line.startswith("finished at epoch 100") for line in result.stdout.splitlines()), result.stdout


def test_train_refuses_an_experiment_change_without_fresh(t1: T1) -> None:
    kept = ["logs/t1/config.json", "logs/t1/training_log.jsonl", "models/t1/checkpoint.pth"]
    before = {name: (t1.root / name).read_bytes() for name in kept}
    result = train(t1.root, "--tag", "t1", "--p", "13")
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    assert re.search(r"\bp\b", line.removeprefix("grok-tui: error: ")), line
    assert "13" in line and "--fresh" in line, line
    assert {name: (t1.root / name).read_bytes() for name in kept} == before
    assert not (t1.root / "logs/t1/train.lock").exists()


def test_fresh_replaces_the_run(t1: T1, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(t1.root, root)
    result = train(root, "--tag", "t1", "--fresh", *TINY, "--num-epochs", "20", "--log-every", "10")
    assert result.returncode == 0, result.stderr
    assert log_epochs(root / "logs/t1/training_log.jsonl") == [0, 10, 20]
    assert json.loads((root / "logs/t1/config.json").read_text())["num_epochs"] == 20
    assert load_checkpoint(root / "models/t1/checkpoint.pth")["epoch"] == 20


# ---------------------------------------------------------------- plot


def test_plot_writes_the_runs_png(t1: T1) -> None:
    png = t1.root / "logs/t1/training_curves.png"
    png.unlink()  # written by the training: remove it so that only `plot` can bring it back
    result = cli("plot", "t1", "--root", str(t1.root), cwd=t1.root)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == png.resolve()
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000


def test_plot_out_and_log_x(t1: T1, tmp_path: Path) -> None:
    out = tmp_path / "X.png"
    result = cli("plot", "t1", "--out", str(out), "--log-x", "--root", str(t1.root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == out.resolve()
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000


def test_plot_unknown_tag(request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]) -> None:
    run = prefetched[request.node.name]
    assert run.result.returncode == 2
    assert "nosuchtag" in error_line(run.result)
    assert list(run.root.iterdir()) == []


def test_plot_tag_outside_the_root(request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]) -> None:
    run = prefetched[request.node.name]
    assert run.result.returncode == 2
    assert re.search(r"\btag\b", error_line(run.result))
    assert list(run.root.iterdir()) == []
    assert not (run.root.parent / "evil").exists()


# ---------------------------------------------------------------- list


def test_list_shows_every_run(t1: T1, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(t1.root, root)
    # a run stopped half way: t1's files with a longer schedule
    shutil.copytree(root / "logs/t1", root / "logs/half")
    shutil.copytree(root / "models/t1", root / "models/half")
    half = json.loads((root / "logs/half/config.json").read_text())
    (root / "logs/half/config.json").write_text(json.dumps({**half, "tag": "half", "num_epochs": 200}))
    # a run with a config and nothing trained yet
    Config(tag="newrun", p=13, d_model=16, num_heads=2, num_epochs=50, device="cpu").save(
        root / "logs/newrun/config.json")

    result = cli("list", "--root", str(root), cwd=root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Columns are padded to the widest cell: cut every line at the header's column starts.
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    header = [lines[0][a:b].strip() for a, b in zip(starts, [*starts[1:], None])]
    rows = {cells["TAG"]: cells for cells in
            ({name: line[a:b].strip() for name, a, b in zip(header, starts, [*starts[1:], None])}
             for line in lines[1:])}
    # Only the config fields that differ between the runs get a column (half: num_epochs; newrun: p, ...).
    assert {"P", "NUM_EPOCHS"} <= set(header) and "OP" not in header and "D_MODEL" not in header, lines[0]
    for word in ("TAG", "STARTED", "EPOCH", "MEMORIZED", "GROKKED", "TEST ACC", "STATUS"):
        assert word in header, lines[0]
    assert sorted(rows) == ["half", "newrun", "t1"], result.stdout
    assert (rows["t1"]["P"], rows["t1"]["NUM_EPOCHS"], rows["t1"]["EPOCH"]) == ("11", "100", "100/100")
    assert rows["t1"]["STATUS"] == "finished" and rows["half"]["STATUS"] == "stopped"  # half: 100 of 200
    assert rows["half"]["EPOCH"] == "100/200" and rows["half"]["GROKKED"] == rows["t1"]["GROKKED"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows["t1"]["STARTED"]), rows["t1"]
    assert (rows["newrun"]["P"], rows["newrun"]["EPOCH"], rows["newrun"]["STATUS"]) == ("13", "0/50", "new")
    assert rows["newrun"]["GROKKED"] == "-" and rows["newrun"]["TEST ACC"] == "-"


def test_list_of_an_empty_root(request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]) -> None:
    result = prefetched[request.node.name].result
    assert result.returncode == 0, result.stderr
    assert "no runs" in result.stdout
    assert "TAG" not in result.stdout


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("flags, names", BAD_FLAGS)
def test_bad_flag_is_one_error_line_and_creates_nothing(
    flags: list[str], names: str, request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]
) -> None:
    run = prefetched[request.node.name]
    result = run.result
    assert result.returncode == 2, (flags, result.stdout, result.stderr)
    line = error_line(result)
    assert re.search(names, line), line
    assert list(run.root.iterdir()) == []  # no logs/, no models/


def test_garbage_config_json_is_reported_and_kept(
    request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]
) -> None:
    run = prefetched[request.node.name]
    assert run.result.returncode == 2, run.result.stderr
    line = error_line(run.result)
    assert "config.json" in line and "--fresh" in line, line
    assert (run.root / "logs/g1/config.json").read_bytes() == GARBAGE_CONFIG
    assert sorted(p.relative_to(run.root).as_posix() for p in run.root.rglob("*")) == [
        "logs", "logs/g1", "logs/g1/config.json"]


# ---------------------------------------------------------------- signals and the run lock


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_signal_stops_with_a_checkpoint_and_the_run_resumes(
    signum: int, status: int, tmp_path: Path, reap: list[subprocess.Popen[str]]
) -> None:
    log, ckpt = tmp_path / "logs/sig/training_log.jsonl", tmp_path / "models/sig/checkpoint.pth"
    proc = start_train(tmp_path, "--tag", "sig", *LONG)
    reap.append(proc)
    wait_for_log_line(proc, log)
    sent = time.monotonic()
    out, err = stop(proc, signum)
    assert proc.returncode == status, (out, err)
    assert time.monotonic() - sent < 15
    assert "Traceback" not in err and "Traceback" not in out, err
    checkpoint = load_checkpoint(ckpt)
    epoch = int(checkpoint["epoch"])
    assert epoch >= 1
    epochs = log_epochs(log)
    assert epochs[0] == 0 and epochs[-1] == epoch
    assert f"stopped at epoch {epoch:,}" in out, out
    assert not (tmp_path / "logs/sig/train.lock").exists()

    resumed = train(tmp_path, "--tag", "sig", "--num-epochs", str(epoch + 5))
    assert resumed.returncode == 0, resumed.stderr
    epochs = log_epochs(log)
    assert epochs[-1] == epoch + 5
    assert all(a < b for a, b in zip(epochs, epochs[1:])), epochs
    assert load_checkpoint(ckpt)["epoch"] == epoch + 5
    assert f"finished at epoch {epoch + 5:,}" in resumed.stdout, resumed.stdout


def test_second_trainer_on_a_busy_run_fails_naming_the_pid(
    tmp_path: Path, reap: list[subprocess.Popen[str]]
) -> None:
    proc = start_train(tmp_path, "--tag", "busy", *LONG)
    reap.append(proc)
    wait_for_log_line(proc, tmp_path / "logs/busy/training_log.jsonl")
    second = train(tmp_path, "--tag", "busy")
    assert proc.poll() is None  # the first trainer is still at work
    out, err = stop(proc, signal.SIGINT)
    assert second.returncode == 1, (second.stdout, second.stderr)
    assert re.search(rf"\bPID {proc.pid}\b", error_line(second)), second.stderr
    assert proc.returncode == 130, err


# ---------------------------------------------------------------- help


def test_watch_unknown_tag(request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]) -> None:
    result = prefetched[request.node.name].result
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("grok-tui: error: tag: no run 'nosuchtag'")


def test_top_level_help_lists_the_commands(
    request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]
) -> None:
    """`grok-tui` alone opens the TUI (tested in test_tui.py and test_e2e_tmux.py); --help lists commands."""
    result = prefetched[request.node.name].result
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: grok-tui")
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(name: str, request: pytest.FixtureRequest, prefetched: dict[str, Prefetched]) -> None:
    result = prefetched[request.node.name].result
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: grok-tui {name}"), result.stdout
    assert "--root" in result.stdout
