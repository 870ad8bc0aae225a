"""A hand-edited or hostile config.json, and a folder where a log or events file goes (issue 16, item 6).

Every reader gets a run's config through Config.load, which validates it with the same validate() as the
CLI and the form: a broken run shows as broken with the reason (naming the file), and never hides the
good runs beside it. Anything but a regular file in place of config.json is refused before it is
opened (opening a FIFO blocks): the readers are run in subprocesses with a timeout to prove it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.config import CONFIG_MAX_BYTES, Config, ConfigError
from grok_tui.run.paths import RunPaths
from grok_tui.run.summary import list_runs
from grok_tui.training.trainer import train_grokking

# config.json edits (None: remove nothing, replace the whole file with the bytes given instead)
EDITS: dict[str, dict[str, object]] = {
    "op-number": {"operation": 5},
    "p-null": {"p": None},
    "epochs-text": {"num_epochs": "many"},
    "betas-text": {"betas": "0.9"},
    "lr-list": {"lr": [1e-3]},
}
REASONS = {"op-number": "operation: must be one of", "p-null": "p: must be a prime number",
           "epochs-text": "num_epochs: must be a whole number", "betas-text": "betas:", "lr-list": "lr:",
           "not-object": "config: must be a JSON object", "fifo": "is a FIFO (named pipe), not a regular file",
           "link-to-fifo": "is a FIFO (named pipe), not a regular file", "folder": "is a folder, not a regular file",
           "log-folder": "training_log.jsonl: is a folder", "events-folder": "events.json: is a folder"}
GOOD = ("good-a", "good-b")


def copy_run(source: RunPaths, tag: str) -> RunPaths:
    """A copy of a trained run under another tag (training each would take seconds on a loaded machine)."""
    paths = RunPaths.of(tag, source.root)
    shutil.copytree(source.log_dir, paths.log_dir)
    shutil.copytree(source.model_dir, paths.model_dir)
    paths.config.write_text(json.dumps({**json.loads(source.config.read_text()), "tag": tag}))
    return paths


@pytest.fixture(scope="module")
def broken_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good runs beside one broken run of each kind."""
    root = tmp_path_factory.mktemp("broken")
    train_grokking(tiny_config(tag=GOOD[0], num_epochs=20, measure_every=10), root=root)
    source = RunPaths.of(GOOD[0], root)
    copy_run(source, GOOD[1])
    for tag in [*EDITS, "not-object", "fifo", "link-to-fifo", "folder", "log-folder", "events-folder"]:
        paths = copy_run(source, tag)
        if tag in EDITS:
            data = json.loads(paths.config.read_text())
            data.update(EDITS[tag])
            paths.config.write_text(json.dumps(data))
        elif tag == "not-object":
            paths.config.write_text("[1, 2]")
        elif tag in ("fifo", "folder", "link-to-fifo"):
            paths.config.unlink()
            if tag == "fifo":
                os.mkfifo(paths.config)
            elif tag == "folder":
                paths.config.mkdir()
            else:
                os.mkfifo(root / "elsewhere-fifo")
                paths.config.symlink_to(root / "elsewhere-fifo")
        else:
            target = paths.log if tag == "log-folder" else paths.events
            target.unlink()
            target.mkdir()
    return root


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """grok-tui in a child process: a reader that blocked on a FIFO would hit the timeout."""
    return subprocess.run([sys.executable, "-m", "grok_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """grok-tui in this process (faster) where nothing could block: no FIFO is involved."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, out, err)


def any_cli(capsys: pytest.CaptureFixture[str], tag: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args) if "fifo" in tag else run_cli(capsys, *args)


def test_list_shows_every_broken_run_as_broken_with_its_reason_beside_the_good_ones(broken_root: Path) -> None:
    result = cli("list", "--root", str(broken_root))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    status_at = lines[0].index("STATUS")  # the table's columns are aligned under their headers
    statuses = {line.split()[0]: line[status_at:].split("  ")[0].strip() for line in lines[1:]}
    assert set(statuses) == {*GOOD, *REASONS}
    assert all(statuses[tag] == "finished" for tag in GOOD)
    assert all(statuses[tag] == "broken" for tag in REASONS)
    warnings = result.stderr.splitlines()
    assert len(warnings) == len(REASONS)
    for tag, reason in REASONS.items():
        (line,) = [w for w in warnings if w.startswith(f"warning: {tag}: ")]
        assert reason in line and str(broken_root / "logs" / tag) in line, line


def test_summaries_in_process_never_raise_and_name_the_file(broken_root: Path) -> None:
    summaries = {s.tag: s for s in list_runs(broken_root)}
    for tag in REASONS:
        assert summaries[tag].status == "broken" and REASONS[tag] in summaries[tag].problem
    for tag in GOOD:
        assert summaries[tag].status == "finished" and summaries[tag].problem == ""


@pytest.mark.parametrize("tag", [t for t in REASONS if t != "log-folder"])
def test_plot_draws_a_run_with_a_broken_config_and_says_why_in_one_line(broken_root: Path, tmp_path: Path,
                                                                         tag: str, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "curves.png"
    result = any_cli(capsys, tag, "plot", "--root", str(broken_root), tag, "--out", str(out))
    assert result.returncode == 0 and out.read_bytes().startswith(b"\x89PNG"), result.stderr
    warnings = result.stderr.splitlines()
    if tag == "events-folder":  # the figure's events come from the log: nothing to warn about
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith("grok-tui: warning: ") and REASONS[tag] in warnings[0]


def test_plot_of_a_log_that_is_a_folder_is_one_line_and_writes_nothing(broken_root: Path, tmp_path: Path,
                                                                       capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "curves.png"
    result = run_cli(capsys, "plot", "--root", str(broken_root), "log-folder", "--out", str(out))
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.splitlines() == [
        f"grok-tui: error: {broken_root / 'logs' / 'log-folder' / 'training_log.jsonl'}: is a folder, not a "
        "regular file; it was not read"]


def test_plot_comparing_good_and_broken_runs_draws_and_names_each_broken_one(broken_root: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "compare.png"
    result = cli("plot", "--root", str(broken_root), *GOOD, "op-number", "fifo", "log-folder", "--out", str(out))
    assert result.returncode == 0 and out.read_bytes().startswith(b"\x89PNG"), result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 3
    for tag in ("op-number", "fifo", "log-folder"):
        assert any(w.startswith(f"grok-tui: warning: {tag}: ") and REASONS[tag] in w for w in warnings), warnings


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo"])
def test_train_refuses_a_fifo_config_at_once_and_changes_nothing(broken_root: Path, kind: str) -> None:
    paths = RunPaths.of(kind, broken_root)
    before = {p: p.read_bytes() for p in (paths.log, paths.checkpoint, paths.events)}
    result = cli("train", "--root", str(broken_root), "--tag", kind, "--num-epochs", "30", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"grok-tui: error: {paths.config}: is a FIFO (named pipe), not a regular "
                                          f"file; it was not read; remove it to train run {kind!r}"]
    assert {p: p.read_bytes() for p in before} == before


def test_train_refuses_a_hand_edited_config_naming_the_field(broken_root: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    paths = RunPaths.of("op-number", broken_root)
    before = paths.config.read_bytes(), paths.log.read_bytes()
    result = run_cli(capsys, "train", "--root", str(broken_root), "--tag", "op-number", "--num-epochs", "30")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert f"{paths.config}: operation: must be one of" in result.stderr and "--fresh" in result.stderr
    assert (paths.config.read_bytes(), paths.log.read_bytes()) == before


@pytest.mark.parametrize("kind", ["fifo", "folder", "too-large", "link-to-folder"])
def test_config_load_refuses_what_is_not_a_config_file_without_opening_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.json"
    if kind == "fifo":
        os.mkfifo(path)  # opened for reading, this would block until a writer came
    elif kind == "folder":
        path.mkdir()
    elif kind == "link-to-folder":
        (tmp_path / "dir").mkdir()
        path.symlink_to(tmp_path / "dir")
    else:
        path.write_bytes(b" " * CONFIG_MAX_BYTES + b"{}")
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert str(info.value).startswith(f"{path}: ") and "it was not read" in str(info.value)


def test_config_load_reads_through_a_symlink_to_a_regular_file(tmp_path: Path) -> None:
    config = tiny_config(tag="linked")
    config.save(tmp_path / "real.json")
    (tmp_path / "config.json").symlink_to(tmp_path / "real.json")
    assert Config.load(tmp_path / "config.json") == config


async def test_the_tui_runs_screen_shows_broken_runs_beside_the_good_ones(broken_root: Path) -> None:
    from textual.widgets import DataTable

    from grok_tui.tui.app import GrokApp
    from grok_tui.tui.screens import RunsScreen

    app = GrokApp(tiny_config(tag="form"), root=broken_root, config_given=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        table = app.screen.query_one(DataTable)
        rows = {str(row[1]): [str(cell) for cell in row] for row in (table.get_row_at(i)
                                                                     for i in range(table.row_count))}
        assert set(rows) == {*GOOD, *REASONS}
        assert all("finished" in rows[tag] for tag in GOOD)
        assert all("broken" in rows[tag] for tag in REASONS)


@pytest.mark.parametrize("tag", ["op-number", "fifo", "log-folder"])
async def test_watch_opens_a_broken_run_without_crashing(broken_root: Path, tag: str) -> None:
    from grok_tui.tui.app import GrokApp
    from grok_tui.tui.live import LiveScreen

    app = GrokApp(root=broken_root, watch=tag)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        assert isinstance(app.screen, LiveScreen) and app.screen.paths.tag == tag
    assert app.return_code in (0, None)


def test_the_sweep_readers_show_good_members_beside_broken_ones(tmp_path: Path) -> None:
    from grok_tui.sweeps.grid import expand, save_definition
    from grok_tui.sweeps.results import member_results
    from grok_tui.sweeps.figure import plot_sweep

    sweep = expand("s", tiny_config(num_epochs=20, measure_every=10), {"seed": [0, 1, 2, 3]})
    save_definition(tmp_path, sweep)
    train_grokking(sweep.members[0].config, root=tmp_path)
    first = RunPaths.of(sweep.members[0].tag, tmp_path)
    for member in sweep.members[1:]:  # the first member's files under the others' configs: enough for readers
        paths = RunPaths.of(member.tag, tmp_path)
        shutil.copytree(first.log_dir, paths.log_dir)
        member.config.save(paths.config)
    broken = [RunPaths.of(member.tag, tmp_path) for member in sweep.members[1:]]
    broken[0].config.write_text(json.dumps({**json.loads(broken[0].config.read_text()), "operation": 5}))
    broken[1].log.unlink()
    broken[1].log.mkdir()
    broken[2].events.unlink()
    broken[2].events.mkdir()
    _, results = member_results("s", tmp_path)
    assert [r.epoch for r in results] == [20, 20, 0, 20]  # the member whose log is a folder has no epochs
    out = tmp_path / "sweep.png"
    assert plot_sweep("s", out=out, root=tmp_path) and out.read_bytes().startswith(b"\x89PNG")
    listed = cli("list", "--root", str(tmp_path))
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 5
    assert sorted(": ".join(line.split(": ")[:2]) for line in listed.stderr.splitlines()) == sorted(
        f"warning: {paths.tag}" for paths in broken)
