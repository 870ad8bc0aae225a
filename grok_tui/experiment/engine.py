"""The exact fast path: SimpleTransformer's last-position logits, without the work nobody reads.

Only the logits at the '=' position (position 2) enter the loss and the accuracy, and the model has one
layer, so (Nanda et al. 2023 use this same structure in their analysis):
  * the '=' residual x2 = W_E[p] + W_pos[2] is the same for every input: computed once;
  * its query q2 is a constant, and the keys and values at positions 0 and 1 depend only on the token
    there, so the attention scores and values come from per-token tables of shape [p, ...],
    built from the parameters at every step (cheap: p rows, not batch * 3 rows);
  * the MLP and unembedding run on one position instead of three.
The result is the same function of the same parameters, so logits and gradients equal the reference
model's up to float rounding (tests/test_engine.py checks every operation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grok_tui.experiment.model import SimpleTransformer


def last_position_logits(model: SimpleTransformer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a, b: [batch] int64 tokens (the inputs `a b =`) -> logits at '=' [batch, d_vocab]."""
    return last_position_residual(model, a, b) @ model.W_U  # [batch, d_vocab]


def last_position_residual(model: SimpleTransformer, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The residual stream at '=' after the layer, before the unembedding: [batch, d_model]. Kept by a
    log point at large p so that the logits can be rebuilt a block of classes at a time (the progress
    measures), instead of holding all p^2 x (p+1) of them."""
    equals = model.W_E.shape[1] - 1  # '=' is the last token id (p)
    W_E = model.W_E.T  # [d_vocab, d_model]
    x2 = W_E[equals] + model.W_pos[2]  # [d_model], the same for every input
    x0 = W_E[:equals] + model.W_pos[0]  # [p, d_model]: every token that can sit at position 0
    x1 = W_E[:equals] + model.W_pos[1]  # [p, d_model]: ... and at position 1

    q2 = torch.einsum("hed,d->he", model.W_Q, x2)  # [head, d_head]
    scale = 1 / math.sqrt(model.d_head)
    # Scores of the '=' query against each possible key, per head.
    score0 = torch.einsum("hed,td,he->th", model.W_K, x0, q2) * scale  # [p, head]
    score1 = torch.einsum("hed,td,he->th", model.W_K, x1, q2) * scale  # [p, head]
    score2 = torch.einsum("hed,d,he->h", model.W_K, x2, q2) * scale  # [head]
    V0 = torch.einsum("hed,td->the", model.W_V, x0)  # [p, head, d_head]
    V1 = torch.einsum("hed,td->the", model.W_V, x1)  # [p, head, d_head]
    V2 = torch.einsum("hed,d->he", model.W_V, x2)  # [head, d_head]

    # index_select, not table[a]: the backward of advanced indexing (index_put_ with accumulate) adds rows
    # in an order that depends on thread timing on the CPU, so two runs of one seed drifted apart from the
    # first step. index_select's backward (index_add_) adds the rows serially: the same bits every time.
    scores = torch.stack([score0.index_select(0, a), score1.index_select(0, b),
                          score2.expand(a.shape[0], -1)], dim=-1)  # [batch, head, 3]
    pattern = scores.softmax(dim=-1)[..., None]  # [batch, head, 3, 1]
    # Elementwise products, not batched matmuls: a [head, 3] x [3, d_head] matmul per input is all overhead.
    z = (pattern[:, :, 0] * V0.index_select(0, a) + pattern[:, :, 1] * V1.index_select(0, b)
         + pattern[:, :, 2] * V2)  # [batch, head, d_head]
    attn_out = z.flatten(1) @ model.W_O.T  # [batch, d_model], heads concatenated as in the reference
    resid = x2 + attn_out  # [batch, d_model]
    hidden = F.relu(resid @ model.W_in.T + model.b_in)  # [batch, d_mlp]
    return resid + hidden @ model.W_out.T + model.b_out  # [batch, d_model]
