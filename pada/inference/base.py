"""One interface for every generation backend: a batch of chats in, completions out.

Backends register by name (``eval.backend``) so users can plug in their own serving stack.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from pada.errors import PadaError
from pada.types import Completion, SamplingParams

Chat = list[dict[str, str]]


class Backend(ABC):
    def __init__(self, model_path: str, cfg: Any):
        self.model_path = model_path
        self.cfg = cfg

    @abstractmethod
    def generate(
        self, chats: list[Chat], params: SamplingParams, adapter: str | None = None
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
    import pada.inference.transformers_backend  # noqa: F401  (registers the reference backend)

    if cfg.backend not in _BACKENDS:
        raise PadaError(f"unknown eval backend '{cfg.backend}'; known: {', '.join(sorted(_BACKENDS))}")
    return _BACKENDS[cfg.backend](model_path, cfg)
