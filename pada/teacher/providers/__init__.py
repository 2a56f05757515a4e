"""Teacher providers: a teacher YAML names its class with ``_target_`` (the contract: pada/api.py).

``teacher.provider`` stays a label: the cache key and messages name it, and ``none`` means no teacher.
"""

from __future__ import annotations

from typing import Any

from pada.targets import target_class
from pada.teacher.providers.base import Call, FatalTeacherError, Provider, RequestRejected, TransientError
from pada.teacher.providers.scripted import register_script


def provider_class(cfg: Any) -> type[Provider]:
    """The provider class ``cfg._target_`` names (imported only then: each SDK is loaded only by runs that
    use it); PadaError (one line) when it is missing, not importable or not a Provider (pada.targets)."""
    return target_class(cfg, Provider, "teacher")


def build_provider(cfg: Any) -> Provider:
    """The teacher's provider: credentials checked (without a network call), then ``cls(cfg)``."""
    cls = provider_class(cfg)
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
