"""A fingerprint of this machine's float kernels: which recorded bitwise fixtures can hold here.

Bitwise equality is promised for one environment (grok_tui/run/sessions.py): other CPUs run other MKL
and vector kernels, and a log recorded on an AMD EPYC differs from a Xeon's from epoch 0, in the 9th
digit. The fingerprint hashes the results of the products, reductions and float64 log-softmax of a small
transformer's step, in its shapes and both orientations, on fixed inputs, using torch alone (none of
grok-tui's code, so a change in ours never changes it). Two machines with the same fingerprint run the
same kernels on those shapes.
"""

from __future__ import annotations

import hashlib

import torch

# A p=23 model with d_model 32 and 4 heads on 264 training pairs: the fixtures' shapes.
SHAPES = [((264, 32), (32, 128)), ((264, 128), (128, 32)), ((264, 32), (32, 24)), ((32, 264), (264, 128)),
          ((128, 264), (264, 32))]


def kernel_fingerprint() -> str:
    generator = torch.Generator().manual_seed(1234)
    digest = hashlib.sha256()

    def add(tensor: torch.Tensor) -> None:
        digest.update(tensor.contiguous().numpy().tobytes())

    for left, right in SHAPES:
        a, b = torch.randn(*left, generator=generator), torch.randn(*right, generator=generator)
        add(a @ b)
        add(b.T @ a.T)
        add(a.double() @ b.double())
    heads = torch.randn(4, 8, 32, generator=generator)
    tokens = torch.randn(22, 32, generator=generator)
    add(torch.einsum("hed,td->the", heads, tokens))
    logits = torch.randn(264, 23, generator=generator).double() * 30
    add(logits.log_softmax(dim=-1))
    add(torch.relu(tokens).sum(dim=0))
    add(logits.exp().sum())
    return digest.hexdigest()[:16]
