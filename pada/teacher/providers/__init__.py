"""Teacher providers by config name; ``teacher.provider`` picks one."""

from __future__ import annotations

from typing import Any

from pada.errors import PadaError
from pada.teacher.providers.base import Call, FatalTeacherError, Provider, RequestRejected, TransientError
from pada.teacher.providers.scripted import register_script


def provider_class(name: str) -> type[Provider]:
    # Imported on demand: each SDK is only loaded by runs that use it.
    if name == "openai":
        from pada.teacher.providers.openai_compat import OpenAICompatible as cls
    elif name == "anthropic":
        from pada.teacher.providers.anthropic_messages import AnthropicMessages as cls
    elif name == "bedrock_claude":
        from pada.teacher.providers.anthropic_messages import AnthropicBedrock as cls
    elif name == "bedrock_converse":
        from pada.teacher.providers.bedrock_converse import BedrockConverse as cls
    elif name == "scripted":
        from pada.teacher.providers.scripted import Scripted as cls
    else:
        known = "openai, anthropic, bedrock_claude, bedrock_converse, scripted, none"
        raise PadaError(f"unknown teacher.provider '{name}'; choose one of: {known}")
    return cls


def build_provider(cfg: Any) -> Provider:
    cls = provider_class(cfg.provider)
    cls.check_credentials(cfg)
    return cls(cfg)


__all__ = [
    "Call",
    "FatalTeacherError",
    "Provider",
    "RequestRejected",
    "TransientError",
    "build_provider",
    "register_script",
]
