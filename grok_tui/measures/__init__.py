"""Reading a model's progress from its weights: the paper's progress measures during training
(progress_measures.py) and over snapshots afterwards (offline.py), a run loaded for analysis
(loaded_run.py), and its weights exported for TransformerLens, torch or numpy (export.py). Reads runs,
never changes them."""
