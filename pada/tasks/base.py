"""What a task is: splits, a prompt, answer extraction and a failure criterion.

A task is a small declarative definition (lm-eval style): the knobs live in ``conf/task/<name>.yaml``;
the code here and in each task module supplies only what cannot be declared (parsing a file format,
extracting an answer). A task YAML names its class with ``_target_`` (pada/api.py has the contract).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pada.errors import PadaError
from pada.targets import build
from pada.types import EvalRecord, Example


@dataclass
class Splits:
    """``pool`` is what seed sets are drawn from; validation never overlaps it.

    Evaluation-only benchmarks (MMLU, HumanEval) have an empty ``pool``: nothing is trained on them.
    ``fewshot`` holds the items in-context examples are drawn from (MBPP task_ids 1-10, MMLU dev).
    """

    pool: list[Example]
    val: list[Example]
    test: list[Example]
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256, for provenance
    fewshot: list[Example] = field(default_factory=list)

    def named(self) -> dict[str, list[Example]]:
        return {"pool": self.pool, "val": self.val, "test": self.test, "fewshot": self.fewshot}


class Task(ABC):
    """Base class; ``cfg`` is the task's config node (see conf/task/)."""

    name: str
    version: (
        str  # bump when a change can alter loading or scoring; pinned in tests/fixtures/version_pins.json
    )
    version_sources: tuple[str, ...] = ()  # helper modules whose code decides the output (pada/versions.py)

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.skipped_rows: list[str] = []  # malformed rows left out under ``bad_rows: skip``

    @property
    def bad_rows_sink(self) -> list[str] | None:
        """Where file readers put malformed rows: None (raise, the default) or ``skipped_rows``."""
        policy = self.cfg.get("bad_rows", "error") if hasattr(self.cfg, "get") else "error"
        if policy not in ("error", "skip"):
            raise PadaError(f"task.bad_rows={policy!r}; choose error or skip")
        return self.skipped_rows if policy == "skip" else None

    @abstractmethod
    def load(self, data_dir: Path | None) -> Splits:
        """Load every split from ``data_dir`` (original file format) or, if None, from the Hub.

        Args:
            data_dir: the folder with the benchmark's original files (``paths.data_dir``), or None.

        Returns:
            ``Splits``: ``pool`` (seed sets are drawn from it; empty for evaluation-only tasks), ``val``
            (never overlaps ``pool``), ``test``, ``fewshot`` lists of ``Example`` (ids unique), and
            ``files`` (file name -> sha256, for provenance).

        Raises:
            PadaError: a missing file or a malformed row, naming ``file:line`` (``bad_rows: skip`` keeps
                going and lists the rows in ``skipped_rows``).

        Example:
            >>> splits = GSM8K(cfg.task).load(Path("/data/benchmarks"))
            >>> len(splits.pool), splits.pool[0].prompt[:30]
        """

    @abstractmethod
    def extract(self, output: str) -> str | None:
        """The answer in a model output.

        Args:
            output: the student's full completion text.

        Returns:
            The extracted answer string (normalised as the task compares it), or None if none is found.

        Example:
            >>> arc.extract("The best answer is C.")
            'C'
        """

    @abstractmethod
    def is_correct(self, extracted: str | None, example: Example) -> bool:
        """The task's criterion: True when the student's answer counts as correct.

        Args:
            extracted: what ``extract`` returned (None counts as wrong).
            example: the scored item; ``example.answer`` is the gold answer.

        Returns:
            True if correct; a failure (False) is what PaDA-Agent analyses on validation data.
        """

    def user_prompt(self, question: str) -> str:
        return self.cfg.prompt_template.format(question=question)

    def gold_output(self, example: Example) -> str:
        """A model output that must score correct: the training target (``pada data check`` scores it)."""
        return example.target

    def fewshot_examples(self, example: Example, splits: Splits) -> list[Example]:
        """In-context examples for ``example`` under the config's ``fewshot`` policy (default: none).

        ``fewshot.source``: pool | fewshot; ``fewshot.n``: how many, first-n in file order as lm-eval's
        ``first_n`` sampler; ``fewshot.same``: a meta key (e.g. ``subject``) the shots must share.
        """
        policy = self.cfg.get("fewshot") if hasattr(self.cfg, "get") else None
        if not policy or not policy.get("n"):
            return []
        candidates = getattr(splits, policy.get("source", "fewshot"))
        key = policy.get("same")
        if key:
            candidates = [c for c in candidates if c.meta.get(key) == example.meta.get(key)]
        return [c for c in candidates if c.id != example.id][: policy["n"]]

    def messages(self, example: Example, shots: list[Example]) -> list[dict[str, str]]:
        """The chat for ``example``: each shot as a user/assistant pair, then the question."""
        chat = []
        for shot in shots:
            chat += [{"role": "user", "content": shot.prompt}, {"role": "assistant", "content": shot.target}]
        return [*chat, {"role": "user", "content": example.prompt}]

    def score(self, examples: list[Example], outputs: list[str]) -> list[EvalRecord]:
        """Records for many outputs at once; code tasks override it to run programs in parallel."""
        return [self.record(e, o) for e, o in zip(examples, outputs, strict=True)]

    def record(self, example: Example, output: str) -> EvalRecord:
        extracted = self.extract(output)
        return EvalRecord(
            item_id=example.id,
            prompt=example.prompt,
            output=output,
            extracted=extracted,
            gold=example.answer,
            correct=self.is_correct(extracted, example),
        )


def question_of(example: Example) -> str:
    """The bare question of an item: tasks keep it in ``meta['question']`` when their prompt adds a template
    (options, tests, instructions); the simulated task's prompt is the question itself."""
    return str(example.meta.get("question") or example.prompt)


def sample_seed_set(pool: list[Example], budget: int, seed: int) -> list[Example]:
    """The first ``budget`` items of a seed-specific permutation of the pool.

    Seed sets are nested across budgets (budget 100 is a subset of budget 200 for the same seed), so a
    budget sweep varies only the amount of data.
    """
    if not pool:
        raise PadaError(
            "this task is evaluation-only (no seed pool); use it as an eval task, not for training"
        )
    if budget > len(pool):
        raise PadaError(
            f"budget={budget} is larger than the seed pool ({len(pool)} items); choose budget<={len(pool)}"
        )
    if budget <= 0:
        raise PadaError(f"budget={budget} must be a positive number of seed examples")
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    return [pool[i] for i in order[:budget]]


def carve_validation(
    train: list[Example], val_size: int, split_seed: int
) -> tuple[list[Example], list[Example]]:
    """Split ``train`` into (pool, val) with a fixed permutation shared by every run, seed and method."""
    if val_size >= len(train):
        raise PadaError(f"task.val_size={val_size} leaves no training pool ({len(train)} train items)")
    order = list(range(len(train)))
    random.Random(split_seed).shuffle(order)
    val_ids = set(order[:val_size])
    pool = [ex for i, ex in enumerate(train) if i not in val_ids]
    val = [train[i] for i in sorted(val_ids)]
    return pool, val


def build_task(cfg: Any) -> Task:
    """The task ``cfg._target_`` names, built with its config node (pada.targets.build: one error line)."""
    return build(cfg, Task, "task")
