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

from pada.methods.embedders import check_embedder
from pada.targets import build
from pada.tasks.base import Task
from pada.tasks.code import CodeTask
from pada.types import EvalRecord, Example, Quota


@dataclass
class IterationState:
    """What the runner hands ``Method.propose`` in round ``iteration`` (0-based) of ``loop.iterations``.

    Built by pada/run/runner.py (``Cell._run_loop``) identically for every method. ``needs_val_eval`` is
    honoured there: ``val_records`` goes through ``pada.run.fairness.failures``, which passes the failed
    validation records only to a method that sets it and an empty list to every other (and
    ``fairness.check_config`` refuses ``run.eval_val=false`` for a method that sets it). Validation items
    the student answered correctly, and every test item, never reach a method.
    """

    iteration: int
    task: Task
    seed_data: list[Example]  # the seed set (budget items), never changed
    train_data: list[Example]  # seeds plus everything added so far (ids unique)
    train_records: list[
        EvalRecord
    ]  # the student on train_data; empty unless the method sets needs_train_eval
    val_records: list[EvalRecord]  # validation FAILURES only, and only if the method sets needs_val_eval
    teacher: (
        Any  # a pada.teacher.Teacher, or None (teacher=none; a method with needs_teacher never sees None)
    )
    rng: random.Random  # seeded by (seed, iteration): a method's own sampling is reproducible
    workdir: Path  # the augment stage's folder: where the method may write reports (patterns, strategies)
    # The most this round may add and, with budget_match, how many to reach (pada.types.Quota, set by pada.run.fairness.quota_for).
    quota: Quota = field(default_factory=Quota)


class Method(ABC):
    """An augmentation method (the contract in full: pada/api.py; recipe: docs/extending.md).

    Built as ``cls(cfg)`` from the class its YAML's ``_target_`` names; ``cfg`` is the ``method`` config
    node (conf/method/<name>.yaml). Subclasses set the class attributes below and implement ``propose``.
    """

    name: str
    version: (
        str  # bump when a change can alter the method's output; pinned in tests/fixtures/version_pins.json
    )
    version_sources: tuple[str, ...] = ()  # helper modules whose code decides the output (pada/versions.py)
    needs_train_eval: bool = False
    needs_val_eval: bool = False
    # true: after_next_eval scores the method's reports from the validation records of the rounds before and
    # after each augment round (PaDA-Agent), so run.eval_val=needed scores both (pada.run.loop.scores_validation)
    scores_reports_on_validation: bool = False
    needs_teacher: bool = False  # true: the runner refuses teacher=none before any work
    trains_on_validation: bool = (
        False  # true (controls only): the runner adds the labelled val items to training
    )
    augments: bool | None = (
        None  # true: propose() adds training items, so loop.iterations 0 is an error; None: needs_teacher
    )
    # Prompt text the method composes in code (str.format strings), beside the pada/prompts templates: the
    # runner rejects an item that repeats either (pada/run/echo.py).
    instruction_texts: tuple[str, ...] = ()

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @abstractmethod
    def propose(self, state: IterationState) -> list[Example]:
        """New training examples for the next round (may be empty).

        Args:
            state: this round's inputs (``IterationState``): the seed set, the current training data, the
                student's training-set records (if ``needs_train_eval``), its validation failures (if
                ``needs_val_eval``), the round's ``quota``, the teacher (None for ``teacher=none``), a
                seeded ``rng`` and a ``workdir`` for reports.

        Returns:
            A list of ``Example``: each with an id not in ``state.train_data`` (unique among those
            returned) and ``source`` ``"synthetic:<label>"``; at most ``state.quota.limit`` of them when the
            limit is set. The runner checks all three (a violation is PadaError, never a silent trim), then
            drops items that copy validation or test questions (counted by reason).

        Raises:
            PadaError: a bad config (better raised in ``__init__`` or ``check_task``, before any stage).
            TeacherFailed, TeacherCapReached: teacher failures propagate as the teacher's own errors; the
                runner turns them into one error line and the stage is not marked done.

        Example:
            >>> class DupSeeds(Method):  # one copy of each seed, as a synthetic item
            ...     name, version = "dup_seeds", "1"
            ...     def propose(self, state):
            ...         n = state.quota.limit or len(state.seed_data)
            ...         return [Example(id=f"dup{state.iteration}-{e.id}", prompt=e.prompt, target=e.target,
            ...                         answer=e.answer, source="synthetic:dup_seeds")
            ...                 for e in state.seed_data[:n]]
        """

    def propose_more(
        self, state: IterationState, proposed: list[Example], top_up: int
    ) -> list[Example] | None:
        """More examples for the same round, when ``budget_match`` left it short (the runner's top-up).

        Called by the runner (pada/run/topup.py) on the same instance, in the same augment stage, right
        after ``propose`` and the runner's held-out check, while the kept examples are fewer than the round's
        target, at most ``budget_match_rounds`` times. Default: None, nothing more (the runner then stops
        and records the shortfall); a method that can give more overrides it.

        Args:
            state: the round's state, with ``quota`` the remainder: ``target`` = examples still missing,
                ``limit`` = room left under the round's limit (the teacher allowance is the round's, spent
                from the stage's start).
            proposed: everything this round proposed so far, in order (kept or rejected by the runner): ids
                and questions not to repeat.
            top_up: 1 for the first top-up, 2 for the next: a method draws fresh teacher samples for each
                (sample indices not used before in the cell), so the cache does not return the same answers.

        Returns:
            New examples under the same contract as ``propose`` (fresh ids: none in ``state.train_data``
            or ``proposed``; at most ``state.quota.limit``), [] when this top-up found none (the runner may
            ask again), or None when the method has nothing more to give (the runner stops).
        """
        return None

    def check_task(self, task: Task) -> None:  # noqa: B027  (most methods run on any task)
        """Raise PadaError if this method cannot run on ``task``; called before any stage and by preflight."""

    def embedders(self) -> tuple[str, ...]:
        """Sentence embedders this method will load (checked local-only before any stage, by preflight too).

        Default: the config's top-level ``embedder`` when it names one; override when a setting decides it."""
        name = self.cfg.get("embedder") if hasattr(self.cfg, "get") else None
        return (str(name),) if name else ()

    def train_eval_max_new_tokens(self, task: Task) -> int | None:
        """The generation length the runner uses when it evaluates the training set for this method
        (``needs_train_eval``; what the method reads, never a reported score). None: the task's own."""
        return None

    def after_next_eval(  # noqa: B027  (an optional hook: a no-op unless a method scores its reports)
        self, augment_dir: Path, before: list[EvalRecord], after: list[EvalRecord]
    ) -> None:
        """Score an augment stage's report once the student retrained on its data is evaluated (validation
        records before and after); the runner calls it on every invocation, so it must be idempotent. A
        method that overrides it sets ``scores_reports_on_validation`` (else run.eval_val=needed leaves the
        round after an augment round unscored on validation and the hook is not called)."""


def check_cell(task: Task, method: Method) -> None:
    """Refuse a (task, method) pair that would fail mid-run, before any stage: one error line, nothing run."""
    if isinstance(task, CodeTask):
        task.require_code_execution()  # every cell scores code by running it
    method.check_task(task)
    for name in method.embedders():
        check_embedder(name)


def build_method(cfg: Any) -> Method:
    """The method ``cfg._target_`` names, built with its config node (pada.targets.build: one error line)."""
    return build(cfg, Method, "method")
