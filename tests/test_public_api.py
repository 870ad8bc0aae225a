"""The public face users' scripts and notebooks import (README "Architecture"): the four top-level modules
re-export the layers' own objects, and the package runs as a module the way the console script does."""

from __future__ import annotations

import subprocess
from pathlib import Path
import sys

import grok_tui.analysis
import grok_tui.config
import grok_tui.plotting
import grok_tui.trainer
from grok_tui.core import config as core_config
from grok_tui.figures import comparison, curves
from grok_tui.measures import loaded_run
from grok_tui.training import trainer as training


def test_the_public_modules_re_export_the_layers_objects() -> None:
    assert grok_tui.config.Config is core_config.Config
    assert grok_tui.config.ConfigError is core_config.ConfigError
    assert grok_tui.config.preset is core_config.preset
    assert grok_tui.trainer.train_grokking is training.train_grokking
    assert grok_tui.plotting.plot_training_curves is curves.plot_training_curves
    assert grok_tui.plotting.plot_progress_measures is curves.plot_progress_measures
    assert grok_tui.plotting.plot_comparison is comparison.plot_comparison
    assert grok_tui.analysis.load_run is loaded_run.load_run
    for module in (grok_tui.config, grok_tui.trainer, grok_tui.plotting, grok_tui.analysis):
        assert all(hasattr(module, name) for name in module.__all__), module.__name__


def test_python_dash_m_runs_the_command() -> None:
    for module in ("grok_tui", "grok_tui.cli"):
        result = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0 and result.stdout.strip() == f"grok-tui {grok_tui.__version__}", result


def test_list_and_a_plot_of_a_run_load_no_torch(tmp_path: Path) -> None:
    """`list` and `plot` read logs only: torch (~200 MB of RSS) stays unloaded, which a lazy import moved to
    the top of a module they use would silently break (tests/test_faults_load.py measures the memory)."""
    import json

    (tmp_path / "logs" / "r").mkdir(parents=True)
    record = {"epoch": 0, "train_loss": 4.7, "test_loss": 4.7, "train_acc": 0.01, "test_acc": 0.01, "lr": 0.0,
              "weight_norm": 1.0, "elapsed_s": 0.1}
    (tmp_path / "logs" / "r" / "training_log.jsonl").write_text(json.dumps(record) + "\n")
    code = ("import sys; from grok_tui.cli.main import main; status = main(sys.argv[1:]); "
            "print('torch' in sys.modules, status)")
    for argv in (["list"], ["plot", "r", "--out", str(tmp_path / "r.png")]):
        result = subprocess.run([sys.executable, "-c", code, *argv, "--root", str(tmp_path)], capture_output=True,
                                text=True, timeout=120)
        assert result.stdout.splitlines()[-1] == "False 0", (argv, result.stdout, result.stderr)
