"""The public face users' scripts and notebooks import (README "Architecture"): the four top-level modules
re-export the layers' own objects, and the package runs as a module the way the console script does."""

from __future__ import annotations

import subprocess
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
