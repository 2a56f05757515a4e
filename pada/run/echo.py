"""Prompt echo: a synthetic item that repeats the teacher's instructions instead of posing a new problem.

Two real ``make demo-real`` runs (docs/real_cpu.md) kept 16 such items of 276: a grammar-bound 0.5B teacher
filled the question with the prompt's own sentences ("The student model shows this failure pattern, ...",
"The student was given this problem, shown with its correct answer: ...") and the teacher's verifier
accepted them. The runner rejects them for every method, as it rejects held-out copies (``prompt_echo`` in
the stage's rejections, pada/run/fairness.py ``Decontaminator``): an item whose rendered question or target
holds ``ECHO_WORDS`` consecutive words of instruction text, which is the literal text of every prompt
template pada ships (``pada/prompts/*.j2`` with Jinja's ``{{ }}``, ``{% %}`` and ``{# #}`` parts removed)
and the method's own ``Method.instruction_texts`` (``str.format`` fields removed). A removed part ends a run
of words, so what fills a slot (a shown problem, a pattern's name) never counts as instructions. Words, not
punctuation: templates show worked examples, and GSM8K's "#### 40" would be five tokens of a run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from pada.teacher.prompts import PROMPTS_DIR
from pada.text import rouge_tokens as words  # lower-cased alphanumeric words: the unit of a run

# Words in a run: the shortest sentence echoed in those runs ("The student model
# shows this failure pattern") has 7; at 6, none of 26,955 ARC-Challenge, GSM8K and MMLU items (question slot or
# target) holds one (tests/unit/test_prompt_echo.py, where the data is present), all 16 echoes are found.
ECHO_WORDS = 6
_JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")


def template_parts(text: str) -> list[str]:
    """A Jinja template's literal text, split where a tag, expression or comment was."""
    return _JINJA.split(text)


def format_parts(text: str) -> list[str]:
    """A ``str.format`` string's literal text, split where a field was."""
    return _FORMAT_FIELD.split(text)


def instruction_parts(instruction_texts: Iterable[str], prompts_dir: Path = PROMPTS_DIR) -> list[str]:
    """Every shipped template's literal parts (sorted by file name), then the method's."""
    parts = [p for path in sorted(prompts_dir.glob("*.j2")) for p in template_parts(path.read_text())]
    return parts + [p for text in instruction_texts for p in format_parts(text)]


def instructions_digest(parts: list[str]) -> str:
    """sha256 of the instruction text, for the augment stage's key: a new template changes what is rejected."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class PromptEcho:
    """``found_in(text)``: does ``text`` hold ``n`` consecutive words of one instruction part?"""

    def __init__(self, parts: Iterable[str], n: int = ECHO_WORDS):
        self.n = n
        self.grams = {gram for part in parts for gram in _grams(words(part), n)}

    def found_in(self, text: str) -> bool:
        return not self.grams.isdisjoint(_grams(words(text), self.n))


def _grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
