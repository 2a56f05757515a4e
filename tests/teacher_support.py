"""Shared helpers for the teacher tests: a teacher config from conf/teacher/ without running Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pada.teacher import Call, register_script

CONF = Path(__file__).resolve().parents[1] / "conf" / "teacher"


def teacher_cfg(name: str, tmp_path: Path, **overrides: Any) -> Any:
    """conf/teacher/<name>.yaml with the default client, a private cache and fast retries for tests."""
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    cfg.pop("defaults")
    cfg.client = OmegaConf.load(CONF / "client" / "default.yaml")
    cfg.client.cache.path = str(tmp_path / "teacher.sqlite")
    cfg.client.retry.initial_wait_s = 0.01
    cfg.client.retry.max_wait_s = 0.05
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


@register_script("test_counter")
def counter_script(call: Call) -> str:
    """Deterministic answer naming role, sample and the last user turn."""
    return f"{call.role}#{call.sample_index}: {call.messages[-1][1]}"


_BAD_THEN_GOOD: dict[str, int] = {}


@register_script("test_json_after_one_bad")
def json_after_one_bad(call: Call) -> str:
    """First attempt is prose without JSON; the re-ask (attempt 1) gets a fenced, valid answer."""
    if call.attempt == 0:
        return "Sure! The answer is probably 42."
    return 'Here you go:\n```json\n{"question": "q", "solution": "s so 42", "answer": "42"}\n```'


@register_script("test_number_answer")
def number_answer(call: Call) -> str:
    """A verdict whose string field holds a JSON number (dspy#7809)."""
    return '{"valid": true, "answer": 18, "reason": "checked"}' if call.attempt == 0 else "no JSON"


@register_script("test_never_json")
def never_json(call: Call) -> str:
    return "I refuse to answer in JSON."
