"""Write targets that are not ours to replace (issue 16, items 2, 7 and 9).

One policy, for a user's `--out` and for the files in run folders alike (grok_tui/core/atomic.py):
- a regular file is replaced atomically; a symlink to a regular file is written through (the link stays,
  the file it points to is replaced atomically, its temp file beside it);
- anything else that is there (a FIFO, a folder, a symlink to a FIFO, a dangling symlink) is refused with
  one line naming it, exit 2, and left exactly as it was; nothing is created through a dangling link.
  (Tested with FIFOs and links in tmp, never with real device nodes.)
- `--fresh` checks every file of the run before deleting any (item 7).
- A write error with a relative root names the file, not a random temp name (item 9).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.core.atomic import atomic_write_bytes, leftover_temps
from grok_tui.cli.main import main
from grok_tui.core.errors import UnsafeTargetError
from grok_tui.run.log import RunLogReader, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.training.trainer import train_grokking

CONFIG = tiny_config(num_epochs=10, log_every=5, checkpoint_every=5, measure_every=0)


def make(kind: str, path: Path, elsewhere: Path) -> None:
    """Put a non-regular thing at `path`."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "link-to-fifo":
        os.mkfifo(elsewhere)
        path.symlink_to(elsewhere)
    elif kind == "link-to-folder":
        elsewhere.mkdir()
        path.symlink_to(elsewhere)
    elif kind == "dangling":
        path.symlink_to(elsewhere)
    else:
        raise ValueError(kind)


def snapshot(path: Path) -> tuple[int, int, str | None]:
    info = os.lstat(path)
    return info.st_mode, info.st_ino, os.readlink(path) if stat.S_ISLNK(info.st_mode) else None


KINDS = ["fifo", "folder", "link-to-fifo", "link-to-folder", "dangling"]


@pytest.mark.parametrize("kind", KINDS)
def test_atomic_write_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    target, elsewhere = tmp_path / "out.png", tmp_path / "elsewhere"
    make(kind, target, elsewhere)
    before = snapshot(target)
    with pytest.raises(UnsafeTargetError) as refused:
        atomic_write_bytes(target, b"new")
    message = str(refused.value)
    assert message.startswith(f"{target}: ") and "\n" not in message
    assert snapshot(target) == before  # not replaced, not followed
    assert os.path.lexists(elsewhere) == kind.startswith("link-")  # nothing created through a dangling link
    assert leftover_temps(target) == [] and sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_symlink_to_a_regular_file_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real" / "fig.png"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(real)
    old_inode = real.stat().st_ino
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new" and real.stat().st_ino != old_inode  # replaced atomically (renamed)
    assert list(real.parent.iterdir()) == [real] and leftover_temps(link) == []


# ---------------------------------------------------------------- the CLI: plot --out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained run, copied by each test (training it per test cost most of this file's time)."""
    root = tmp_path_factory.mktemp("template")
    train_grokking(CONFIG, root=root)
    return root


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "folder", "dangling"])
def test_plot_out_onto_a_fifo_or_a_link_to_one_is_exit_2_and_untouched(
        template: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, elsewhere = tmp_path / "pipe.png", tmp_path / "elsewhere.png"
    make(kind, out, elsewhere)
    before = snapshot(out)
    status = main(["plot", CONFIG.tag, "--root", str(template), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith(f"grok-tui: error: {out}: "), err
    assert snapshot(out) == before and os.path.lexists(elsewhere) == kind.startswith("link-")


def test_plot_out_through_a_symlink_to_a_png_writes_the_png(template: Path, tmp_path: Path) -> None:
    real, link = tmp_path / "real.png", tmp_path / "link.png"
    real.write_bytes(b"old")
    link.symlink_to(real)
    assert main(["plot", CONFIG.tag, "--root", str(template), "--out", str(link)]) == 0
    assert link.is_symlink() and real.read_bytes().startswith(b"\x89PNG")


# ---------------------------------------------------------------- run folders: the same policy


@pytest.fixture
def fresh_run(template: Path) -> Callable[[Path], RunPaths]:
    def copy(root: Path) -> RunPaths:
        shutil.copytree(template, root, dirs_exist_ok=True)
        return RunPaths.of(CONFIG.tag, root)
    return copy


def files_of(root: Path) -> dict[str, tuple[int, bytes | str]]:
    found: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        info = os.lstat(path)
        content: bytes | str = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() \
            else ""
        found[str(path.relative_to(root))] = (info.st_mode, content)
    return found


# A FIFO as config.json is refused by Config.load before it is opened (tests/test_reliability_config.py).
@pytest.mark.parametrize("name, kind", [(name, kind) for name in ("log", "checkpoint", "config", "events", "curves_png")
                                        for kind in ("fifo", "dangling")])
def test_train_refuses_a_run_file_that_is_not_a_regular_file(
        fresh_run: Callable[[Path], RunPaths], tmp_path: Path, name: str, kind: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    paths = fresh_run(tmp_path / "root")
    target: Path = getattr(paths, name)
    target.unlink()
    make(kind, target, tmp_path / "outside")
    before = files_of(tmp_path)
    status = main(["train", "--root", str(paths.root), "--tag", CONFIG.tag, "--num-epochs", "20"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith(f"grok-tui: error: {target}: "), err
    assert files_of(tmp_path) == before  # nothing written, nothing created outside the root
    assert not (tmp_path / "outside").exists()


def test_a_dangling_log_symlink_never_makes_the_trainer_write_outside_the_root(tmp_path: Path) -> None:
    paths = RunPaths.of(CONFIG.tag, tmp_path / "root")
    paths.log_dir.mkdir(parents=True)
    outside = tmp_path / "outside.jsonl"
    paths.log.symlink_to(outside)
    with pytest.raises(UnsafeTargetError):
        train_grokking(CONFIG, root=paths.root)
    assert not outside.exists() and not paths.checkpoint.exists() and not paths.config.exists()


def test_a_log_symlinked_to_a_regular_file_is_appended_and_cut_back_through_the_link(
        fresh_run: Callable[[Path], RunPaths], tmp_path: Path) -> None:
    paths = fresh_run(tmp_path / "root")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_bytes(paths.log.read_bytes() + b'{"epoch": 99, "train_loss": 1}\n')  # a line to cut back
    paths.log.unlink()
    paths.log.symlink_to(outside)
    train_grokking(tiny_config(num_epochs=20, log_every=5, checkpoint_every=5, measure_every=0), root=paths.root)
    assert paths.log.is_symlink() and os.readlink(paths.log) == str(outside)  # the link stays a link
    assert [r["epoch"] for r in read_log(outside)] == [0, 5, 10, 15, 20]  # cut back and appended, one file


def test_a_log_that_is_a_folder_or_fifo_reads_as_no_records_without_blocking(tmp_path: Path) -> None:
    for kind in ("fifo", "folder"):
        path = tmp_path / f"{kind}.jsonl"
        make(kind, path, tmp_path / "x")
        reader = RunLogReader(path)
        assert reader.read_all() == [] and reader.problem.startswith(f"{path}: is a ")


# ---------------------------------------------------------------- --fresh (item 7)


@pytest.mark.parametrize("name", ["config", "checkpoint", "events", "sessions"])
@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_fresh_checks_every_file_before_deleting_any(
        fresh_run: Callable[[Path], RunPaths], tmp_path: Path, name: str, kind: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    paths = fresh_run(tmp_path)
    target: Path = getattr(paths, name)
    target.unlink()
    make(kind, target, tmp_path / "x")
    before = files_of(tmp_path)
    status = main(["train", "--root", str(tmp_path), "--tag", CONFIG.tag, "--fresh", "--p", "11", "--d-model", "16",
                   "--num-heads", "2", "--frac-train", "0.5", "--num-epochs", "10", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith(f"grok-tui: error: {target}: "), err
    assert "nothing was deleted" in err[0]
    assert files_of(tmp_path) == before  # every other file is still there, byte for byte


def test_fresh_removes_a_symlinked_run_file_as_a_link_only(
        fresh_run: Callable[[Path], RunPaths], tmp_path: Path) -> None:
    paths = fresh_run(tmp_path / "root")
    outside = tmp_path / "keep.json"
    outside.write_text("{}")
    paths.events.unlink()
    paths.events.symlink_to(outside)
    train_grokking(CONFIG, resume=False, root=paths.root)
    assert outside.read_text() == "{}" and not paths.events.is_symlink()


# ---------------------------------------------------------------- item 9: relative roots


def test_a_write_error_under_a_relative_root_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mkstemp names its temp file with an absolute path even for a relative folder; the error must still
    say which file could not be written (as a read-only folder does; root may write anywhere, so the
    failure of os.open is injected the way the kernel reports it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figs").mkdir()
    real_open = os.open

    def read_only(path: str, flags: int, mode: int = 0o777, **kwargs: object) -> int:
        if ".curves.png." in os.fspath(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(OSError) as caught:
        atomic_write_bytes(Path("figs/curves.png"), b"x")
    monkeypatch.undo()
    assert caught.value.errno == errno.EROFS and caught.value.filename == "figs/curves.png"
