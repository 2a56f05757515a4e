"""A test double: answers come from a Python callable registered by name, deterministically, with no network.

It goes through the same client as the real providers (cache, retries, accounting, schema parsing), so tests
and the offline simulation exercise the real machinery. Register a script with ``@register_script("name")``
and choose it with ``teacher=scripted teacher.model=<name>`` (``teacher.script_module`` imports your module).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.io import sha256_file, stable_hash
from pada.teacher.providers.base import Call, Provider
from pada.types import Completion

Script = Callable[[Call], str]
_SCRIPTS: dict[str, Script] = {}


def register_script(name: str):
    def decorator(fn: Script) -> Script:
        _SCRIPTS[name] = fn
        return fn

    return decorator


def _tokens(text: str) -> int:
    return len(text.split())  # a stand-in count: deterministic and good enough for accounting tests


class Scripted(Provider):
    name = "scripted"

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.script = self.resolve(cfg)
        # Script options (e.g. the simulation's declared noise) change answers: they join the cache identity.
        self.options = self.script_options(cfg)
        self.calls = 0  # how many answers were produced (i.e. cache misses that reached the "network")
        # a fixture table's text decides every answer: its hash joins the cache key, so an edit is not
        # answered from the cache of the old text
        self.fixture = Path(cfg.fixture) if cfg.model == "fixture" else None
        self.fixture_digest = sha256_file(self.fixture)[:12] if self.fixture else None
        self.dependency_files = (self.fixture,) if self.fixture else ()

    @staticmethod
    def resolve(cfg: Any) -> Script:
        if cfg.get("script_module"):
            importlib.import_module(cfg.script_module)
        if cfg.model == "fixture":
            return _fixture_script(cfg.get("fixture"))
        if cfg.model not in _SCRIPTS:
            known = ", ".join(sorted([*_SCRIPTS, "fixture"]))
            raise PadaError(
                f"unknown scripted teacher '{cfg.model}'; known: {known} "
                "(register one with pada.teacher.register_script and set teacher.script_module)"
            )
        return _SCRIPTS[cfg.model]

    @property
    def model_id(self) -> str:
        base = super().model_id
        if self.fixture:
            base = f"{base}+{self.fixture_digest}"
        return f"{base}+{stable_hash(self.options)[:12]}" if self.options else base

    @staticmethod
    def script_options(cfg: Any) -> dict[str, Any]:
        """``teacher.script_options`` as a plain dict (the script's keyword arguments)."""
        options = cfg.get("script_options")
        return dict(
            OmegaConf.to_container(options, resolve=True) if OmegaConf.is_config(options) else options or {}
        )

    @classmethod
    def check_credentials(cls, cfg: Any) -> None:
        script = cls.resolve(cfg)  # an unknown script is a config error worth reporting before any work
        if check := getattr(script, "check_options", None):  # so are bad options, where a script checks them
            check(**cls.script_options(cfg))

    async def complete(self, call: Call) -> Completion:
        self.calls += 1
        text = self.script(call, **self.options) if self.options else self.script(call)
        prompt = " ".join(content for _, content in call.messages)
        length = _tokens(text) >= call.params.max_new_tokens
        return Completion(text, _tokens(prompt), _tokens(text), "length" if length else "stop")


@register_script("echo")
def echo(call: Call) -> str:
    """Returns the last user turn: the smallest script that shows the plumbing works."""
    return call.messages[-1][1]


def _fixture_script(path: str | None) -> Script:
    """A fixture table: JSON ``{role: [answer, ...]}``; sample i of a role gets answer i mod len."""
    if not path or not Path(path).is_file():
        raise PadaError(f"scripted teacher 'fixture' needs teacher.fixture=<json file>; got {path!r}")
    table = json.loads(Path(path).read_text(encoding="utf-8"))

    def answer(call: Call) -> str:
        if call.role not in table:
            raise PadaError(f"fixture {path} has no answers for role '{call.role}'")
        answers = table[call.role]
        return answers[(call.sample_index + call.attempt) % len(answers)]

    return answer
