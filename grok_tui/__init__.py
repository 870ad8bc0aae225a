"""grok-tui: train, watch and plot grokking runs (Nanda et al. 2023) from the terminal."""

__version__ = "0.1.0"
