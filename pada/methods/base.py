"""The method interface: from one iteration's state, propose new training examples.

A method sees the current training data, the student's per-item records on the training set and its
validation failures (never other validation or test items), its quota, a teacher handle and a seeded rng. It never trains or evaluates; the runner does that, identically
for every method, so comparisons differ only in the data each method proposes.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pada.targets import build
from pada.tasks.base import Task
from pada.tasks.code import CodeTask
from pada.types import EvalRecord, Example, Quota


@dataclass
class IterationState:
    iteration: int
    task: Task
    seed_data: list[Example]
    train_data: list[Example]  # seeds plus everything added so far
    train_records: list[EvalRecord]  # empty unless the method sets needs_train_eval
    val_records: list[EvalRecord]  # validation FAILURES only, and only if the method sets needs_val_eval
    teacher: Any  # a pada teacher client, or None for methods that need none
    rng: random.Random
    workdir: Path  # where the method may write reports (patterns, strategies)
    # The most this round may add and, with budget_match, how many to reach (pada.types.Quota, set by pada.run.fairness.quota_for).
    quota: Quota = field(default_factory=Quota)


class Method(ABC):
    """Subclasses set the class attributes; ``cfg`` is the method's config node (conf/method/)."""

    name: str
    version: (
        str  # bump when a change can alter the method's output; pinned in tests/fixtures/version_pins.json
    )
    version_sources: tuple[str, ...] = ()  # helper modules whose code decides the output (pada/versions.py)
    needs_train_eval: bool = False
    needs_val_eval: bool = False
    needs_teacher: bool = False  # true: the runner refuses teacher=none before any work
    trains_on_validation: bool = (
        False  # true (controls only): the runner adds the labelled val items to training
    )
    augments: bool | None = (
        None  # true: propose() adds training items, so loop.iterations 0 is an error; None: needs_teacher
    )

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @abstractmethod
    def propose(self, state: IterationState) -> list[Example]:
        """New training examples for the next round (may be empty)."""

    def check_task(self, task: Task) -> None:  # noqa: B027  (most methods run on any task)
        """Raise PadaError if this method cannot run on ``task``; called before any stage and by preflight."""

    def after_next_eval(  # noqa: B027  (an optional hook: a no-op unless a method scores its reports)
        self, augment_dir: Path, before: list[EvalRecord], after: list[EvalRecord]
    ) -> None:
        """Score an augment stage's report once the student retrained on its data is evaluated (validation
        records before and after); the runner calls it on every invocation, so it must be idempotent."""


def check_cell(task: Task, method: Method) -> None:
    """Refuse a (task, method) pair that would fail mid-run, before any stage: one error line, nothing run."""
    if isinstance(task, CodeTask):
        task.require_code_execution()  # every cell scores code by running it
    method.check_task(task)


def build_method(cfg: Any) -> Method:
    """The method ``cfg._target_`` names, built with its config node (pada.targets.build: one error line)."""
    return build(cfg, Method, "method")
