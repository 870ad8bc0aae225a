"""Smaller CLI items of issue 16 (item 10).

- Read-only commands (list, plot, compare, watch) never create a missing --root.
- A tag that starts with '-' is named after '--' (`grok-tui plot -- -x`, `grok-tui watch -- -x`) and given
  to train as `--tag=-x`; forgetting the '--' is one line that says so.
- PYTHONIOENCODING=ascii with a root named with non-ASCII letters prints backslash escapes, never a
  traceback (train, list and plot, in one subprocess).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_config
from grok_tui.cli.main import build_parser, main
from grok_tui.training.trainer import train_grokking

TINY_FLAGS = ["--p", "11", "--d-model", "16", "--num-heads", "2", "--frac-train", "0.5", "--num-epochs", "5",
              "--log-every", "5", "--measure-every", "0", "--device", "cpu"]


@pytest.mark.parametrize("command", [["list"], ["plot", "x"], ["compare", "x", "y"], ["watch", "x"],
                                     ["plot", "x", "--out", "fig.png"]])
def test_read_only_commands_do_not_create_a_missing_root(tmp_path: Path, command: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "missing" / "deep"
    status = main([*command, "--root", str(root)])
    assert status in (0, 2)
    assert not (tmp_path / "missing").exists()
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 1


def test_a_tag_starting_with_a_dash_is_named_after_double_dash(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--tag=-x", "--root", str(tmp_path), *TINY_FLAGS]) == 0
    assert (tmp_path / "logs" / "-x" / "config.json").exists()
    capsys.readouterr()
    assert main(["plot", "--root", str(tmp_path), "--", "-x"]) == 0
    assert (tmp_path / "logs" / "-x" / "training_curves.png").read_bytes().startswith(b"\x89PNG")
    assert build_parser().parse_args(["watch", "--root", str(tmp_path), "--", "-x"]).tag == "-x"
    capsys.readouterr()
    assert main(["plot", "--root", str(tmp_path), "-x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "goes after '--'" in err[0] and "grok-tui plot -- -x" in err[0], err


def test_ascii_output_with_a_unicode_root_is_not_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "r\u00fcns-\u03bb"
    script = (
        "import sys\nfrom grok_tui.cli import main\n"
        f"codes = [main(['train', '--tag', 't', '--root', {str(root)!r}, *{TINY_FLAGS!r}]),\n"
        f"         main(['list', '--root', {str(root)!r}]), main(['plot', 't', '--root', {str(root)!r}]),\n"
        f"         main(['plot', 'nope', '--root', {str(root)!r}])]\n"
        "print(codes)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**_env(), "PYTHONIOENCODING": "ascii"})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[0, 0, 0, 2]", done.stdout
    assert "r\\xfcns-\\u03bb" in done.stdout  # the root, escaped
    assert (root / "logs" / "t" / "training_curves.png").exists()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_train_api_with_the_tiny_flags_matches(tmp_path: Path) -> None:
    """TINY_FLAGS above are the test config (so the CLI runs above stay as fast as the API ones)."""
    config = tiny_config(tag="t", num_epochs=5, log_every=5, measure_every=0)
    train_grokking(config, root=tmp_path)
    assert main(["train", "--tag", "t", "--root", str(tmp_path), *TINY_FLAGS]) == 0  # same experiment: resumes
