"""Public face: `from grok_tui.trainer import train_grokking` (train or resume a run, as in the paper).

The code lives in grok_tui/training/ (the set-up in trainer.py, the epochs in loop.py) and
grok_tui/experiment/evaluation.py; this module re-exports what users' scripts and notebooks call.
Nothing inside grok_tui imports it (an import-linter contract in pyproject.toml checks that).
"""

from grok_tui.experiment.evaluation import evaluate, metrics_of
from grok_tui.experiment.optimizers import make_optimizer
from grok_tui.training.loop import TrainResult
from grok_tui.training.trainer import resolve_device, train_grokking

__all__ = ["TrainResult", "evaluate", "make_optimizer", "metrics_of", "resolve_device", "train_grokking"]
