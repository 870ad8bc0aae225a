"""grok-tui: train, watch and plot grokking runs (Nanda et al. 2023) from the terminal."""

import os

__version__ = "0.1.0"

# Bitwise the same run at any thread count needs MKL's "strict CNR" mode on Intel CPUs: there its matrix
# products split their sums by the thread count (one and two threads gave other W_O, W_in, W_out and W_U
# gradients on a Xeon, none on an AMD EPYC). MKL reads this once, at its first product, so it is set
# here, before anything of ours imports torch; a value the user set is kept (grok_tui/experiment/numerics.py).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
