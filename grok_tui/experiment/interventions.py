"""Gradient interventions from the later literature, applied between backward and the AdamW step.

* Grokfast (Lee et al. 2024, arXiv 2405.20233) amplifies the slow part of each parameter's gradient:
  - EMA: mu = alpha * mu + (1 - alpha) * g (mu starts as the first gradient), then g = g + lamb * mu;
  - MA: keep the last `window` gradients; once the window is full, g = g + lamb * mean(window).
  The filter's state (mu, or the window) is part of the checkpoint, so a resumed run stays exact.
* ⊥Grad (Prieto et al. 2025, arXiv 2501.04697): per parameter tensor w with gradient g (flattened),
  g_perp = g - (w.g) / (w.w + 1e-30) * w, rescaled to the norm of g: the step no longer grows the
  weights along themselves (the "naive loss minimization" direction), only turns them.

The order, when several are on: Grokfast filters the gradient, ⊥Grad projects the filtered gradient,
then AdamW steps, as ⊥Grad is defined as a change of the optimizer's input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from grok_tui.core.config import Config

ORTHO_EPS = 1e-30  # Prieto et al.'s guard against w = 0 and g_perp = 0


class GradientFilter:
    """A Grokfast filter over a model's parameters (in their order); `apply` edits the .grad in place."""

    kind = "none"

    def apply(self, params: list[nn.Parameter]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


class GrokfastEMA(GradientFilter):
    kind = "ema"

    def __init__(self, alpha: float, lamb: float):
        self.alpha, self.lamb = alpha, lamb
        self.mu: list[torch.Tensor] | None = None  # one per parameter, None before the first step

    @torch.no_grad()
    def apply(self, params: list[nn.Parameter]) -> None:
        grads = [_grad(p) for p in params]
        if self.mu is None:
            self.mu = [g.clone() for g in grads]  # mu starts as the first gradient ...
        for mu, g in zip(self.mu, grads):
            mu.mul_(self.alpha).add_(g * (1 - self.alpha))  # ... and is updated as every later one
            g.add_(mu * self.lamb)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mu": None if self.mu is None else [m.clone() for m in self.mu]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mu = None if state["mu"] is None else [m.clone() for m in state["mu"]]


class GrokfastMA(GradientFilter):
    """The last `window` gradients of each parameter in a ring ([window, *shape]): window x the model's
    parameters in memory (and in the checkpoint), 100 x 0.9 MB = 91 MB at the paper's defaults."""

    kind = "ma"

    def __init__(self, window: int, lamb: float):
        self.window, self.lamb = window, lamb
        self.ring: list[torch.Tensor] | None = None
        self.count = 0  # gradients seen; the next one goes to slot count % window

    @torch.no_grad()
    def apply(self, params: list[nn.Parameter]) -> None:
        grads = [_grad(p) for p in params]
        if self.ring is None:
            self.ring = [torch.zeros((self.window, *g.shape), dtype=g.dtype, device=g.device) for g in grads]
        slot = self.count % self.window
        for ring, g in zip(self.ring, grads):
            ring[slot] = g
        self.count += 1
        if self.count >= self.window:  # the window is full
            for ring, g in zip(self.ring, grads):
                g.add_(ring.mean(dim=0) * self.lamb)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count,
                "ring": None if self.ring is None else [r.clone() for r in self.ring]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state["count"])
        self.ring = None if state["ring"] is None else [r.clone() for r in state["ring"]]


def _grad(param: nn.Parameter) -> torch.Tensor:
    if param.grad is None:
        raise RuntimeError("a gradient intervention ran before backward")
    return param.grad


def make_filter(config: Config) -> GradientFilter | None:
    if config.grokfast == "ema":
        return GrokfastEMA(config.grokfast_alpha, config.grokfast_strength)
    if config.grokfast == "ma":
        return GrokfastMA(config.grokfast_window, config.grokfast_strength)
    return None


@torch.no_grad()
def orthogonalize_gradients(params: list[nn.Parameter]) -> None:
    """⊥Grad: replace each parameter's gradient by its part orthogonal to the weights, at g's norm."""
    for param in params:
        g = _grad(param)
        w, flat = param.detach().reshape(-1), g.reshape(-1)
        g_perp = flat - torch.dot(w, flat) / (torch.dot(w, w) + ORTHO_EPS) * w
        g.copy_((g_perp * (flat.norm() / (g_perp.norm() + ORTHO_EPS))).view_as(g))


def filter_state_problem(state: Any, config: Config, shapes: list[tuple[int, ...]], epoch: int) -> str | None:
    """What is wrong with a checkpoint's Grokfast state for `config`, or None (a hostile file is refused
    before anything is loaded: the state's tensors are copied into the filter as they are)."""
    if config.grokfast == "none":
        return None if state is None else "it has a Grokfast state but the run has grokfast none"
    if not isinstance(state, dict) or state.get("kind") != config.grokfast:
        return f"its Grokfast state is not a {config.grokfast} filter's"
    if config.grokfast == "ema":
        tensors, lead = state.get("mu", 0), ()  # type: tuple[Any, tuple[int, ...]]
        if tensors is None:
            return None if epoch == 0 else f"its Grokfast EMA is empty at epoch {epoch}"
    else:
        count = state.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count != epoch:
            return f"its Grokfast window count is {count!r}, expected the checkpoint's epoch {epoch}"
        tensors, lead = state.get("ring", 0), (config.grokfast_window,)
        if tensors is None:
            return None if epoch == 0 else f"its Grokfast window is empty at epoch {epoch}"
    if not isinstance(tensors, list) or len(tensors) != len(shapes) or not all(
            isinstance(t, torch.Tensor) and t.dtype == torch.float32 and tuple(t.shape) == (*lead, *shape)
            for t, shape in zip(tensors, shapes)):
        return "its Grokfast state does not match the model's weights"
    return None
