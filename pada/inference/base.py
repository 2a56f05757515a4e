"""One interface for every generation backend: a batch of chats (or raw prompts) in, completions out.

Backends register by name (``eval.backend``) so users can plug in their own serving stack.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from pada.errors import PadaError
from pada.types import Completion, SamplingParams

Chat = list[dict[str, str]]
# A str item is a prompt already rendered with the chat template (e.g. lm-eval's exact prompt string);
# a Chat is rendered by the backend (or its server) with the model's own template.
Prompt = Chat | str

# Built-in backends, imported on first use so that e.g. the openai client is not imported for a CPU run.
_BUILTIN = {
    "transformers": "pada.inference.transformers_backend",
    "openai": "pada.inference.openai_backend",
    "vllm": "pada.inference.vllm_backend",
}


class Backend(ABC):
    def __init__(self, model_path: str, cfg: Any):
        self.model_path = model_path
        self.cfg = cfg

    @abstractmethod
    def generate(
        self, chats: list[Prompt], params: SamplingParams, adapter: str | None = None
    ) -> list[Completion]:
        """Complete every chat; ``adapter`` is a LoRA dir (or a full model dir when training was full FT)."""

    def close(self) -> None:
        """Release what the backend holds (GPU memory, server processes)."""
        return None


_BACKENDS: dict[str, Callable[[str, Any], Backend]] = {}


def register_backend(name: str):
    def decorator(cls):
        _BACKENDS[name] = cls
        return cls

    return decorator


def build_backend(model_path: str, cfg: Any) -> Backend:
    if cfg.backend not in _BACKENDS and cfg.backend in _BUILTIN:
        importlib.import_module(_BUILTIN[cfg.backend])
    if cfg.backend not in _BACKENDS:
        known = sorted(set(_BACKENDS) | set(_BUILTIN))
        raise PadaError(f"unknown eval backend '{cfg.backend}'; known: {', '.join(known)}")
    return _BACKENDS[cfg.backend](model_path, cfg)


def cut_at_stop(text: str, stops: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string (the stop itself is not returned, as in vLLM/OpenAI)."""
    cuts = [text.index(s) for s in stops if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)
