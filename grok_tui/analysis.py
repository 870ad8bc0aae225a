"""Public face: `from grok_tui.analysis import load_run` (a run's log, config, data and model, for notebooks).

The code lives in grok_tui/measures/loaded_run.py; this module re-exports it.
Nothing inside grok_tui imports it (an import-linter contract in pyproject.toml checks that).
"""

from grok_tui.measures.loaded_run import Run, build_model, load_run, log_columns

__all__ = ["Run", "build_model", "load_run", "log_columns"]
