"""What a teacher must write to make a new training item of a task, and the checks that item must pass.

Each task kind needs different fields: a math item is a question with a worked solution ending in its answer;
a multiple-choice item needs options and an answer key; a coding item needs a problem statement, a solution
and tests. A ``SyntheticFormat`` names those fields (a pydantic schema the teacher answers in), shows seed
items in the same shape as few-shot examples, turns an accepted answer into an ``Example`` through the
task's own templates (so synthetic and seed items look alike to the student), and checks it:

- ``problem``: the item is well formed (``format``) and, for multiple choice, its key names an option
  (``answer_key``);
- ``run_checks``: checks that execute something; code runs its solution against its own tests in the
  sandbox (``tests_failed``);
- ``verify_by_teacher``: whether an independent teacher solve should confirm the answer (math and multiple
  choice); for code the tests take that role.
"""

from __future__ import annotations

import ast
import json
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from pada.errors import PadaError
from pada.tasks.base import Task, question_of
from pada.tasks.code import CodeTask
from pada.tasks.multiple_choice import LETTERS, MultipleChoiceTask
from pada.teacher.schemas import GeneratedExample
from pada.types import Example


class ChoiceItem(BaseModel):
    # A grammar-constrained teacher closes the explanation here (pada.teacher.native.grammar_json_schema).
    # Measured in the quick demo-real of main 997fbc0: 14 of 412 answers of the 0.5B were lists cut at
    # max_tokens, each by one explanation repeating a sentence (15,892 of 63,491 output tokens, then 2x
    # re-asks); its 336 finished items' explanations were at most 756 characters (median 158).
    max_chars: ClassVar[dict[str, int]] = {"explanation": 800}
    question: str
    choices: list[str] = Field(description="the answer options, in order; they are shown as A, B, C, ...")
    answer: str = Field(description="the letter of the correct option")
    explanation: str = Field("", description="why that option is correct, briefly")


class CodeItem(BaseModel):
    question: str = Field(description="the task statement, naming the function to write")
    code: str = Field(description="a complete Python solution")
    tests: list[str] = Field(
        description="Python assert statements, one per list entry, that the solution passes"
    )


class SyntheticFormat(ABC):
    schema: type[BaseModel]
    generation_prompt: str  # the generation template version whose examples fit this schema
    verify_by_teacher: bool = True

    def __init__(self, task: Task):
        self.task = task

    @abstractmethod
    def shot(self, seed: Example) -> dict[str, Any]:
        """A seed item in the schema's shape, shown to the generator as a format example."""

    @abstractmethod
    def question(self, item: Any) -> str:
        """The bare question: what deduplication compares and what ``meta['question']`` keeps."""

    def display_question(self, item: Any) -> str:
        """The question as a verifier or judge sees it (with its options, for multiple choice)."""
        return self.question(item)

    def prompt_examples(self, shots: list[dict[str, Any]]) -> list[Any]:
        """Shots as the generation template shows them: JSON objects in the schema's shape."""
        return [json.dumps(shot, ensure_ascii=False) for shot in shots]

    def text(self, item: Any) -> str:
        """Everything the item says, for decontamination against validation and test items."""
        return self.question(item) + "\n" + self.solution(item)

    @abstractmethod
    def solution(self, item: Any) -> str:
        """What a verifier is shown as the proposed solution."""

    @abstractmethod
    def problem(self, item: Any) -> str | None:
        """``format`` (or ``answer_key``) when the item is malformed, else None."""

    def run_checks(self, items: list[Any]) -> list[str | None]:
        """Checks that execute the item (code); one reason or None per item."""
        return [None] * len(items)

    def answer(self, item: Any) -> str:
        """The item's answer as the task's scorer reads it."""
        return self.read_answer(item.answer)

    def read_answer(self, text: str) -> str:
        """An answer written by the teacher (the item's key, or a verifier's own answer) as the scorer reads it."""
        return self.task.extract(text) or text.strip()

    @abstractmethod
    def to_example(self, item: Any, item_id: str, source: str, meta: dict[str, Any]) -> Example:
        """The training item, built by the task's own prompt and target templates."""


class MathFormat(SyntheticFormat):
    """Question, worked solution, final answer; the task's extractor must find the answer in the solution."""

    schema = GeneratedExample
    generation_prompt = "v1"

    def shot(self, seed: Example) -> dict[str, Any]:
        return {"question": question_of(seed), "solution": seed.target}

    def question(self, item: GeneratedExample) -> str:
        return item.question.strip()

    def prompt_examples(self, shots: list[dict[str, Any]]) -> list[Any]:
        return shots  # generation.v1 lays out "Problem: / Solution:" itself

    def solution(self, item: GeneratedExample) -> str:
        return item.solution

    def problem(self, item: GeneratedExample) -> str | None:
        if not item.question.strip() or not item.solution.strip():
            return "format"
        found = self.task.extract(item.solution)
        return None if found is not None and found == self.answer(item) else "format"

    def to_example(self, item: GeneratedExample, item_id: str, source: str, meta: dict[str, Any]) -> Example:
        return Example(
            item_id,
            self.task.user_prompt(self.question(item)),
            item.solution.strip(),
            self.answer(item),
            source,
            {"question": self.question(item), **meta},
        )


class ChoiceFormat(SyntheticFormat):
    """Question, options, key; the key must be the letter of one option and the options must differ."""

    schema = ChoiceItem
    generation_prompt = "v2"
    task: MultipleChoiceTask

    def shot(self, seed: Example) -> dict[str, Any]:
        return {"question": seed.meta["question"], "choices": seed.meta["choices"], "answer": seed.answer}

    def question(self, item: ChoiceItem) -> str:
        return item.question.strip()

    def text(self, item: ChoiceItem) -> str:
        return "\n".join([self.question(item), *item.choices, item.explanation])

    def solution(self, item: ChoiceItem) -> str:
        return f"{item.explanation.strip()}\nThe answer is {self.answer(item)}.".strip()

    def problem(self, item: ChoiceItem) -> str | None:
        # whitespace-normalised, case kept: real genetics options differ only by case ("WW or ww", "WW or Ww")
        options = [" ".join(c.split()) for c in item.choices]
        if not self.question(item) or not 2 <= len(options) <= len(LETTERS) or "" in options:
            return "format"
        if len(set(options)) < len(options):
            return "format"  # two identical options make the key ambiguous
        return None if self.answer(item) in LETTERS[: len(options)] else "answer_key"

    def display_question(self, item: ChoiceItem) -> str:
        return self.task.make_example(
            "check",
            self.question(item),
            self._choices(item),
            list(LETTERS[: len(item.choices)]),
            self.answer(item),
        ).prompt

    def to_example(self, item: ChoiceItem, item_id: str, source: str, meta: dict[str, Any]) -> Example:
        labels = list(LETTERS[: len(item.choices)])
        example = self.task.make_example(
            item_id, self.question(item), self._choices(item), labels, self.answer(item), **meta
        )
        return replace(example, source=source)

    @staticmethod
    def _choices(item: ChoiceItem) -> list[str]:
        return [c.strip() for c in item.choices]


class CodeFormat(SyntheticFormat):
    """Statement, solution, asserts; the solution must pass its own asserts in the sandbox."""

    schema = CodeItem
    generation_prompt = "v2"
    verify_by_teacher = False  # the generated tests, run in the sandbox, check the solution
    task: CodeTask

    def shot(self, seed: Example) -> dict[str, Any]:
        return {"question": seed.meta["text"], "code": seed.answer, "tests": seed.meta["tests"].splitlines()}

    def question(self, item: CodeItem) -> str:
        return item.question.strip()

    def solution(self, item: CodeItem) -> str:
        return item.code

    def answer(self, item: CodeItem) -> str:
        return item.code.strip("\n")

    def problem(self, item: CodeItem) -> str | None:
        tests = _tests(item)
        asserts = bool(tests) and all(t.startswith("assert") and _parses(t) for t in tests)
        well_formed = self.question(item) and asserts and _parses(item.code) and "def " in item.code
        return None if well_formed else "format"

    def run_checks(self, items: list[CodeItem]) -> list[str | None]:
        if not items:
            return []
        self.task.require_code_execution()
        examples = [self.to_example(item, "check", "check", {}) for item in items]
        verdicts = self.task.run([self.answer(item) for item in items], examples)
        return [None if v.passed else "tests_failed" for v in verdicts]

    def to_example(self, item: CodeItem, item_id: str, source: str, meta: dict[str, Any]) -> Example:
        example = self.task.make_example(
            item_id, self.question(item), self.answer(item), _tests(item), **meta
        )
        return replace(example, source=source)


def _tests(item: CodeItem) -> list[str]:
    return [t.strip() for t in item.tests if t.strip()]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def synthetic_format(task: Task) -> SyntheticFormat:
    """The format a task's generated items take: by the task's kind, not its name, so user tasks fit."""
    if isinstance(task, MultipleChoiceTask):
        return ChoiceFormat(task)
    if isinstance(task, CodeTask):
        if not hasattr(task, "make_example"):
            raise PadaError(f"task '{task.name}' is evaluation-only: it cannot take generated training items")
        return CodeFormat(task)
    return MathFormat(task)
