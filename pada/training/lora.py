"""The LoRA wrapping of the student (PEFT), apart from the Lightning module so a check can build it cheaply."""

from __future__ import annotations

from typing import Any


def lora_config(cfg: Any):
    """PEFT's LoraConfig for ``cfg`` (trainer config)."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        use_rslora=cfg.lora.use_rslora,
        modules_to_save=list(cfg.lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )


def apply_lora(model, cfg: Any, low_cpu_mem_usage: bool = False):
    """``model`` wrapped for LoRA training; ``low_cpu_mem_usage``: adapter weights on the meta device (a
    check on a meta model, pada/training/lora_check.py)."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(cfg), low_cpu_mem_usage=low_cpu_mem_usage)
