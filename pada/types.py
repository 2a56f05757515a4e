"""Plain records passed between tasks, methods, trainers and evaluators."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One training or evaluation item: what a task loads and what a method proposes.

    Attributes:
        id: unique within a cell (a method's new items must not reuse a training id).
        prompt: the user turn, i.e. the question as the student sees it (plain content; the model's chat
            template wraps it).
        target: the assistant turn the student is trained on (e.g. a worked solution ending in the answer).
        answer: the gold answer the task's scorer compares with.
        source: ``"seed"`` for task items; ``"synthetic:<label>"`` for a method's items (the runner
            refuses anything else; synthetic data is never re-augmented as a seed).
        meta: free-form task or method data (e.g. ``question`` without the prompt template, ``options``).

    Example:
        >>> Example(id="aug-0", prompt="Add 42 and 25.", target="42 + 25 = 67. The answer is 67.",
        ...         answer="67", source="synthetic:my_method")
    """

    id: str
    prompt: str
    target: str
    answer: str
    source: str = "seed"  # seed | synthetic:<method> ; synthetic data is never re-augmented as a seed
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Example:
        return cls(**row)


@dataclass(frozen=True)
class EvalRecord:
    """The student's answer to one item and whether the task's criterion counts it correct."""

    item_id: str
    prompt: str
    output: str
    extracted: str | None
    gold: str
    correct: bool
    finish_reason: str | None = None  # "stop" | "length" (cut at max_new_tokens); None in older runs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> EvalRecord:
        return cls(**row)


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int
    temperature: float = 0.0  # 0 = greedy, the reproducible default for scoring
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str  # "stop" (EOS or stop string) | "length"


@dataclass(frozen=True)
class Quota:
    """What one augmentation round may add, set by the runner (``pada.run.fairness.quota_for``) and handed
    to the method. ``limit``: the most ``propose`` may return (None = the method's own rule); ``target``:
    with ``budget_match``, how many the method should reach (else None). Both count examples.
    ``teacher_tokens`` / ``teacher_calls``: the round's teacher allowance under ``teacher_budget``
    (``pada.run.fairness.effort_for``; tokens in + out and calls, as from an empty cache), None = unmatched;
    the teacher client refuses requests past it (``Teacher.limit_effort``, ``Teacher.effort_left``)."""

    limit: int | None = None
    target: int | None = None
    teacher_tokens: int | None = None
    teacher_calls: int | None = None

    def teacher_allowance(self) -> dict[str, int]:
        """``{"tokens": n, "calls": n}`` with the keys that are set; {} when effort is not matched."""
        pairs = (("tokens", self.teacher_tokens), ("calls", self.teacher_calls))
        return {key: value for key, value in pairs if value is not None}
