"""Fault injection: a full disk and permission denied, at the write call of every file a run writes.

The faults are injected where the operating system would raise them, below Python's buffering:
- ENOSPC (disk full): the files are opened as usual, but their raw FileIO is replaced by one whose
  write() takes `after` more bytes (a short write, like a disk filling up) and then raises
  OSError(ENOSPC). Python's buffers, torch.save, savefig and the log writer see the error exactly where
  they would on a full disk: at a write, a flush or a close.
- EACCES (permission denied): creating the file fails, as in a read-only folder.
They are installed on the two ways grok-tui writes files: atomic_open (checkpoint, config.json, the PNG,
the log when a resume cuts it back) and the run log's append writer. A read-only-folder variant with
chmod runs too, except for a user whom chmod does not stop (root, or CAP_DAC_OVERRIDE as in many CI
containers): it is skipped there, saying so.

After every fault: the CLI exits 1 with one line naming the file, never a traceback; the previous
checkpoint, config and PNG are byte-identical and the log still holds every record it held (a fault in
the middle of an append may leave an unterminated half line, which readers ignore and the next resume
cuts); no temp file is left behind; and once the disk has room again, the run resumes and ends equal to
an uninterrupted run. The TUI shows the error and stays usable (it resumes, exports, opens its help).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import tiny_config
from grok_tui.core import atomic
from grok_tui.run import log as runlog
from grok_tui.run.checkpoint import load_checkpoint
from grok_tui.cli.main import main
from grok_tui.run.log import RunLogReader, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking

TAG = "t"
STOP_AT, END = 30, 60  # the run on disk is stopped at epoch 30 of 60
CONFIG = tiny_config(tag=TAG, num_epochs=END, log_every=5, checkpoint_every=10)

# ---------------------------------------------------------------- the injection


@dataclass
class Fault:
    """A fault for the files named `name`: ENOSPC at write after `after` bytes, or EACCES at creation."""

    name: str  # checkpoint.pth, training_log.jsonl, config.json, training_curves.png
    err: int = errno.ENOSPC
    after: int = 0  # bytes written before the disk is full (ENOSPC only)
    via: str = "any"  # "atomic" (atomic_open), "append" (the log writer) or "any"
    hits: int = 0  # times the fault was raised
    active: bool = True

    def applies(self, path: str | os.PathLike[str], via: str) -> bool:
        return self.active and Path(path).name == self.name and self.via in ("any", via)

    def error(self, filename: str | None = None) -> OSError:
        self.hits += 1
        return OSError(self.err, os.strerror(self.err), filename) if filename else OSError(
            self.err, os.strerror(self.err))


class FullDiskFileIO(io.FileIO):
    """A FileIO whose write() fails with the fault's errno once the fault's free bytes are spent."""

    fault: Fault

    def write(self, data: Any) -> int:
        fault = self.fault
        if not fault.active:
            return super().write(data)
        if fault.after <= 0:
            raise fault.error()
        written = super().write(memoryview(data).cast("B")[: fault.after])
        fault.after -= written
        return written


def _faulty_raw(file: int | str, mode: str, fault: Fault) -> FullDiskFileIO:
    raw = FullDiskFileIO(file, mode)
    raw.fault = fault
    return raw


class Injector:
    """Installs faults on grok_tui.core.atomic (mkstemp + fdopen) and grok_tui.run.log (open)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.faults: list[Fault] = []
        self._targets: dict[int, str] = {}  # temp file descriptor -> the file it will replace
        injector = self

        class TempfileProxy:
            def __getattr__(self, name: str) -> Any:
                return getattr(tempfile, name)

            @staticmethod
            def mkstemp(suffix: str = "", prefix: str = "", dir: str | os.PathLike[str] | None = None,
                        text: bool = False) -> tuple[int, str]:
                target = Path(dir or ".") / prefix.removeprefix(".").removesuffix(".")
                fault = injector.find(target, "atomic")
                if fault is not None and fault.err != errno.ENOSPC:  # the folder does not let us create it
                    raise fault.error(str(Path(dir or ".") / f"{prefix}k3j9x2ab{suffix}"))
                fd, name = tempfile.mkstemp(suffix=suffix, prefix=prefix, dir=dir, text=text)
                injector._targets[fd] = str(target)
                return fd, name

        class OsProxy:
            def __getattr__(self, name: str) -> Any:
                return getattr(os, name)

            @staticmethod
            def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
                target = injector._targets.pop(fd, None)
                fault = injector.find(target, "atomic") if target else None
                if fault is None or fault.err != errno.ENOSPC:
                    return os.fdopen(fd, mode, *args, **kwargs)
                return io.BufferedWriter(_faulty_raw(fd, mode, fault))

        def log_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            fault = injector.find(file, "append") if "a" in mode else None
            if fault is None:
                return builtins.open(file, mode, *args, **kwargs)
            if fault.err != errno.ENOSPC:
                raise fault.error(str(file))
            return io.TextIOWrapper(io.BufferedWriter(_faulty_raw(str(file), "a", fault)),
                                    encoding=kwargs.get("encoding"))

        monkeypatch.setattr(atomic, "tempfile", TempfileProxy())
        monkeypatch.setattr(atomic, "os", OsProxy())
        monkeypatch.setattr(runlog, "open", log_open, raising=False)

    def find(self, path: Any, via: str) -> Fault | None:
        return next((f for f in self.faults if f.applies(path, via)), None)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Speed only, not exactness (results do not depend on the thread count: tests/test_reproducible.py):
    the tiny model trains faster on one thread, and 5x faster on a busy 2-core machine, where a second
    OpenMP thread spins waiting for a core (measured: 60 epochs in 13 s on two threads, 1 s on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Injector:
    return Injector(monkeypatch)


# ---------------------------------------------------------------- a run on disk, and the reference


class StopAfter:
    """A stop signal that is set after `epochs` epochs (the trainer asks once per epoch)."""

    def __init__(self, epochs: int):
        self.left = epochs

    def is_set(self) -> bool:
        self.left -= 1
        return self.left <= 0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding run t stopped at epoch 30 of 60, with a PNG of its curves."""
    from grok_tui.figures.curves import plot_training_curves

    root = tmp_path_factory.mktemp("template")
    result = train_grokking(CONFIG, stop_event=StopAfter(STOP_AT), root=root)
    assert result.status == "stopped" and result.epoch == STOP_AT
    plot_training_curves(TAG, root=root)
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The log records of the same run trained to the end in one go, without elapsed_s."""
    root = tmp_path_factory.mktemp("reference")
    train_grokking(CONFIG, root=root)
    return without_time(read_log(RunPaths.of(TAG, root).log))


def without_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


@pytest.fixture
def run(template: Path, tmp_path: Path) -> RunPaths:
    root = tmp_path / "root"
    shutil.copytree(template, root)
    return RunPaths.of(TAG, root)


def files_of(paths: RunPaths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (paths.checkpoint, paths.log, paths.config, paths.curves_png)}


def temp_files(paths: RunPaths) -> list[str]:
    return [p.name for folder in (paths.log_dir, paths.model_dir) for p in folder.iterdir()
            if p.name.endswith(".tmp")]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """Run `grok-tui ARGV` in this process; its exit status and its stderr lines."""
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def assert_one_error_line(lines: list[str], path: Path, err: int) -> None:
    assert len(lines) == 1, lines
    assert lines[0] == f"grok-tui: error: {path}: {os.strerror(err)}", lines[0]


def assert_log_kept(before: bytes, paths: RunPaths) -> None:
    """The log still starts with every byte it had, and only whole records are read from it."""
    data = paths.log.read_bytes()
    assert data.startswith(before)
    reader = RunLogReader(paths.log)
    epochs = [r["epoch"] for r in reader.read_all()]
    assert reader.skipped == 0
    assert epochs == sorted(set(epochs)) and epochs[: STOP_AT // 5 + 1] == list(range(0, STOP_AT + 1, 5))


# ---------------------------------------------------------------- the CLI

TRAIN_CASES = [
    # (the fault, the RunPaths attribute of the file the error must name)
    pytest.param(dict(name="checkpoint.pth"), "checkpoint", id="checkpoint-full"),
    pytest.param(dict(name="checkpoint.pth", after=5000), "checkpoint", id="checkpoint-full-mid-file"),
    pytest.param(dict(name="checkpoint.pth", err=errno.EACCES), "checkpoint", id="checkpoint-denied"),
    pytest.param(dict(name="training_log.jsonl", via="append"), "log", id="log-full"),
    pytest.param(dict(name="training_log.jsonl", after=20, via="append"), "log", id="log-full-mid-line"),
    pytest.param(dict(name="training_log.jsonl", err=errno.EACCES, via="append"), "log", id="log-denied"),
    pytest.param(dict(name="training_log.jsonl", via="atomic"), "log", id="log-cut-back-full"),
    pytest.param(dict(name="config.json"), "config", id="config-full"),
    pytest.param(dict(name="config.json", err=errno.EACCES), "config", id="config-denied"),
]


@pytest.mark.parametrize("spec, named", TRAIN_CASES)
def test_train_stops_with_one_line_keeps_the_files_and_resumes_exactly(
    spec: dict[str, Any], named: str, run: RunPaths, inject: Injector, reference: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = files_of(run)
    fault = inject.add(Fault(**spec))
    status, lines = cli(capsys, "train", "--root", str(run.root), "--tag", TAG)
    assert fault.hits >= 1, "the fault was never reached"
    assert status == 1
    assert_one_error_line(lines, getattr(run, named), fault.err)
    after = files_of(run)
    for name in ("checkpoint.pth", "config.json", "training_curves.png"):
        assert after[name] == before[name], f"{name} changed"
    assert_log_kept(before["training_log.jsonl"], run)
    assert load_checkpoint(run.checkpoint)["epoch"] == STOP_AT
    assert temp_files(run) == []
    assert not run.lock.exists()

    fault.active = False  # the disk has room again
    status, lines = cli(capsys, "train", "--root", str(run.root), "--tag", TAG)
    assert status == 0, lines
    assert without_time(read_log(run.log)) == reference  # nothing lost, nothing twice: the uninterrupted run
    assert load_checkpoint(run.checkpoint)["epoch"] == END


def test_a_half_line_left_by_a_full_disk_is_cut_by_the_next_resume(
    run: RunPaths, inject: Injector, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run.log.read_bytes()
    fault = inject.add(Fault("training_log.jsonl", after=20, via="append"))
    status, _ = cli(capsys, "train", "--root", str(run.root), "--tag", TAG)
    assert status == 1 and fault.hits >= 1
    data = run.log.read_bytes()
    assert data[len(before):] and not data.endswith(b"\n")  # 20 bytes of the epoch-35 line, no newline
    assert len(data) == len(before) + 20
    reader = RunLogReader(run.log)
    assert [r["epoch"] for r in reader.read_all()][-1] == STOP_AT and reader.skipped == 0
    fault.active = False
    status, _ = cli(capsys, "train", "--root", str(run.root), "--tag", TAG)
    assert status == 0
    lines = run.log.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(line.startswith(b'{"epoch":') for line in lines[:-1])


def test_plot_to_a_full_disk_is_one_line_and_keeps_the_old_png(
    run: RunPaths, inject: Injector, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run.curves_png.read_bytes()
    fault = inject.add(Fault("training_curves.png", after=1000))
    status, lines = cli(capsys, "plot", TAG, "--root", str(run.root))
    assert fault.hits >= 1
    assert status == 1
    assert_one_error_line(lines, run.curves_png, errno.ENOSPC)
    assert run.curves_png.read_bytes() == before
    assert temp_files(run) == []


def test_plot_denied_is_one_line(run: RunPaths, inject: Injector, capsys: pytest.CaptureFixture[str]) -> None:
    out = run.root / "figure.png"
    fault = inject.add(Fault("figure.png", err=errno.EACCES))
    status, lines = cli(capsys, "plot", TAG, "--root", str(run.root), "--out", str(out))
    assert fault.hits == 1 and status == 1
    assert_one_error_line(lines, out, errno.EACCES)
    assert not out.exists()


@pytest.mark.figures
def test_a_run_whose_png_cannot_be_written_still_finishes(
    run: RunPaths, inject: Injector, reference: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The PNG at the end of a run is a bonus: the run finishes (exit 0), with a warning naming the PNG."""
    before = run.curves_png.read_bytes()
    fault = inject.add(Fault("training_curves.png"))
    capsys.readouterr()
    status = main(["train", "--root", str(run.root), "--tag", TAG])
    err = capsys.readouterr().err
    assert fault.hits >= 1
    assert status == 0
    assert "Traceback" not in err
    assert str(run.curves_png) in err and os.strerror(errno.ENOSPC) in err, err
    assert run.curves_png.read_bytes() == before
    assert without_time(read_log(run.log)) == reference
    assert temp_files(run) == []


def chmod_denies_writes() -> bool:
    """Whether a folder made read-only with chmod refuses this process (not so for root, or with
    CAP_DAC_OVERRIDE, as in many CI containers)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o555)
        try:
            (Path(folder) / "probe").write_bytes(b"")
        except PermissionError:
            return True
        finally:
            os.chmod(folder, 0o755)
    return False


@pytest.mark.skipif(os.name != "posix" or not chmod_denies_writes(),
                    reason="this user (root, or CAP_DAC_OVERRIDE) may write into a read-only folder, so chmod "
                           "cannot deny it; the injected EACCES cases above cover the same code")
@pytest.mark.parametrize("folder, named", [("model_dir", "checkpoint"), ("log_dir", "lock")])
def test_read_only_folder_with_chmod(folder: str, named: str, run: RunPaths,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = files_of(run)
    target: Path = getattr(run, folder)
    target.chmod(0o555)
    try:
        status, lines = cli(capsys, "train", "--root", str(run.root), "--tag", TAG)
    finally:
        target.chmod(0o755)
    assert status == 1
    assert_one_error_line(lines, getattr(run, named), errno.EACCES)
    assert files_of(run)["checkpoint.pth"] == before["checkpoint.pth"]
    assert_log_kept(before["training_log.jsonl"], run)
    status, lines = cli(capsys, "train", "--root", str(run.root), "--tag", TAG)
    assert status == 0, lines


# ---------------------------------------------------------------- the TUI


async def wait_for(pilot: Any, condition: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.1)


def notifications(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


def status_text(app: Any) -> str:
    from grok_tui.tui.live import StatusPanel

    return str(app.screen.query_one(StatusPanel).render())


@pytest.mark.parametrize("spec, named", [
    pytest.param(dict(name="checkpoint.pth"), "checkpoint", id="checkpoint-full"),
    pytest.param(dict(name="training_log.jsonl", via="append"), "log", id="log-full"),
    pytest.param(dict(name="config.json", err=errno.EACCES), "config", id="config-denied"),
])
async def test_tui_shows_the_error_keeps_the_files_and_resumes(spec: dict[str, Any], named: str, run: RunPaths,
                                                               inject: Injector) -> None:
    from grok_tui.tui.app import GrokApp
    from grok_tui.tui.live import LiveScreen

    before = files_of(run)
    fault = inject.add(Fault(**spec))
    app = GrokApp(tiny_config(tag=TAG, num_epochs=END, log_every=5, checkpoint_every=10), root=run.root,
                  config_given=True)
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("s")  # Resume: the tag names the run on disk
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.training is None
                       and TAG in app.errors)
        assert fault.hits >= 1
        await pilot.pause(0.3)
        message = next(m for m in notifications(app) if "failed" in m)
        assert str(getattr(run, named)) in message and os.strerror(fault.err) in message, message
        assert "error" in status_text(app) and os.strerror(fault.err) in status_text(app)
        after = files_of(run)
        for name in ("checkpoint.pth", "config.json", "training_curves.png"):
            assert after[name] == before[name], f"{name} changed"
        assert_log_kept(before["training_log.jsonl"], run)
        assert not run.lock.exists()

        await pilot.press("question_mark")  # still responsive
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        fault.active = False  # the disk has room again: r resumes the run from its checkpoint
        await pilot.press("r")
        await wait_for(pilot, lambda: app.training is None and TAG not in app.errors
                       and load_checkpoint(run.checkpoint)["epoch"] == END)
    epochs = [r["epoch"] for r in read_log(run.log)]
    assert epochs == list(range(0, END + 1, 5))
    assert temp_files(run) == []


async def test_tui_export_to_a_full_disk_is_reported_and_keeps_the_old_png(run: RunPaths, inject: Injector) -> None:
    from grok_tui.tui.app import GrokApp

    before, inode = run.curves_png.read_bytes(), run.curves_png.stat().st_ino
    fault = inject.add(Fault("training_curves.png", after=1000))
    app = GrokApp(root=run.root, watch=TAG)
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("e")
        await wait_for(pilot, lambda: any("export failed" in m for m in notifications(app)))
        message = next(m for m in notifications(app) if "export failed" in m)
        assert str(run.curves_png) in message and os.strerror(errno.ENOSPC) in message, message
        assert fault.hits >= 1
        assert run.curves_png.read_bytes() == before and run.curves_png.stat().st_ino == inode
        assert temp_files(run) == []
        fault.active = False
        await pilot.press("e")  # usable: the next export works
        await wait_for(pilot, lambda: any(m.startswith("exported") for m in notifications(app)))
    assert run.curves_png.stat().st_ino != inode  # written anew (atomically: a new file renamed over the old)
    assert run.curves_png.read_bytes().startswith(b"\x89PNG")
