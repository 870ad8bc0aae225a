"""Shared fixtures: tiny configs that train in milliseconds per epoch, and a run root in tmp_path."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from grok_tui.core.config import Config


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background by a non-interactive shell (`cmd &`, some CI runners) inherits SIGINT
    ignored, and so would every `grok-tui train` it starts: grok-tui keeps an ignored SIGINT, as `nohup` users
    expect, so the tests that press Ctrl-C on a trainer would wait in vain. Handled here, SIGINT reaches the
    children as it does from a terminal (exec resets a handled signal to its default, not an ignored one)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def no_end_of_run_figures(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs trained in the test process skip the automatic end-of-run PNGs (about 1 s each, over a hundred
    runs in the suite) unless the test is marked `figures`. The figures have tests of their own, and every
    `grok-tui` subprocess writes them as a user's run does."""
    if request.node.get_closest_marker("figures") is None:
        from grok_tui.training import loop as trainer

        monkeypatch.setattr(trainer, "_write_curves", lambda paths: None)


def tiny_config(**overrides: Any) -> Config:
    """A model small enough that 1,000 epochs take about a second on a laptop CPU."""
    values: dict[str, Any] = dict(tag="tiny", p=11, d_model=16, num_heads=2, frac_train=0.5,
                                  num_epochs=200, log_every=10, checkpoint_every=50, device="cpu")
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty folder to hold logs/ and models/."""
    return tmp_path
