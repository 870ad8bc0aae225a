"""The paper's one-layer transformer, written to be read: the ground truth for every faster path.

Nanda et al. 2023 (arXiv 2301.05217), section 3 and the released code:
  x = W_E[tok] + W_pos[pos]                      token and position embeddings, untied from W_U
  x = x + Attn(x)                                causal, scores scaled by 1/sqrt(d_head), no biases
  x = x + MLP(x)                                 ReLU, with biases b_in and b_out
  logits = x @ W_U                               no LayerNorm anywhere
Parameter shapes and creation order follow the released code, so torch.manual_seed(s) gives the same
initial weights: every weight ~ randn / sqrt(d_model) except W_U ~ randn / sqrt(d_vocab); biases zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from grok_tui.core.config import Config

N_CTX = 3  # a, b, '='


def _randn(*shape: int, scale: float) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) / math.sqrt(scale))


class SimpleTransformer(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        d_model, d_vocab, d_mlp = config.d_model, config.d_vocab, config.mlp_width
        self.num_heads, self.d_head = config.num_heads, config.d_head
        # Creation order matters: it fixes which random numbers each weight gets from the seed.
        self.W_E = _randn(d_model, d_vocab, scale=d_model)  # [d_model, d_vocab]
        self.W_pos = _randn(N_CTX, d_model, scale=d_model)  # [pos, d_model]
        self.W_K = _randn(self.num_heads, self.d_head, d_model, scale=d_model)  # [head, d_head, d_model]
        self.W_Q = _randn(self.num_heads, self.d_head, d_model, scale=d_model)  # [head, d_head, d_model]
        self.W_V = _randn(self.num_heads, self.d_head, d_model, scale=d_model)  # [head, d_head, d_model]
        self.W_O = _randn(d_model, self.num_heads * self.d_head, scale=d_model)  # [d_model, head*d_head]
        self.W_in = _randn(d_mlp, d_model, scale=d_model)  # [d_mlp, d_model]
        self.b_in = nn.Parameter(torch.zeros(d_mlp))  # [d_mlp]
        self.W_out = _randn(d_model, d_mlp, scale=d_model)  # [d_model, d_mlp]
        self.b_out = nn.Parameter(torch.zeros(d_model))  # [d_model]
        self.W_U = _randn(d_model, d_vocab, scale=d_vocab)  # [d_model, d_vocab]
        causal = torch.tril(torch.ones(N_CTX, N_CTX, dtype=torch.bool))  # [query, key]
        self.causal_mask: torch.Tensor
        self.register_buffer("causal_mask", causal, persistent=False)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, pos, d_model] -> attention output [batch, pos, d_model]."""
        q = torch.einsum("hed,bpd->bhpe", self.W_Q, x)  # [batch, head, pos, d_head]
        k = torch.einsum("hed,bpd->bhpe", self.W_K, x)  # [batch, head, pos, d_head]
        v = torch.einsum("hed,bpd->bhpe", self.W_V, x)  # [batch, head, pos, d_head]
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # [batch, head, query, key]
        n = x.shape[1]
        scores = scores.masked_fill(~self.causal_mask[:n, :n], float("-inf"))
        pattern = scores.softmax(dim=-1)  # [batch, head, query, key]
        z = pattern @ v  # [batch, head, pos, d_head]
        z = z.transpose(1, 2).reshape(x.shape[0], n, -1)  # [batch, pos, head*d_head], heads concatenated
        return z @ self.W_O.T  # [batch, pos, d_model]

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, pos, d_model] -> MLP output [batch, pos, d_model]."""
        hidden = F.relu(x @ self.W_in.T + self.b_in)  # [batch, pos, d_mlp]
        return hidden @ self.W_out.T + self.b_out  # [batch, pos, d_model]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [batch, pos] int64 -> logits [batch, pos, d_vocab]."""
        n = tokens.shape[1]
        # F.embedding, not W_E.T[tokens]: its backward adds rows in a fixed order (indexing's does not on a CPU).
        x = F.embedding(tokens, self.W_E.T) + self.W_pos[:n]  # [batch, pos, d_model]
        x = x + self.attention(x)
        x = x + self.mlp(x)
        return x @ self.W_U  # [batch, pos, d_vocab]


def float64_device(device: torch.device) -> torch.device:
    """Where float64 math runs for tensors on `device`: the same device, except Apple's MPS, which has
    no float64 at all; its (small) float64 work goes to the CPU, and autograd follows the copy."""
    return torch.device("cpu") if device.type == "mps" else device


def to_float64(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(float64_device(tensor.device), torch.float64)


def cross_entropy_float64(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy with log-softmax in float64.

    logits: [batch, d_vocab], labels: [batch]. float32 log-softmax rounds the correct class's
    log-probability to exactly 0 once the loss is tiny; the gradient then vanishes unevenly and the
    loss spikes (the paper's code meant float64 here but casts to float32).
    """
    logprobs = F.log_softmax(to_float64(logits), dim=-1)  # [batch, d_vocab]
    return -logprobs.gather(-1, labels.to(logprobs.device)[:, None]).mean()


# torch's CPU reductions split a tensor of more than this many elements across threads, so its sum's
# rounding depended on the thread count (W_in and W_out at the paper's widths: 65,536 elements). Summed in
# pieces of at most this size, in order, each piece runs on one thread: the same bits at any thread count,
# and for smaller tensors exactly the one sum as before.
REDUCTION_GRAIN = 32768


def _sum_of_squares(param: torch.Tensor) -> torch.Tensor:
    """A parameter's sum of squares in float64, the same bits at any thread count (a 0-dim tensor)."""
    flat = to_float64(param).reshape(-1)
    pieces = [(piece ** 2).sum() for piece in flat.split(REDUCTION_GRAIN)]
    total = pieces[0]
    for piece in pieces[1:]:
        total = total + piece
    return total


def squared_norms(model: nn.Module) -> dict[str, float]:
    """Each parameter tensor's sum of squares, by name (float64)."""
    with torch.no_grad():
        return {name: float(_sum_of_squares(param)) for name, param in model.named_parameters()}


def sum_squared_weights(model: nn.Module) -> float:
    """The paper's weight-norm measure: sum of squares of every parameter."""
    with torch.no_grad():
        return float(sum(_sum_of_squares(param) for param in model.parameters()))
