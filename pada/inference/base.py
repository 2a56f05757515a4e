"""One interface for every generation backend: a batch of chats (or raw prompts) in, completions out.

An eval YAML names its backend class with ``_target_`` (imported only then, so e.g. the openai client is
not imported for a CPU run); pada/api.py has the contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pada.targets import build, target_class
from pada.types import Completion, SamplingParams

Chat = list[dict[str, str]]
# A str item is a prompt already rendered with the chat template (e.g. lm-eval's exact prompt string);
# a Chat is rendered by the backend (or its server) with the model's own template.
Prompt = Chat | str


class Backend(ABC):
    def __init__(self, model_path: str, cfg: Any):
        self.model_path = model_path
        self.cfg = cfg

    @abstractmethod
    def generate(
        self, chats: list[Prompt], params: SamplingParams, adapter: str | None = None
    ) -> list[Completion]:
        """Complete every chat, in order.

        Args:
            chats: N prompts: each a chat (list of ``{"role", "content"}`` dicts, rendered with the model's
                own template) or a str already rendered (e.g. lm-eval's exact prompt).
            params: sampling (``temperature``, ``top_p``, ``max_new_tokens``, ``stop``, ``seed``).
            adapter: a LoRA adapter dir on top of ``model_path`` (or a full model dir when training was full
                fine-tuning); None evaluates the base model.

        Returns:
            N ``Completion``s, one per chat in the same order: ``text`` (cut before the first stop string),
            ``finish_reason`` ("stop" | "length"), token counts.

        Raises:
            PadaError: the model or adapter cannot be loaded, or the server refuses it.

        Example:
            >>> backend = build_backend("/models/llama", cfg.eval)
            >>> backend.generate([[{"role": "user", "content": "2+2?"}]], SamplingParams(max_new_tokens=8))[0].text
        """

    def close(self) -> None:
        """Release what the backend holds (GPU memory, server processes)."""
        return None


def backend_class(cfg: Any) -> type[Backend]:
    """The class ``cfg._target_`` names, checked without building it (building loads the model): the
    runner and preflight call it before any stage, so a bad eval YAML never fails after training."""
    return target_class(cfg, Backend, "eval")


def build_backend(model_path: str, cfg: Any) -> Backend:
    """The backend ``cfg._target_`` names, built as ``cls(model_path, cfg)`` (pada.targets.build)."""
    return build(cfg, Backend, "eval", model_path)


def cut_at_stop(text: str, stops: tuple[str, ...] | list[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string (the stop itself is not returned, as in vLLM/OpenAI)."""
    cuts = [text.index(s) for s in stops if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)
