"""Example answers: one filled-in instance per teacher schema, shown by the prompt versions that say "in this
form" instead of printing the JSON Schema document.

Why: a small teacher shown a JSON Schema document copies the document (issue 26: patterns named
"PatternSummary", field descriptions returned as values); shown a filled-in answer, it follows the form.
Templates read ``json_example`` (the instance as JSON) and ``json_fields`` (one line per field with its
description), which ``pada.teacher.render`` sets for a schema listed here. The examples are about a
made-up shop discount, not about any benchmark item, and each is validated against its schema when used.
Editing one changes the text of every prompt version that shows it: add a new template version instead
(the rendered text is in the teacher cache key, the template's hash in each stage's key).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# By schema class name (pada/teacher/schemas.py). The Verdict example says "false": shown "true", small
# verifiers answered true to everything (issue 26).
EXAMPLES: dict[str, dict[str, Any]] = {
    "ErrorAnalysis": {
        "error": "It added the discount to the price (40 + 10 = 50) instead of subtracting it (40 - 10 = 30).",
        "missing_skill": "turning 'off' and 'less' into subtraction",
    },
    "RootCauseAnalysis": {
        "error": "It added the discount to the price (40 + 10 = 50) instead of subtracting it (40 - 10 = 30).",
        "root_cause": "turns a word that means taking away into adding",
        "scenario": "a one-step word problem about a price change",
    },
    "SharedCause": {
        "description": "The model turns phrases such as 'less than', 'off' or 'fewer' into addition, so its "
        "set-up is wrong before any arithmetic starts.",
        "members": [1, 3],
        "name": "Relation words read as the wrong operation",
    },
    "PatternSummary": {
        "name": "Relation words read as the wrong operation",
        "description": "The model turns phrases such as 'less than', 'off' or 'fewer' into addition, so its "
        "set-up is wrong before any arithmetic starts.",
    },
    "Strategy": {
        "strategy": "Vary the relation phrase ('less than', 'off', 'fewer than', 'twice as many') and the order in "
        "which the quantities appear; every solution first restates the relation as an equation, then computes.",
    },
    "Verdict": {
        "valid": False,
        "answer": "30",
        "reason": "Solving it myself: 40 - 10 = 30; the proposed solution adds the discount and gets 50.",
    },
    "Paraphrase": {
        "question": "A $40 shirt is sold with $10 taken off its price. How much does it cost now?"
    },
    "JudgeScore": {
        "score": 6,
        "reason": "Correct and self-contained, but it practises the same single step as the problem it copies.",
    },
}


def example_json(schema: type[BaseModel]) -> str | None:
    """The schema's example answer as one line of JSON, validated against the schema; None without one."""
    example = EXAMPLES.get(schema.__name__)
    if example is None:
        return None
    return schema.model_validate(example).model_dump_json()


def field_lines(schema: type[BaseModel]) -> str:
    """One line per field: ``- name (type): description`` (the schema's own descriptions)."""
    lines = []
    for name, field in schema.model_fields.items():
        kind = getattr(field.annotation, "__name__", str(field.annotation))
        lines.append(f"- {name} ({kind})" + (f": {field.description}" if field.description else ""))
    return "\n".join(lines)


COPY_MIN_CHARS = 20  # shorter example values ("30", a bool) may be a real answer by coincidence


def copied_fields(answer: BaseModel) -> list[str]:
    """The text fields of ``answer`` that repeat its schema's example answer word for word (case and spacing
    aside; values of at least ``COPY_MIN_CHARS`` characters): a small teacher that copies the example has
    written nothing about the problem it was asked about (seen with a 0.5B teacher, docs/teacher.md)."""
    example = EXAMPLES.get(type(answer).__name__) or {}

    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    return [
        name
        for name, shown in example.items()
        if isinstance(shown, str)
        and len(shown) >= COPY_MIN_CHARS
        and isinstance(getattr(answer, name, None), str)
        and norm(getattr(answer, name)) == norm(shown)
    ]
