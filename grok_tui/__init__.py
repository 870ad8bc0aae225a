"""grok-tui: train, watch and plot grokking runs (Nanda et al. 2023) from the terminal."""

import os

__version__ = "0.1.0"

# Bitwise the same run at any thread count needs MKL's "strict CNR" mode on Intel CPUs: there its matrix
# products split their sums by the thread count (one and two threads gave other W_O, W_in, W_out and W_U
# gradients on a Xeon, none on an AMD EPYC). MKL reads this once, at its first product, so it is set
# here, before anything of ours imports torch; a value the user set is kept (grok_tui/experiment/numerics.py).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

# torch's OpenMP threads spin while they wait for work by default. Beside another busy process on a small
# machine, the spinning thread takes the core the working one needs: the quick run went 3-30x slower at
# two threads than at one (benchmarks/README.md, "Thread policy"). PASSIVE makes waiting threads sleep.
# It changes no result (the sums do not depend on it), only speed under load; libgomp reads it when torch
# loads, so it is set here, and a user's value is kept. Recorded per session (run/sessions.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
