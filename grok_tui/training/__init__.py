"""Training a run: train_grokking (trainer.py) sets up or resumes a run under its lock and refuses changes to
its experiment; TrainingLoop (loop.py) runs the epochs, writing the log, checkpoints, snapshots and phase
events, and the figures at the end. The public face is grok_tui/trainer.py."""
