"""What is trained: the task's data and split (data.py), the paper's one-layer transformer as a readable
reference model (model.py) and its exact fast engine for the last position (engine.py), evaluation in
memory-bounded chunks (evaluation.py, memory.py), the losses (losses.py), the optimizer and warmup
(optimizers.py), the gradient interventions (interventions.py) and the numerics settings (numerics.py).
Nothing here touches the disk."""
