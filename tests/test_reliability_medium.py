"""Reliability, third pass, the medium findings of issue 23: each test here failed on the code before its fix.

- M1: a real full disk (a small tmpfs) during a checkpoint or snapshot write is one line naming the file,
  exit 1, the previous checkpoint intact; torch's own writer hid the disk error behind a RuntimeError.
- M3: sparse, meta and nested tensors in a checkpoint or snapshot are refused in one line, exit 2, before
  config.json or sessions.jsonl is touched.
- M5: expanding a saved sweep against its known members is linear in the members.
- M6: a huge (sparse) events.json is skipped by every reader, in bounded memory.
- M7: log lines of valid shape with any values draw every figure and the TUI's `f` view.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.core.config import Config
from grok_tui.core.errors import CheckpointError, NoDataError
from grok_tui.figures.chartview import ChartView
from grok_tui.figures.curves import plot_progress_measures, plot_training_curves
from grok_tui.figures.series import PLOT_MAX, RunSeries
from grok_tui.experiment.model import SimpleTransformer
from grok_tui.run.checkpoint import load_checkpoint, save_checkpoint
from grok_tui.run.log import encode_record, read_log
from grok_tui.run.paths import RunPaths
from grok_tui.run.snapshots import load_snapshot, save_snapshot, snapshot_path
from grok_tui.run.phases import load_events
from grok_tui.sweeps.grid import expand, merge_axes, save_definition, saved_members
from grok_tui.training.trainer import train_grokking
from grok_tui.tui.charts import spectrogram_text

TAG = "t"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def train_stopped_at(root: Path, epoch: int, **overrides: Any) -> RunPaths:
    """A run of `overrides` stopped (checkpointed, no end figures) just past `epoch`."""
    stop = threading.Event()
    config = tiny_config(tag=TAG, **overrides)
    train_grokking(config, root=root, stop_event=stop,
                   on_log=lambda record: stop.set() if record["epoch"] >= epoch else None)
    paths = RunPaths.of(TAG, root)
    assert epoch <= load_checkpoint(paths.checkpoint)["epoch"] < epoch + 5
    return paths


# ---------------------------------------------------------------- M1: a real full disk


@contextlib.contextmanager
def small_tmpfs(size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` mounted on a temp folder (root only), unmounted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="grok-tui-tmpfs-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
                                 capture_output=True, text=True)
    except FileNotFoundError:
        folder.rmdir()
        pytest.skip("no mount command here: a real full disk needs a small tmpfs")
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()}): a real full disk "
                    "needs one (CI and the dev containers run as root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


def fill_disk(folder: Path, leave: int) -> None:
    """Take all the free space of `folder`'s filesystem but `leave` bytes."""
    info = os.statvfs(folder)
    free = info.f_bavail * info.f_frsize
    with open(folder / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*.tmp")]


PAGE = 4096  # tmpfs counts whole pages


def test_torch_writes_onto_a_really_full_disk_raise_the_disk_error_naming_the_file(tmp_path: Path) -> None:
    """At every level of free space, from none to enough: saved, or an OSError(ENOSPC) naming the file, the
    old file kept, no temp file. torch.save's zip writer turned some of these levels (the disk filling while
    its end of file was written) into RuntimeError('[enforce fail at inline_container.cc] unexpected pos')."""
    made = train_stopped_at(tmp_path / "made", 10, num_epochs=20, log_every=5, snapshot_every=5)
    state = load_checkpoint(made.checkpoint)
    model = SimpleTransformer(tiny_config(tag=TAG))
    outcomes = []
    with small_tmpfs(1024) as mount:
        shutil.copytree(tmp_path / "made", mount / "root")
        paths = RunPaths.of(TAG, mount / "root")
        writes = {paths.checkpoint: lambda: save_checkpoint(paths.checkpoint, state),
                  snapshot_path(paths, 5): lambda: save_snapshot(paths, 5, model)}
        for path, write in writes.items():
            before = path.read_bytes()
            for leave in range(0, len(before) + 2 * PAGE, PAGE):
                fill_disk(mount, leave)
                try:
                    write()
                    outcomes.append("saved")
                    path.write_bytes(before)
                except OSError as err:
                    assert (err.errno, err.filename) == (errno.ENOSPC, str(path)), err
                    assert path.read_bytes() == before
                    outcomes.append("refused")
                finally:
                    (mount / "filler").unlink()
                assert temp_files(mount) == []
    assert "saved" in outcomes and "refused" in outcomes


@pytest.mark.parametrize("leave", [PAGE, 2 * PAGE, 3 * PAGE])
def test_train_onto_a_really_full_disk_is_one_line_naming_the_checkpoint(
        leave: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grok-tui train` on a full tmpfs: exit 1, one line naming the checkpoint, the previous one intact."""
    train_stopped_at(tmp_path / "made", 30, num_epochs=60, log_every=5, checkpoint_every=10)
    with small_tmpfs(1024) as mount:
        shutil.copytree(tmp_path / "made", mount / "root")
        paths = RunPaths.of(TAG, mount / "root")
        before = paths.checkpoint.read_bytes()
        log = paths.log.read_bytes()
        fill_disk(mount, leave + PAGE)  # a page for config.json's rewrite: the checkpoint is what fails
        status, lines = cli(capsys, "train", "--root", str(mount / "root"), "--tag", TAG)
        assert status == 1, lines
        assert len(lines) == 1 and lines[0].startswith("grok-tui: error: "), lines
        assert f"{paths.checkpoint}: {os.strerror(errno.ENOSPC)}" in lines[0], lines
        assert paths.checkpoint.read_bytes() == before
        assert paths.log.read_bytes().startswith(log)
        assert temp_files(mount) == []


# ---------------------------------------------------------------- M5: expanding a saved sweep


def grid_of(members: int) -> dict[str, list[Any]]:
    """Three axes, `members` members (a multiple of 100)."""
    return {"seed": list(range(members // 100)), "weight_decay": [0.1 * i for i in range(1, 11)],
            "lr": [1e-3 * i for i in range(1, 11)]}


def resolved_calls_to_expand_again(members: int, limit: float = math.inf) -> int:
    """How many field values (Config.resolved) expanding a saved sweep of `members` reads, matching each member
    with the known ones; past `limit` it stops counting (the quadratic matching took minutes at 10,000)."""
    base = tiny_config(tag="x")
    axes = grid_of(members)
    saved = expand("sw", base, axes).to_dict()
    known = saved_members(saved, Path("sw.json"))
    original = Config.resolved
    calls = 0

    def counted(config: Config, name: str) -> Any:
        nonlocal calls
        calls += 1
        if calls > limit:
            raise OverflowError(f"more than {limit:,.0f} values read")
        return original(config, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Config, "resolved", counted)
        again = expand("sw", base, merge_axes(saved, axes), known)
    assert [m.tag for m in again.members] == [m["tag"] for m in saved["members"]]
    return calls


def test_expanding_a_saved_sweep_reads_each_member_a_bounded_number_of_times() -> None:
    """10x the members, at most 30x the work (linear is 10x; matching each member with each known one was 100x:
    1,000 members took 13.6 s, 3,000 took 92 s)."""
    small = resolved_calls_to_expand_again(1_000)
    try:
        large = resolved_calls_to_expand_again(10_000, limit=30 * small)
    except OverflowError as err:
        pytest.fail(f"expanding 10,000 members: {err}, 30 times what 1,000 need ({small:,})")
    assert large <= 30 * small


def test_a_known_member_keeps_its_tag_when_a_field_becomes_an_axis() -> None:
    """The lookup by experiment finds the same member the comparison did: lr given once, then swept."""
    base = tiny_config(tag="x")
    saved = expand("sw", base, {"seed": [0, 1]}).to_dict()
    grown = expand("sw", base, merge_axes(saved, {"lr": [base.lr, 3e-3]}),
                   saved_members(saved, Path("sw.json")))
    tags = {(m.values["seed"], m.values["lr"]): m.tag for m in grown.members}
    assert tags[(0, base.lr)] == "sw.s0" and tags[(1, base.lr)] == "sw.s1"
    assert tags[(0, 3e-3)] == "sw.lr0.003.s0"


def test_merging_axes_keeps_the_order_and_drops_repeats_of_any_value() -> None:
    saved = {"axes": {"seed": [3, 1, 2.0, [7], [7], {"a": 1}], "lr": [0.1]}}
    merged = merge_axes(saved, {"seed": [1, 2]})
    assert merged == {"seed": [1, 2, 3, [7], {"a": 1}], "lr": [0.1]}


# ---------------------------------------------------------------- M3: tensors that are not dense


def odd_tensor(kind: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A float tensor that torch.load(weights_only=True) accepts but that holds no plain values."""
    if kind == "sparse":
        return torch.zeros(shape).to_sparse()
    if kind == "sparse_csr":
        return torch.zeros(shape).reshape(shape[0], -1).to_sparse_csr()
    if kind == "meta":
        return torch.empty(shape, device="meta")
    return torch.nested.nested_tensor([torch.zeros(shape[-1]), torch.zeros(shape[-1] + 1)])


ODD_KINDS = ["sparse", "sparse_csr", "meta", "nested"]


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run stopped at epoch 10 (of 20) with a snapshot every 5 epochs, to copy."""
    root = tmp_path_factory.mktemp("stopped")
    train_stopped_at(root, 10, num_epochs=20, log_every=5, checkpoint_every=10, snapshot_every=5)
    return root


def stamp(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.filterwarnings("ignore:.*(beta state|prototype stage)")
@pytest.mark.parametrize(("where", "kind"), [*((where, kind) for where in ("model", "optimizer") for kind in ODD_KINDS),
                                             ("rng", "sparse"), ("rng", "meta")])
def test_a_checkpoint_with_a_tensor_that_is_not_dense_is_refused_before_anything_is_written(
        kind: str, where: str, stopped_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Sparse, meta and nested tensors load with weights_only; they broke the checks (a traceback) or passed
    them and broke the restore, after config.json and sessions.jsonl were written."""
    shutil.copytree(stopped_run, tmp_path / "root")
    paths = RunPaths.of(TAG, tmp_path / "root")
    state = torch.load(paths.checkpoint, weights_only=True)
    if where == "model":
        state["model"]["W_E"] = odd_tensor(kind, (16, 12))
    elif where == "optimizer":
        state["optimizer"]["state"][0]["exp_avg"] = odd_tensor(kind, (16, 12))
    else:
        state["rng"]["numpy"]["keys"] = odd_tensor(kind, (624,)).to(torch.int64)
    torch.save(state, paths.checkpoint)
    kept = {path: stamp(path) for path in (paths.config, paths.sessions, paths.log, paths.checkpoint)}
    status, lines = cli(capsys, "train", "--root", str(tmp_path / "root"), "--tag", TAG)
    assert status == 2, lines
    assert len(lines) == 1 and lines[0].startswith(f"grok-tui: error: {paths.checkpoint}: "), lines
    assert "dense tensor" in lines[0], lines
    assert {path: stamp(path) for path in kept} == kept


@pytest.mark.filterwarnings("ignore:.*(beta state|prototype stage)")
@pytest.mark.parametrize("kind", ODD_KINDS)
def test_a_snapshot_with_a_tensor_that_is_not_dense_is_refused_in_one_line(
        kind: str, stopped_run: Path, tmp_path: Path) -> None:
    shutil.copytree(stopped_run, tmp_path / "root")
    paths = RunPaths.of(TAG, tmp_path / "root")
    path = snapshot_path(paths, 5)
    state = torch.load(path, weights_only=True)
    state["model"]["W_in"] = odd_tensor(kind, (64, 16))
    torch.save(state, path)
    with pytest.raises(CheckpointError) as refused:
        load_snapshot(path, tiny_config(tag=TAG))
    message = str(refused.value)
    assert message.startswith(f"{path}: model weight W_in is ") and "dense tensor" in message
    assert "\n" not in message


# ---------------------------------------------------------------- M6: a huge events.json

MEMORY_BOUND_KIB = 1024 * 1024  # the commands below need a few hundred MB; reading 2 GB took 4.4 GB


def peak_memory_kib(*code: str) -> tuple[int, str]:
    """Run `python -c code...` as the only child of a fresh interpreter; its peak RSS (KiB) and its stderr."""
    wrapper = ("import resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stderr.write(done.stderr)\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-c", *code], capture_output=True,
                          text=True, timeout=600)
    return int(done.stdout.split()[-1]), done.stderr


def test_a_huge_sparse_events_json_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    """A 2 GB sparse events.json in a sweep member: `plot --sweep` reads events from the member's log, and
    the sweep's member state (load_events) skips the file by its size, unread."""
    base = tiny_config(tag="x", num_epochs=20, log_every=5, checkpoint_every=10)
    sweep = expand("m", base, {"seed": [0]})
    save_definition(tmp_path, sweep)
    member = sweep.members[0]
    stop = threading.Event()
    train_grokking(member.config, root=tmp_path, stop_event=stop,
                   on_log=lambda record: stop.set() if record["epoch"] >= 10 else None)
    events = RunPaths.of(member.tag, tmp_path).events
    assert load_events(events) == []  # not grokked: the trainer wrote []
    with open(events, "wb") as handle:
        handle.truncate(2 * 1024**3)
    plot = (f"import sys; from grok_tui.cli.main import main; "
            f"sys.exit(main(['plot', '--sweep', 'm', '--root', {str(tmp_path)!r}, '--out', {str(tmp_path / 'f.png')!r}]))")
    peak, err = peak_memory_kib(plot)
    assert "Traceback" not in err and peak < MEMORY_BOUND_KIB, (peak, err)
    state = ("from pathlib import Path; from grok_tui.sweeps.grid import load_definition, saved_members; "
             "from grok_tui.sweeps.local_executor import member_state; "
             f"root = Path({str(tmp_path)!r}); path = root / 'sweeps' / 'm.json'; "
             "[member] = saved_members(load_definition(path), path); "
             "state = member_state(member, root); assert (state.state, state.grokked) == ('resume', None), state")
    peak, err = peak_memory_kib(state)
    assert "Traceback" not in err and peak < MEMORY_BOUND_KIB, (peak, err)


# ---------------------------------------------------------------- M7: log lines of valid shape, any values

AWKWARD_NUMBERS = st.one_of(st.none(), st.sampled_from([0, 0.0, -1.0, 1e308, -1e308, 5e-324, 1e-320, 10**300]),
                            st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6))
MEASURE_FIELDS = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "lr", "elapsed_s",
                  "restricted_loss", "excluded_loss", "gini_embed", "gini_unembed")
AWKWARD_RECORDS = st.fixed_dictionaries(
    {"epoch": st.one_of(st.integers(0, 50), st.just(0), st.integers(0, 2**53))},
    optional={**{key: AWKWARD_NUMBERS for key in MEASURE_FIELDS},
              "key_freqs": st.lists(st.integers(0, 100_000), max_size=4),
              "embed_freq_norms": st.lists(AWKWARD_NUMBERS, max_size=6)})


def write_log(root: Path, records: list[dict[str, Any]]) -> RunPaths:
    paths = RunPaths.of(TAG, root)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    paths.log.write_text("".join(encode_record(record) for record in records))
    assert len(read_log(paths.log)) == len(records)  # every line is of valid shape: the reader keeps it
    return paths


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(AWKWARD_RECORDS, min_size=1, max_size=6), log_x=st.booleans(),
       figure=st.sampled_from(["curves", "measures"]))
def test_figures_draw_any_log_of_valid_shape(records: list[dict[str, Any]], log_x: bool, figure: str,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    """Zero, negative, 1e308, subnormal and infinite values, key frequencies out of range, epoch 0 on log-x,
    one point, repeated epochs: `plot --measures` and `plot --log-x` crashed in matplotlib on such lines
    ("Axis limits cannot be NaN or Inf", "Data cannot be log-scaled", a singular matrix)."""
    root = tmp_path_factory.mktemp("log")
    write_log(root, records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib's about empty or NaN-only data: not what is tested
        if figure == "curves":
            plot_training_curves(TAG, out=root / "c.png", root=root, log_x=log_x, dpi=30)
        else:
            try:
                plot_progress_measures(TAG, out=root / "m.png", root=root, log_x=log_x, dpi=30)
            except NoDataError:
                assert not any(record.get("embed_freq_norms") for record in records)


@settings(max_examples=150, deadline=None)
@given(records=st.lists(AWKWARD_RECORDS, min_size=1, max_size=6), log_x=st.booleans())
def test_the_spectrum_and_its_data_take_any_log_of_valid_shape(records: list[dict[str, Any]], log_x: bool) -> None:
    """The TUI's `f` view reads RunSeries; a norm of -1e308 over a subnormal top made the heatmap's colour
    index int(-inf) (OverflowError). Norms are numbers from 0 to PLOT_MAX, keys are frequencies of the row."""
    series = RunSeries()
    series.extend(records)
    epochs, norms = series.freq_history
    finite = norms[np.isfinite(norms)]
    assert ((finite >= 0) & (finite <= PLOT_MAX)).all()
    for row in range(len(epochs)):
        assert all(1 <= k <= norms.shape[1] for k in series.key_freqs_at(row))
    assert all(1 <= k <= len(series.freq_norms or []) for k in series.key_freqs)
    spectrogram_text(series, ChartView(log_x=log_x), 40, 10)


def test_a_measures_figure_of_a_hundred_thousand_frequencies_and_keys_is_drawn(tmp_path: Path) -> None:
    """100,000 norms and as many keys (the reader's limit): a bar and a label each took hours."""
    huge = list(range(1, 100_001))
    write_log(tmp_path, [{"epoch": epoch, "train_loss": 1.0, "embed_freq_norms": [1.0] * len(huge), "key_freqs": huge}
                         for epoch in (0, 10)])
    plot_progress_measures(TAG, out=tmp_path / "m.png", root=tmp_path, dpi=30)
    assert (tmp_path / "m.png").stat().st_size > 0


async def test_the_f_view_shows_awkward_measurements(tmp_path: Path) -> None:
    """The live view's measures (`m`) and both frequency views (`f`), cursor on: no crash."""
    from grok_tui.tui.app import GrokApp

    tiny_config(tag=TAG).save(RunPaths.of(TAG, tmp_path).config)
    write_log(tmp_path, [
        {"epoch": 0, "train_loss": 0.0, "test_loss": -1.0, "embed_freq_norms": [-1e308, 5e-324, 1e308, None],
         "key_freqs": [0, 3, 9, 100_000]},
        {"epoch": 0, "train_loss": 5e-324, "embed_freq_norms": [5e-324, -1.0], "key_freqs": [2]},
        {"epoch": 10, "restricted_loss": 0.0, "excluded_loss": -5.0, "embed_freq_norms": [0.0, 0.0, 0.0, 0.0],
         "key_freqs": [1, 1, 4]},
        {"epoch": 20, "embed_freq_norms": [1e-320, None, 10**300, 3.0], "key_freqs": list(range(5000))}])
    app = GrokApp(root=tmp_path, watch=TAG)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        for key in ("m", "f", "c", "home", "f", "l", "f", "end"):
            await pilot.press(key)
            await pilot.pause(0.05)
        assert app.screen is not None
