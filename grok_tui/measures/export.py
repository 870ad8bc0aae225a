"""A run's weights (its checkpoint or a snapshot) in three formats, for analysis elsewhere.

  transformerlens  torch.save({"config": HookedTransformerConfig keyword arguments,
                               "state_dict": HookedTransformer state dict})
                   for transformer-lens 2.x / 3.x (4.0 removed HookedTransformer). Load it with
                       exported = torch.load(FILE, weights_only=True)
                       model = HookedTransformer(HookedTransformerConfig(**exported["config"]))
                       model.load_state_dict({**model.state_dict(), **exported["state_dict"]})
                   (over the model's own state dict: its buffers, which differ between versions, stay).
                   Not load_and_process_state_dict: its defaults fold and centre the weights, which changes
                   W_E, W_U and the biases this export sets to zero.
  state-dict       torch.save({"config": Config.to_dict(), "epoch": E, "state_dict": SimpleTransformer's})
  npz              numpy arrays named and shaped as in the paper's released code (W_E [d_model, d_vocab],
                   W_pos, W_Q/W_K/W_V [head, d_head, d_model], W_O [d_model, head*d_head], W_in, b_in,
                   W_out, b_out, W_U [d_model, d_vocab]), plus `epoch` and `config_json`; np.load(FILE) needs
                   no pickle.

The mapping to TransformerLens (Nanda et al. 2023 analysed this model with it): TL keeps weights as
[in, out] for right-multiplication where grok-tui (like the released code) keeps [out, in], splits W_O by
head, and has biases everywhere; the paper's model has none in attention and unembedding, so they are zero.
Names and shapes are those of transformer-lens 3.9.0 (REFERENCE.md section 6). Every write is atomic.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from grok_tui.core.atomic import atomic_write_with
from grok_tui.core.config import Config

if TYPE_CHECKING:
    import torch

# The formats written here. The command line builds its parser from this tuple for every command, so this
# module imports torch and numpy inside the writers only: `list` and `plot` stay light.
FORMATS = ("transformerlens", "state-dict", "npz")


def transformerlens_config(config: Config) -> dict[str, Any]:
    """Keyword arguments of HookedTransformerConfig for this run's model."""
    from grok_tui.experiment.model import N_CTX

    return {
        "n_layers": 1, "d_model": config.d_model, "n_ctx": N_CTX, "d_head": config.d_head,
        "n_heads": config.num_heads, "d_mlp": config.mlp_width, "d_vocab": config.d_vocab,
        "d_vocab_out": config.d_vocab,  # the '=' class stays in the output, as in the paper's code
        "act_fn": "relu", "normalization_type": None, "positional_embedding_type": "standard",
        "attention_dir": "causal", "use_attn_scale": True,  # scores / sqrt(d_head), as the paper
    }


def transformerlens_state_dict(weights: dict[str, torch.Tensor], config: Config) -> dict[str, torch.Tensor]:
    """SimpleTransformer's weights as HookedTransformer's parameters (buffers left to the model)."""
    import torch

    heads, d_head, d_model = config.num_heads, config.d_head, config.d_model
    w = {name: tensor.detach().to("cpu", torch.float32) for name, tensor in weights.items()}

    def per_head_in(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.transpose(1, 2).contiguous()  # [head, d_head, d_model] -> [head, d_model, d_head]

    zeros = torch.zeros
    return {
        "embed.W_E": w["W_E"].T.contiguous(),  # [d_vocab, d_model]
        "pos_embed.W_pos": w["W_pos"].clone(),  # [n_ctx, d_model]
        "blocks.0.attn.W_Q": per_head_in(w["W_Q"]), "blocks.0.attn.b_Q": zeros(heads, d_head),
        "blocks.0.attn.W_K": per_head_in(w["W_K"]), "blocks.0.attn.b_K": zeros(heads, d_head),
        "blocks.0.attn.W_V": per_head_in(w["W_V"]), "blocks.0.attn.b_V": zeros(heads, d_head),
        # z (heads concatenated, head-major) @ W_O.T  ==  sum over heads of z_h @ W_O.T[h*d_head:(h+1)*d_head]
        "blocks.0.attn.W_O": w["W_O"].T.reshape(heads, d_head, d_model).contiguous(),  # [head, d_head, d_model]
        "blocks.0.attn.b_O": zeros(d_model),
        "blocks.0.mlp.W_in": w["W_in"].T.contiguous(), "blocks.0.mlp.b_in": w["b_in"].clone(),  # [d_model, d_mlp]
        "blocks.0.mlp.W_out": w["W_out"].T.contiguous(), "blocks.0.mlp.b_out": w["b_out"].clone(),  # [d_mlp, d_model]
        "unembed.W_U": w["W_U"].clone(), "unembed.b_U": zeros(config.d_vocab),  # [d_model, d_vocab]
    }


def _torch_writer(payload: dict[str, Any]) -> Callable[[BinaryIO], None]:
    import torch

    return lambda handle: torch.save(payload, handle)


def _npz_writer(weights: dict[str, torch.Tensor], config: Config, epoch: int) -> Callable[[BinaryIO], None]:
    import numpy as np
    import torch

    arrays = {name: tensor.detach().to("cpu", torch.float32).numpy() for name, tensor in weights.items()}
    arrays["epoch"] = np.array(epoch, dtype=np.int64)
    arrays["config_json"] = np.array(json.dumps(config.to_dict()))  # a str array: loads without pickle

    def write(handle: BinaryIO) -> None:
        buffer = io.BytesIO()  # savez seeks in its file; the atomic temp file gets the finished bytes
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        handle.write(buffer.getvalue())

    return write


def export_weights(weights: dict[str, torch.Tensor], config: Config, epoch: int, fmt: str, out: Path) -> Path:
    """Write `weights` (SimpleTransformer's state dict for `config`) to `out` in `fmt`, atomically."""
    import torch

    if fmt == "transformerlens":
        write = _torch_writer({"config": transformerlens_config(config),
                               "state_dict": transformerlens_state_dict(weights, config)})
    elif fmt == "state-dict":
        write = _torch_writer({"config": config.to_dict(), "epoch": epoch,
                               "state_dict": {k: v.detach().to("cpu", torch.float32) for k, v in weights.items()}})
    elif fmt == "npz":
        write = _npz_writer(weights, config, epoch)
    else:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)} (got {fmt!r})")
    atomic_write_with(out, write)
    return out
