"""A run on disk: its folders (paths.py) and one-trainer lock (lock.py), the JSONL log (log.py), checkpoints
(checkpoint.py) and weight snapshots (snapshots.py), the sessions that trained it (sessions.py), its phase
events (phases.py), the time it was stopped (stopclock.py), and the summaries `list` shows (summary.py)."""
