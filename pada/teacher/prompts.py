"""Versioned prompt templates: ``pada/prompts/<role>.<version>.j2`` with ``system`` and ``user`` blocks.

A template's text never changes once a run has used it: edit by adding ``<role>.v2.j2`` (tests/docs/test_versions.py
pins each template's hash). The version travels with the rendered messages into the cache key, so answers to
different prompt versions never mix; each stage's done marker keeps the hash of every template it rendered, so
an edited template re-runs the stages that used it (pada/dependencies.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from pada import dependencies
from pada.errors import PadaError
from pada.teacher.examples import example_json, field_lines

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
ROLES = ("error_analysis", "pattern_summary", "strategy", "generation", "paraphrase", "verification", "judge")


@dataclass(frozen=True)
class Prompt:
    role: str
    version: str  # "<role>.<version>", e.g. "generation.v1"
    messages: tuple[tuple[str, str], ...]
    # The same prompt without its example answer (None when the template shows none): what a teacher whose
    # decoding the schema constrains is sent (teacher.example_answers, docs/teacher.md).
    without_example: tuple[tuple[str, str], ...] | None = None

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


@cache
def _environment(directory: Path) -> jinja2.Environment:
    # StrictUndefined: a missing variable is a bug in the caller, not an empty string in a prompt.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def versions(role: str, directory: Path = PROMPTS_DIR) -> list[str]:
    return sorted(p.name.split(".")[1] for p in directory.glob(f"{role}.v*.j2"))


def render(
    role: str,
    version: str = "v1",
    schema: type[BaseModel] | None = None,
    directory: Path = PROMPTS_DIR,
    **variables: Any,
) -> Prompt:
    """Render the system and user blocks; ``schema`` exposes its JSON schema as ``json_schema`` and, where
    pada/teacher/examples.py has one, a filled-in example answer as ``json_example`` with its fields
    described one per line as ``json_fields``; a template that shows it guards it with ``{% if json_example %}``
    and is rendered a second time without it (``Prompt.without_example``)."""
    name = f"{role}.{version}.j2"
    if not (directory / name).is_file():
        raise PadaError(
            f"no prompt template {directory / name}; versions of '{role}': {versions(role, directory)}"
        )
    template = _environment(directory).get_template(name)
    dependencies.record(directory / name)  # the running stage depends on this template's text
    if schema is not None:
        variables["json_schema"] = json.dumps(schema.model_json_schema(), indent=1)
        example = example_json(schema)
        if example is not None:  # prompt versions that show a filled-in answer (pada/teacher/examples.py)
            variables["json_example"] = example
            variables["json_fields"] = field_lines(schema)
    messages = _blocks(template, variables)
    bare = _blocks(template, {**variables, "json_example": None}) if "json_example" in variables else None
    return Prompt(
        role=role,
        version=f"{role}.{version}",
        messages=messages,
        without_example=bare if bare != messages else None,
    )


def _blocks(template: jinja2.Template, variables: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    context = template.new_context(variables)
    messages = []
    for block in ("system", "user"):
        if block in template.blocks:
            text = "".join(template.blocks[block](context)).strip()
            if text:
                messages.append((block, text))
    return tuple(messages)
