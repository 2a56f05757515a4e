"""Parse a teacher answer against a pydantic schema, tolerating prose and ```json fences around the JSON."""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class StructuredOutputError(Exception):
    """The answer did not parse against the schema, even after the configured re-asks."""

    def __init__(self, role: str, reason: str, text: str):
        super().__init__(f"role '{role}': {reason}")
        self.role, self.reason, self.text = role, reason, text


def _candidates(text: str) -> list[str]:
    """Fenced blocks first (the usual LLM habit), then the whole answer, then the outermost braces."""
    found = [m.strip() for m in _FENCE.findall(text)]
    found.append(text.strip())
    for open_, close in (("{", "}"), ("[", "]")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            found.append(text[start : end + 1])
    return found


def parse_structured(text: str, schema: type[T]) -> T:
    """The first candidate that validates; raises ValueError with the last validation message."""
    last = "no JSON found in the answer"
    for candidate in _candidates(text):
        try:
            return schema.model_validate_json(candidate)
        except ValidationError as error:
            last = error.errors(include_url=False)[0]["msg"] if error.errors() else str(error)
    raise ValueError(last)
