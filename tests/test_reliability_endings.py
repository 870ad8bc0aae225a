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


def test_list_says_diverged_for_a_run_whose_loss_stopped_being_finite(root: Path) -> None:
    """The log holds no line for a divergence (a NaN record is never written), so without the mark in
    events.json `list` called such a run `stopped`, like one killed with -9."""
    from grok_tui.run.phases import diverged_epoch
    from grok_tui.run.summary import summarize

    train_grokking(tiny_config(num_epochs=20, checkpoint_every=10), root=root)
    paths = RunPaths.of("tiny", root)
    state = torch.load(paths.checkpoint, weights_only=True)
    for slot in state["optimizer"]["state"].values():  # the next steps give non-finite weights
        slot["exp_avg"].fill_(float("inf"))
    torch.save(state, paths.checkpoint)
    with pytest.raises(TrainingError, match="not finite"):
        train_grokking(tiny_config(num_epochs=60, checkpoint_every=10), root=root)
    assert diverged_epoch(paths.events) is not None
    assert summarize(paths).status == "diverged"
    stopped = RunPaths.of("other", root)  # a run that ended short for another reason stays `stopped`
    train_grokking(tiny_config(tag="other", num_epochs=20), root=root)
    config = tiny_config(tag="other", num_epochs=40)
    config.save(stopped.config)
    assert diverged_epoch(stopped.events) is None and summarize(stopped).status == "stopped"
