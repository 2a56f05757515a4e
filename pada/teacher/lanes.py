"""A lane: one teacher the client asks (the default, or a route of ``teacher.routes``), with how its
answers are asked for: structured-output mode, whether prompts show their example answer, per-role
sampling, prices. ``pada.teacher.client.Teacher`` builds one per lane and sends each request through its
role's lane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pada.errors import PadaError
from pada.teacher.native import MODES
from pada.teacher.prompts import Prompt
from pada.teacher.providers import Provider

Messages = list[dict[str, str]] | Prompt


def as_tuple(messages: Messages, example_answers: bool = True) -> tuple[tuple[str, str], ...]:
    """The chat messages to send: a rendered Prompt's own, or (``example_answers`` False) its text without
    the example answer where the template shows one."""
    if isinstance(messages, Prompt) and not example_answers and messages.without_example is not None:
        return messages.without_example
    if isinstance(messages, Prompt):
        return messages.messages
    return tuple((m["role"], m["content"]) for m in messages)


def structured_mode(settings: dict[str, Any], provider: Provider) -> str:
    """``teacher.structured_output``: ``native`` (the schema in the provider's own structured-output field)
    or ``prompt`` (shown in the prompt, the answer parsed). Unset: native where the provider has a native
    form, else prompt. PadaError for an unknown mode or form, or native on a provider without one."""
    mode = settings.get("structured_output") or ("native" if provider.native_forms else "prompt")
    if mode not in MODES:
        raise PadaError(f"teacher.structured_output={mode!r} must be one of: {', '.join(MODES)}")
    if mode == "native" and not provider.native_forms:
        raise PadaError(
            f"teacher.structured_output=native: teacher '{settings['provider']}' has no native structured "
            "output; set teacher.structured_output=prompt"
        )
    form = settings.get("native_form")
    if form is not None and form not in provider.native_forms:
        raise PadaError(
            f"teacher.native_form={form!r} is not a form teacher '{settings['provider']}' sends; choose one "
            f"of: {', '.join(provider.native_forms) or '(none: use teacher.structured_output=prompt)'}"
        )
    return mode


EXAMPLE_ANSWERS = ("auto", "always", "never")


def example_answers_shown(settings: dict[str, Any], mode: str) -> bool:
    """``teacher.example_answers``: whether prompts show their filled-in example answer
    (pada/teacher/examples.py). ``auto`` (the default) shows it only in ``prompt`` mode: with ``native``
    structured output the provider's grammar or tool schema already fixes the answer's form, and a small
    teacher copies the example instead of analysing the problem (Qwen2.5-Coder-0.5B: 9 of 9 error analyses
    were the example's shop discount with it, 0 of 9 without; docs/teacher.md). PadaError for another value."""
    choice = settings.get("example_answers") or "auto"
    if choice not in EXAMPLE_ANSWERS:
        raise PadaError(f"teacher.example_answers={choice!r} must be one of: {', '.join(EXAMPLE_ANSWERS)}")
    return choice == "always" or (choice == "auto" and mode == "prompt")


@dataclass(frozen=True)
class Lane:
    """One teacher the client asks: the default, or a route of ``teacher.routes`` (pada/teacher/routes.py).
    ``identity`` ({provider, model}) is in the cache key of every request it answers."""

    name: str
    provider: Provider
    identity: dict[str, str]
    sampling: dict[str, Any]
    roles: dict[str, Any]  # per-role sampling overrides
    structured_output: str
    example_answers: bool
    pricing: dict[str, float]

    @classmethod
    def build(cls, name: str, settings: dict[str, Any], provider: Provider) -> Lane:
        mode = structured_mode(settings, provider)
        pricing = settings.get("pricing") or {}
        return cls(
            name=name,
            provider=provider,
            identity={"provider": settings["provider"], "model": provider.model_id},
            sampling=settings["sampling"],
            roles=settings.get("roles") or {},
            structured_output=mode,
            example_answers=example_answers_shown(settings, mode),
            pricing={k: float(pricing.get(k, 0.0)) for k in ("input_per_mtok", "output_per_mtok")},
        )


def max_tokens_of(lane: Lane, role: str) -> int:
    return int((lane.roles.get(role) or {}).get("max_tokens") or lane.sampling["max_tokens"])
