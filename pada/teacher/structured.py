"""Parse a teacher answer against a pydantic schema, tolerating prose and ```json fences around the JSON.

The JSON is found with a real decoder (``json.JSONDecoder.raw_decode`` from each ``{`` or ``[``), so braces in
prose before or after it do no harm. It is validated in three steps, the first that passes wins:

1. strict (pydantic ``strict=True``): the types the schema names;
2. pydantic's lax mode: the conversions its docs list as unambiguous, e.g. ``"true"``/``"yes"``/``"1"`` for
   a bool, ``"7"`` or ``7.0`` for an int (never ``7.5``);
3. a JSON number for a string field becomes its text (pydantic ``coerce_numbers_to_str``: ``18`` -> ``"18"``,
   ``-2.5`` -> ``"-2.5"``; dspy#7809). A bool for a string field is not coerced: ``"true"``, ``"True"`` or
   ``"yes"`` is the task's choice, so it is re-asked.

Steps 2 and 3 change which answers are kept, so the client counts them per role as ``coerced``. An answer
cut at max_tokens is never kept, even when it parses (``parse_answer``): a provider may close a cut tool
input, and a JSON object that ends exactly at the limit cannot be told from one cut short.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pada.teacher.examples import copied_fields

# Versioned (pada/versions.py): these rules decide which teacher answers become items, so an augment
# stage's key carries this. 1.1: a JSON decoder instead of first-{ to last-} slicing; coercions (issue 29).
# 1.2: an answer cut at max_tokens is never kept (issue 26). 1.3: nor one that copies the example answer.
VERSION = "1.3"
T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_OPENERS = re.compile(r"[{\[]")
_DECODER = json.JSONDecoder()


class StructuredOutputError(Exception):
    """The answer did not parse against the schema, even after the configured re-asks."""

    def __init__(self, role: str, reason: str, text: str):
        super().__init__(f"role '{role}': {reason}")
        self.role, self.reason, self.text = role, reason, text


def _json_values(text: str) -> list[str]:
    """Every JSON object or array in ``text`` that a decoder reads whole, as its source span, in order."""
    found, position = [], 0
    while match := _OPENERS.search(text, position):
        try:
            _, end = _DECODER.raw_decode(text, match.start())
        except json.JSONDecodeError:
            position = match.start() + 1
            continue
        found.append(text[match.start() : end])
        position = end
    return found


def _candidates(text: str) -> list[str]:
    """The JSON values in fenced blocks first (the usual LLM habit), then those in the whole answer."""
    sources = [m.strip() for m in _FENCE.findall(text)] + [text]
    return list(dict.fromkeys(value for source in sources for value in _json_values(source)))


@cache
def _numbers_to_str(schema: type[T]) -> type[T]:
    """``schema`` with pydantic's ``coerce_numbers_to_str`` (validators and fields inherited)."""
    config = ConfigDict(**schema.model_config, coerce_numbers_to_str=True)
    return type(schema.__name__, (schema,), {"model_config": config, "__module__": schema.__module__})


def _validate(candidate: str, schema: type[T]) -> tuple[T, bool]:
    try:
        return schema.model_validate_json(candidate, strict=True), False
    except ValidationError:
        pass
    try:
        return schema.model_validate_json(candidate), True
    except ValidationError as lax_error:
        try:
            coerced = _numbers_to_str(schema).model_validate_json(candidate)
        except ValidationError:
            raise lax_error from None
        return schema.model_validate(coerced.model_dump(by_alias=True)), True


def parse_structured_coerced(text: str, schema: type[T]) -> tuple[T, bool]:
    """The first JSON value in ``text`` that validates, and whether it needed a coercion (steps 2-3 of the
    module docstring). Raises ValueError with the first validation message, or "no JSON found"."""
    first = None
    for candidate in _candidates(text):
        try:
            return _validate(candidate, schema)
        except ValidationError as error:
            first = first or (error.errors(include_url=False)[0]["msg"] if error.errors() else str(error))
    raise ValueError(first or "no JSON found in the answer")


def parse_structured(text: str, schema: type[T]) -> T:
    """``parse_structured_coerced`` without the flag."""
    return parse_structured_coerced(text, schema)[0]


def parse_answer(text: str, finish_reason: str, schema: type[T], max_tokens: int) -> tuple[T, bool]:
    """``parse_structured_coerced`` of a whole answer; ValueError for one cut at ``max_tokens``
    (``finish_reason == "length"``), however well it parses, and for one whose text fields repeat the
    schema's example answer (pada.teacher.examples.copied_fields): both are re-asked."""
    if finish_reason == "length":
        raise ValueError(f"answer cut at max_tokens={max_tokens}")
    parsed, coerced = parse_structured_coerced(text, schema)
    if copied := copied_fields(parsed):
        raise ValueError(
            f"the answer copies the prompt's example answer ({', '.join(copied)}); write your own content"
        )
    return parsed, coerced
