"""`grok-tui plot TAG TAG ...` (the comparison figure), figure formats and sizes, and `list`, run in-process
through cli.main on synthetic run folders (no training: each test takes a fraction of a second)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.cli.main import main
from grok_tui.run.log import RunLogWriter
from grok_tui.run.paths import RunPaths


def write_run(root: Path, tag: str, grok_at: int, last: int, num_epochs: int = 1000, every: int = 10,
              **config: object) -> RunPaths:
    """A grokking-shaped log: memorized at epoch 100, test accuracy rising to 100% at `grok_at`."""
    paths = RunPaths.of(tag, root)
    tiny_config(tag=tag, num_epochs=num_epochs, log_every=every, **config).save(paths.config)
    with RunLogWriter(paths.log) as writer:
        for epoch in range(0, last + 1, every):
            rise = min(1.0, max(0.0, (epoch - grok_at / 2) / (grok_at / 2)))
            writer.write({"epoch": epoch, "train_loss": 3.0 * 10 ** (-epoch / 150),
                          "test_loss": 3.0 * math.exp(-3 * rise) + 1e-3, "train_acc": min(1.0, epoch / 100),
                          "test_acc": 0.05 + 0.95 * rise, "lr": 1e-3, "weight_norm": 50.0, "elapsed_s": epoch / 50})
    return paths


@pytest.fixture
def runs(root: Path) -> Path:
    """3 seeds x 2 weight decays, at two log cadences, one seed of wd=0.3 stopped early."""
    for seed, grok in enumerate((400, 500, 600)):
        write_run(root, f"wd1-s{seed}", grok, 1000, seed=seed, every=10 if seed else 20)
    for seed, (grok, last) in enumerate(((700, 1000), (800, 1000), (900, 600))):
        write_run(root, f"wd03-s{seed}", grok, last, seed=seed, weight_decay=0.3)
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("suffix, magic", [(".pdf", b"%PDF"), (".svg", b"<svg"), (".png", b"\x89PNG")])
def test_comparison_figure_in_the_format_of_its_suffix(runs: Path, tmp_path: Path, suffix: str, magic: bytes,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"fig{suffix}"
    status, stdout, err = run_cli(capsys, "plot", "wd1-s0", "wd1-s1", "wd03-s0", "--out", str(out),
                                  "--root", str(runs))
    assert status == 0, err
    assert stdout.strip() == str(out)
    data = out.read_bytes()
    if suffix == ".svg":
        assert data.startswith(b"<?xml") and magic in data[:1000] and data.rstrip().endswith(b"</svg>")
    else:
        assert data.startswith(magic)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("args", [["wd1-s0"], ["wd1-s0", "--measures"], ["wd1-s0", "wd1-s1"]])
def test_every_figure_refuses_an_unknown_suffix_with_one_line(runs: Path, tmp_path: Path, args: list[str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "plot", *args, "--out", str(tmp_path / "fig.jpg"), "--root", str(runs))
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("grok-tui: error: argument --out:") and ".jpg" in err, err
    assert not (tmp_path / "fig.jpg").exists()


def test_single_run_figures_follow_the_suffix_too(runs: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "plot", "wd1-s0", "--out", str(tmp_path / "one.pdf"), "--root", str(runs))
    assert status == 0, err
    assert (tmp_path / "one.pdf").read_bytes().startswith(b"%PDF")
    status, _, err = run_cli(capsys, "plot", "wd1-s0", "--out", str(tmp_path / "one.svg"), "--root", str(runs),
                             "--width", "3.5", "--height", "2.6")
    assert status == 0, err
    svg = (tmp_path / "one.svg").read_text()
    assert re.search(r'<svg[^>]*width="252pt"[^>]*height="187.2pt"', svg), svg[:600]  # 3.5 x 2.6 inches


def test_comparison_groups_seeds_with_a_band_and_a_legend_outside(runs: Path, tmp_path: Path) -> None:
    from grok_tui.figures.comparison import plot_comparison

    tags = ["wd1-s0", "wd1-s1", "wd1-s2", "wd03-s0", "wd03-s1", "wd03-s2"]
    fig = plot_comparison(tags, out=tmp_path / "c.png", root=runs, log_x=True, size=(7.0, 6.0))
    acc, train_loss, test_loss = fig.axes[:3]
    assert train_loss.get_yscale() == "log" and test_loss.get_yscale() == "log" and acc.get_xscale() == "log"
    assert len(acc.collections) == 2  # one band per seed group
    assert len(acc.lines) == 2  # one median line per group, no single runs
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["wd=1 (3 seeds): grokked 500 (400-600) 3/3", "wd=0.3 (3 seeds): grokked 750 (700-800) 2/3"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert all(not box.overlaps(ax.get_window_extent()) for ax in fig.axes[:3])  # outside the panels
    fig = plot_comparison(tags, out=tmp_path / "c.png", root=runs, show_runs=True)
    assert len(fig.axes[0].lines) == 2 + 6


def test_comparison_of_a_broken_run_warns_and_draws_the_others(runs: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    RunPaths.of("wd1-s2", runs).config.write_text("[1, 2")
    status, _, err = run_cli(capsys, "plot", "wd1-s0", "wd1-s2", "--out", str(tmp_path / "b.png"), "--root", str(runs))
    assert status == 0
    assert re.fullmatch(r"grok-tui: warning: wd1-s2: .*config\.json.*\n", err), err
    assert (tmp_path / "b.png").read_bytes().startswith(b"\x89PNG")


def test_comparison_default_path_and_bad_sizes(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "plot", "wd1-s0", "wd03-s0", "--root", str(runs))
    assert status == 0, err
    assert Path(out.strip()) == runs / "logs" / "compare-wd1-s0+wd03-s0.png" and Path(out.strip()).exists()
    for flags in (["--width", "0.2"], ["--height", "500"], ["--width", "40", "--height", "40", "--dpi", "1200"]):
        status, _, err = run_cli(capsys, "plot", "wd1-s0", "wd03-s0", *flags, "--root", str(runs))
        assert status == 2 and err.count("\n") == 1 and "--width/--height" in err, (flags, err)
    status, _, err = run_cli(capsys, "plot", "wd1-s0", "nosuch", "--root", str(runs))
    assert status == 2 and "nosuch" in err
    status, _, err = run_cli(capsys, "plot", "wd1-s0", "wd03-s0", "--measures", "--root", str(runs))
    assert status == 2 and "--measures" in err


def list_rows(stdout: str) -> dict[str, dict[str, str]]:
    lines = stdout.splitlines()
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    ends = [*starts[1:], None]
    header = [lines[0][a:b].strip() for a, b in zip(starts, ends)]
    rows = ({name: line[a:b].strip() for name, a, b in zip(header, starts, ends)} for line in lines[1:])
    return {row["TAG"]: row for row in rows}


def test_list_shows_only_the_fields_that_differ(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "list", "--root", str(runs))
    assert status == 0, err
    rows = list_rows(out)
    header = list(next(iter(rows.values())))
    assert header[:4] == ["TAG", "SEED", "WEIGHT_DECAY", "LOG_EVERY"], header
    assert rows["wd03-s2"]["WEIGHT_DECAY"] == "0.3" and rows["wd1-s0"]["LOG_EVERY"] == "20"
    assert rows["wd1-s1"]["GROKKED"] == "500" and rows["wd1-s1"]["MEMORIZED"] == "100"
    assert rows["wd1-s1"]["TEST ACC"] == "100.0%" and rows["wd1-s1"]["STATUS"] == "finished"
    assert rows["wd03-s2"]["GROKKED"] == "-" and rows["wd03-s2"]["STATUS"] == "stopped"


def test_list_says_stopped_for_a_run_that_grokked_before_its_end(root: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write_run(root, "early", 300, 500, num_epochs=1000)
    status, out, _ = run_cli(capsys, "list", "--root", str(root))
    row = list_rows(out)["early"]
    assert (row["GROKKED"], row["STATUS"], row["PHASE"]) == ("300", "stopped", "grokked")
    assert "SEED" not in row and "P" not in row  # one run: no field differs


def test_start_date_comes_from_the_first_session_and_a_hostile_file_is_not_recorded(root: Path) -> None:
    from grok_tui.run.summary import started_at

    paths = write_run(root, "dated", 300, 500)
    assert started_at(paths) is None  # no sessions.jsonl: not recorded (config.json's mtime would lie)
    paths.sessions.write_text('{"time": "2025-03-04T05:06:07Z"}\n{"time": "2026-01-01T00:00:00Z"}\n')
    assert started_at(paths) == "2025-03-04 05:06"
    for hostile in (b"\x00\xff" * 100_000, b'{"time": 5}\n', b"[1, 2]\n", b'{"time": "yesterday"}\n',
                    b"[" * 100_000 + b"\n"):
        paths.sessions.write_bytes(hostile)
        assert started_at(paths) is None


def test_compare_refuses_an_unknown_or_hostile_tag_before_opening_the_tui(runs: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for tag in ("nosuch", "../evil"):
        status, _, err = run_cli(capsys, "compare", "wd1-s0", tag, "--root", str(runs))
        assert status == 2 and err.count("\n") == 1 and "tag" in err, err
