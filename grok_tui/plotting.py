"""Public face: `from grok_tui.plotting import plot_training_curves` (and the other figures from run logs).

The code lives in grok_tui/figures/ (curves.py: a run's curves and progress measures; comparison.py:
several runs); this module re-exports what users' scripts and notebooks call.
Nothing inside grok_tui imports it (an import-linter contract in pyproject.toml checks that).
"""

from grok_tui.figures.comparison import comparison_figure, plot_comparison
from grok_tui.figures.curves import (export_run, measures_figure, plot_progress_measures, plot_training_curves,
                                     training_figure)

__all__ = ["comparison_figure", "export_run", "measures_figure", "plot_comparison", "plot_progress_measures",
           "plot_training_curves", "training_figure"]
