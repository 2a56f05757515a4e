"""Data generation (PaDA-Agent §3.4) with quality control and regeneration of rejected examples.

Two sources: strategy-guided examples (the budget split across patterns, by cluster size by default) and
LLM2LLM-style error-correcting examples, one per seed example the student got wrong. Few-shot format
examples come from the seed data only; validation and test text never enters these prompts.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pada.agent.leakage import HeldOut, assert_no_leak, question_of
from pada.agent.quality import (
    Decontaminator,
    Deduplicator,
    format_problem,
    normalised_answer,
    verification_problem,
)
from pada.tasks.base import Task
from pada.teacher import Request, render
from pada.teacher.schemas import GeneratedExample, Verdict
from pada.types import Example

SOURCE = "synthetic:pada"


@dataclass
class Slot:
    """One example wanted: its prompt guidance, few-shot examples, and the report row it counts towards."""

    index: int
    key: str  # a pattern name, or "error_correction"
    guidance: str
    shots: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)


def allocate(total: int, sizes: list[int], how: str = "proportional") -> list[int]:
    """Split ``total`` across groups: by size (largest remainder, ties to the earlier group) or evenly."""
    if not sizes or total <= 0:
        return [0] * len(sizes)
    weights = sizes if how == "proportional" else [1] * len(sizes)
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def usable_seeds(seeds: list[Example], held_out: HeldOut) -> list[Example]:
    """Seeds that may be shown to the generator: never one whose question is also a held-out item."""
    return [s for s in seeds if held_out.found_in(question_of(s)) is None]


def shots_from_seeds(seeds: list[Example], n: int, rng: random.Random) -> list[dict]:
    """``n`` random seed examples (from ``usable_seeds``) as few-shot format examples."""
    chosen = rng.sample(seeds, min(n, len(seeds)))
    return [{"question": question_of(s), "solution": s.target} for s in chosen]


@dataclass
class QualityControl:
    task: Task
    teacher: Any
    task_description: str
    decontaminator: Decontaminator
    deduplicator: Deduplicator
    enabled: bool = True  # false (ablation): only decontamination, which the leakage invariant needs
    verify: bool = True
    verification_version: str = "v1"

    def cheap_problem(self, generated: GeneratedExample) -> str | None:
        if self.enabled and (reason := format_problem(self.task, generated)):
            return reason
        if reason := self.decontaminator.problem(generated.question + "\n" + generated.solution):
            return reason
        if self.enabled and (reason := self.deduplicator.problem(generated.question)):
            return reason
        return None

    def verdicts(self, generated: list[GeneratedExample], first_index: int) -> list[Verdict | None]:
        if not (self.enabled and self.verify) or not generated:
            return [Verdict(valid=True, answer=g.answer) for g in generated]
        prompts = [render("verification", self.verification_version, schema=Verdict,
                          task_description=self.task_description, question=g.question, solution=g.solution)
                   for g in generated]  # fmt: skip
        return self.teacher.complete_many([Request("verification", p, first_index, Verdict) for p in prompts])


def generate(state_teacher: Any, qc: QualityControl, slots: list[Slot], held_out: HeldOut,
             max_regenerations: int, iteration: int) -> tuple[list[Example], dict[str, dict]]:  # fmt: skip
    """Generate one example per slot; a rejected slot is regenerated (new sample index) up to the limit."""
    counts: dict[str, dict] = {s.key: {"requested": 0, "generated": 0, "accepted": 0,
                                       "rejected": Counter()} for s in slots}  # fmt: skip
    accepted: dict[int, Example] = {}
    pending = list(slots)
    for attempt in range(max_regenerations + 1):
        if not pending:
            break
        prompts = [render("generation", schema=GeneratedExample, task_description=qc.task_description,
                          guidance=s.guidance, examples=s.shots) for s in pending]  # fmt: skip
        assert_no_leak(held_out, ("\n".join(c for _, c in p.messages) for p in prompts), [])
        # a fresh sample index per attempt and iteration: a retry, or the same prompt next iteration, is a new
        # sample, not a cache hit of an answer already used
        offset = (iteration * (max_regenerations + 1) + attempt) * len(slots)
        requests = [Request("generation", p, offset + s.index, GeneratedExample)
                    for s, p in zip(pending, prompts, strict=True)]  # fmt: skip
        answers = state_teacher.complete_many(requests)
        survivors = []
        for slot, answer in zip(pending, answers, strict=True):
            row = counts[slot.key]
            row["requested"] += 1
            if answer is None:
                row["rejected"]["unparsed"] += 1
                continue
            row["generated"] += 1
            if reason := qc.cheap_problem(answer):
                row["rejected"][reason] += 1
                continue
            qc.deduplicator.add(answer.question)  # later candidates in this batch must differ from it
            survivors.append((slot, answer))
        verdicts = qc.verdicts([a for _, a in survivors], offset)
        for (slot, answer), verdict in zip(survivors, verdicts, strict=True):
            if qc.enabled and qc.verify and (reason := verification_problem(qc.task, answer, verdict)):
                counts[slot.key]["rejected"][reason] += 1
                continue
            counts[slot.key]["accepted"] += 1
            accepted[slot.index] = _example(qc.task, answer, slot, iteration)
        pending = [s for s in pending if s.index not in accepted]
    examples = [accepted[i] for i in sorted(accepted)]
    assert_no_leak(held_out, [], examples)
    return examples, {k: {**v, "rejected": dict(sorted(v["rejected"].items()))} for k, v in counts.items()}


def _example(task: Task, generated: GeneratedExample, slot: Slot, iteration: int) -> Example:
    return Example(
        id=f"pada/i{iteration}/{slot.index}",
        prompt=task.user_prompt(generated.question.strip()),
        target=generated.solution.strip(),
        answer=normalised_answer(task, generated.answer),
        source=SOURCE,
        meta={"question": generated.question.strip(), "pattern": slot.key, **slot.meta},
    )
