"""The teacher LLM client shared by every augmentation method (see docs/teacher.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pada.teacher.client import Request, Teacher, TeacherCallFailed, TeacherCapReached, TeacherFailed
from pada.teacher.prompts import ROLES, Prompt, render
from pada.teacher.providers import Call, FatalTeacherError, register_script
from pada.teacher.providers.base import StructuredOutputRefused
from pada.teacher.structured import StructuredOutputError, parse_structured
from pada.teacher.usage import check_error_rate, usage_delta, usage_sum


def cache_path(cfg: Any, cache_dir: Path | str | None) -> Path | None:
    """``teacher.client.cache.path`` if set, else ``<paths.cache_dir>/teacher.sqlite`` (shared by runs)."""
    if cfg.client.cache.get("path"):
        return Path(cfg.client.cache.path).expanduser().resolve()
    return Path(cache_dir or ".cache/pada").expanduser().resolve() / "teacher.sqlite"


def build_teacher(cfg: Any, cache_dir: Path | str | None = None) -> Teacher | None:
    """The configured teacher, or None for ``provider: none``. Checks credentials before anything else."""
    if cfg is None or cfg.get("provider", "none") in (None, "none"):
        return None
    return Teacher(cfg, cache_path(cfg, cache_dir))


__all__ = [
    "ROLES",
    "Call",
    "FatalTeacherError",
    "Prompt",
    "Request",
    "StructuredOutputError",
    "StructuredOutputRefused",
    "Teacher",
    "TeacherCallFailed",
    "TeacherCapReached",
    "TeacherFailed",
    "build_teacher",
    "check_error_rate",
    "cache_path",
    "parse_structured",
    "register_script",
    "render",
    "usage_delta",
    "usage_sum",
]
