"""How a training session ends (issue 23, minor items): the end-of-run figures clean up the temp files a killed
session left, and a divergence before the first checkpoint says so instead of "epoch None"."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from grok_tui.core.errors import TrainingError
from grok_tui.run.paths import RunPaths
from grok_tui.training.loop import TrainingLoop
from grok_tui.training.trainer import train_grokking


@pytest.mark.figures
def test_end_of_run_figures_remove_the_temp_files_of_a_killed_session(root: Path) -> None:
    paths = RunPaths.of("tiny", root)
    paths.log_dir.mkdir(parents=True)
    left = [paths.log_dir / ".training_curves.png.k1ll3d.tmp", paths.log_dir / ".progress_measures.png.abc.tmp"]
    for temp in left:
        temp.write_bytes(b"half a PNG")
    other = paths.log_dir / ".notes.txt.abc.tmp"  # not a figure's: left alone
    other.write_bytes(b"x")
    train_grokking(tiny_config(num_epochs=20), root=root)
    assert paths.curves_png.read_bytes().startswith(b"\x89PNG")
    assert not any(temp.exists() for temp in left) and other.exists()


def test_a_divergence_before_the_first_checkpoint_says_there_is_none(root: Path) -> None:
    loop = TrainingLoop(tiny_config(), RunPaths.of("tiny", root), torch.device("cpu"), None, None, None)
    with torch.no_grad():
        next(loop.model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError) as info:
        loop.record()
    assert "None" not in str(info.value) and "no checkpoint was written yet" in str(info.value)
    loop.last_checkpoint_epoch = 1200
    with pytest.raises(TrainingError, match=r"the last good checkpoint \(epoch 1,200\) is kept"):
        loop.record()
