"""Model FLOPs per training token, for tokens/s -> MFU (Chinchilla/PaLM accounting, no recompute).

A dense matmul costs 2 FLOPs per weight per token forward, 2 more for the input gradient and 2 more for the
weight gradient. So:
- full fine-tuning: 6·N per token;
- LoRA (frozen base): 4·N for the base (no weight gradients) + 6·N_lora for the adapters;
- attention scores and values (no weights) add 12·L·d·T per token for a sequence of length T (forward
  4·L·d·T, backward twice that; causal masking's halving is ignored, as in PaLM's MFU).
N counts matmul weights: every parameter except the input embedding, plus the LM head even when tied.
Gradient checkpointing recomputes the forward (+2·N) but that is hardware work, not model FLOPs: MFU
deliberately excludes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FlopModel:
    frozen: int  # matmul weights that get no gradient
    trained: int  # matmul weights that do
    layers: int
    hidden: int

    def batch_flops(self, seq_lens: torch.Tensor) -> float:
        tokens = float(seq_lens.sum())
        squares = float((seq_lens.double() ** 2).sum())
        return (4 * self.frozen + 6 * self.trained) * tokens + 12 * self.layers * self.hidden * squares


def flop_model(model: torch.nn.Module) -> FlopModel:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    embedding = base.get_input_embeddings().weight
    head = base.get_output_embeddings().weight
    frozen = trained = 0
    for param in model.parameters():
        if param is embedding:
            continue
        if param.requires_grad:
            trained += param.numel()
        else:
            frozen += param.numel()
    if head is embedding:  # tied: the LM head is still a matmul
        trained, frozen = (
            (trained + head.numel(), frozen) if head.requires_grad else (trained, frozen + head.numel())
        )
    config = base.config
    return FlopModel(frozen, trained, config.num_hidden_layers, config.hidden_size)


def mfu(flops: float, seconds: float, peak_flops: float | None) -> float | None:
    """Achieved model FLOP/s over the accelerator's peak; None where no peak is configured (CPU)."""
    if not peak_flops or seconds <= 0:
        return None
    return flops / seconds / peak_flops
