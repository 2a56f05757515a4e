"""New items in a task's own format, for the baselines that write problems (LLM2LLM, LLMs-as-Instructors).

Math tasks (GSM8K, sim_arith) keep the methods' original path byte for byte: the v1 prompts show the bare
question and its worked solution, the teacher answers a ``GeneratedExample`` and ``generated`` appends the
'#### N' line when the solution lacks it. Multiple-choice and code tasks use the task's synthetic format
(pada.tasks.synthetic): the v2 prompts show the wrong item in the format's shape (question, options and key;
statement, reference code and tests), the teacher answers the format's schema, and an item is kept only if
it is well formed with a key naming an option (else ``bad_answer``) and, for code, its solution passes its
own tests in the sandbox (else ``tests_failed``); it becomes a training example through the task's own
templates, so it looks like a seed item to the student and scores correct under the task's scorer.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from baselines.common import describe, generated, matches_answer, question_of
from pada.errors import PadaError
from pada.tasks.base import Task
from pada.tasks.synthetic import MathFormat, synthetic_format
from pada.teacher import Request, render
from pada.teacher.schemas import Verdict
from pada.types import Example

FORMAT_PROMPT = "v2"  # the generation template version whose wording fits items of any format


class Items:
    """One task's new items for one method: how they are asked for, checked and built."""

    def __init__(self, task: Task, method: str):
        self.task, self.method = task, method
        self.fmt = synthetic_format(task)  # a one-line PadaError for evaluation-only tasks
        self.math = isinstance(self.fmt, MathFormat)
        self.schema = self.fmt.schema

    def require_json(self, response_format: str) -> None:
        if response_format == "numbered" and not self.math:
            raise PadaError(
                f"method.response_format=numbered is the official GSM8K list of '#### N' problems; "
                f"task '{self.task.name}' needs method.response_format=json"
            )

    def shown(self, example: Example) -> str:
        """The item as a v2 prompt shows it: one JSON object in the schema's shape, answer included."""
        return self.fmt.prompt_examples([self.fmt.shot(example)])[0]

    def asked(self, example: Example) -> str:
        """The problem as the student saw it: the bare question for math; the whole prompt (options, tests)
        otherwise, since an analysis of a wrong letter or a failing program needs them."""
        return question_of(example) if self.math else example.prompt

    def question(self, item: Any) -> str:
        return self.fmt.question(item)

    def build(self, items: list[Any], ids: list[str], parents: list[str]) -> list[Example | str]:
        """Each item as a training example, or the reason it is rejected. Code runs in one sandbox batch."""
        if self.math:
            made = [
                generated(self.task, it.question, it.solution, it.answer, new_id, self.method, parent)
                for it, new_id, parent in zip(items, ids, parents, strict=True)
            ]
            return [example or "bad_answer" for example in made]
        reasons: list[str | None] = ["bad_answer" if self.fmt.problem(item) else None for item in items]
        runnable = [k for k, reason in enumerate(reasons) if reason is None]
        for k, reason in zip(runnable, self.fmt.run_checks([items[k] for k in runnable]), strict=True):
            reasons[k] = reason
        source = f"synthetic:{self.method}"
        rows = zip(items, ids, parents, reasons, strict=True)
        return [
            reason or self.fmt.to_example(item, new_id, source, {"parent": parent})
            for item, new_id, parent, reason in rows
        ]

    def verify(self, teacher, new: list[tuple[Any, Example]], counts: Counter) -> list[Example]:
        """An independent teacher solve must agree with each item's answer (counted ``verify_rejected``).
        Code items skip it: their own tests, run in the sandbox, already checked the solution."""
        if not self.fmt.verify_by_teacher:
            return [ex for _, ex in new]
        requests = [
            Request(
                "verification",
                render(
                    "verification",
                    "v3",
                    schema=Verdict,
                    task_description=describe(self.task),
                    question=self._verified_question(item, ex),
                    solution=ex.target if self.math else self.fmt.solution(item),
                ),
                0,
                Verdict,
            )
            for item, ex in new
        ]
        kept = []
        for (item, ex), verdict in zip(new, teacher.complete_many(requests), strict=True):
            if verdict is not None and verdict.valid and self._agrees(item, ex, verdict.answer):
                kept.append(ex)
            else:
                counts["verify_rejected"] += 1
        return kept

    def _verified_question(self, item: Any, example: Example) -> str:
        return question_of(example) if self.math else self.fmt.display_question(item)

    def _agrees(self, item: Any, example: Example, answer: str) -> bool:
        if self.math:
            return matches_answer(self.task, example, answer)
        return self.fmt.read_answer(answer) == self.fmt.answer(item)
