"""Shared helpers for the training tests (no tests here): the tiny model, synthetic data, trainer configs."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from pada.models.tiny import build_tiny_model
from pada.types import Example

CONF = Path(__file__).resolve().parents[1] / "conf"

# One intra-op thread: on this 2-core machine shared by several jobs, OpenMP threads spin-wait on each other
# and a tiny-model step gets ~20x slower with 2 threads (measured 24 ms vs 490 ms per batch under load).
torch.set_num_threads(1)


@functools.cache
def tiny_model_dir() -> str:
    cfg = OmegaConf.load(CONF / "model" / "tiny.yaml")
    return str(build_tiny_model(Path(tempfile.mkdtemp(prefix="pada-train-test-")) / "tiny", cfg))


@functools.cache
def _composed(name: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("config", overrides=[f"trainer={name}"]).trainer


def trainer_cfg(name: str = "lora", **overrides):
    """A trainer config from conf/, shrunk for CPU tests: short runs, warmup and accumulation kept."""
    small = {
        "batch_size": 4,
        "grad_accum": 2,
        "max_steps": 6,
        "warmup_ratio": 0.34,
        "max_seq_len": 64,
        "ckpt_every_n_steps": None,
        "batching": "random",
    }
    cfg = OmegaConf.merge(_composed(name), small, overrides)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def arithmetic(n: int = 24, offset: int = 0) -> list[Example]:
    """Short chat examples with varied lengths (the padding and grouping tests need a spread)."""
    rows = []
    for i in range(offset, offset + n):
        a, b = 3 * i + 1, 7 * i % 13
        filler = " Think step by step." * (i % 4)
        rows.append(
            Example(
                id=f"ex{i}",
                prompt=f"What is {a} + {b}?{filler}",
                target=f"{a} + {b} = {a + b}. #### {a + b}",
                answer=str(a + b),
                source="test",
            )
        )
    return rows


def logits(model, input_ids: list[int]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([input_ids])).logits[0]


def losses(rows: list[dict]) -> list[float]:
    return [round(r["loss"], 6) for r in rows]
