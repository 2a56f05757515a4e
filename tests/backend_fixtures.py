"""Shared builders for the backend tests: a tiny Llama whose greedy output is varied text, and a LoRA."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from omegaconf import OmegaConf

from pada.models.tiny import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]


def tiny_cfg():
    return OmegaConf.load(ROOT / "conf" / "model" / "tiny.yaml")


def build_sharp_tiny(out: Path) -> Path:
    """The tiny model with wider random weights: its greedy output varies with the prompt.

    The stock tiny init (std 0.02) makes every prompt produce the same special token; wider weights make
    the argmax depend on the prompt, so equality tests compare real, varied token sequences.
    """
    from transformers import AutoModelForCausalLM

    base = build_tiny_model(out.parent / f"{out.name}-init", tiny_cfg())
    model = AutoModelForCausalLM.from_pretrained(base)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.copy_(torch.randn(param.shape, generator=generator) * (0.5 if "embed" in name else 0.2))
    model.save_pretrained(out)
    for f in base.iterdir():
        if f.name.startswith(("tokenizer", "chat_template", "special_tokens")):
            (out / f.name).write_bytes(f.read_bytes())
    return out


def build_lora(base: Path, out: Path) -> Path:
    """A LoRA adapter with random (non-zero) B matrices, so it really changes the output."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(2)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


def backend_cfg(**overrides):
    cfg = {
        "_target_": "pada.inference.transformers_backend.TransformersBackend",
        "batch_size": 8,
        "device": "cpu",
        "dtype": "float32",
        "progress_bar": False,
    }
    return OmegaConf.create({**cfg, **overrides})


for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)

CHATS = [
    [{"role": "user", "content": f"Tom has {i} apples and buys {2 * i + 1} more." + " Why?" * (i % 4)}]
    for i in range(10)
]
