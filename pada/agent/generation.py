"""Data generation (PaDA-Agent §3.4) with quality control and regeneration of rejected examples.

Two sources: strategy-guided examples (the budget split across patterns, by cluster size by default) and
LLM2LLM-style error-correcting examples, one per seed example the student got wrong. Few-shot format
examples come from the seed data only; validation and test text never enters these prompts.

A slot is asked in one of three forms. Its own request (``Slot.batch`` None): the generation prompt with
the slot's guidance and few-shot examples, one item. Or a list request shared by the slots of one
``Slot.batch`` pending in an attempt, asking ``problems_asked(pending, attempt)`` problems: LLM2LLM's
(``Slot.seed`` set, PaDA-Agent's error-correcting slots on multiple-choice and code tasks,
``generation.correction_format``), showing that wrong seed with its answer (pada.methods.similar_problems);
or, for the strategy slots of one pattern (``generation.strategy_format: json_list``), the generation
prompt's list form (``generation.v3``) with the first slot's guidance and shots. A list's problems fill its
slots in answer order, each through the same checks, and those written after every slot of the batch is
filled are counted ``not_needed`` (never checked, never kept).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pada.agent.leakage import HeldOut, assert_no_leak
from pada.agent.quality import Decontaminator, Deduplicator, judge_problem, verification_problem
from pada.methods.similar_problems import ROLE, problem_list, problems_asked, similar_problems_prompt
from pada.tasks.base import question_of
from pada.tasks.synthetic import SyntheticFormat
from pada.teacher import Request, render
from pada.teacher.examples import field_lines
from pada.teacher.schemas import JudgeScore, Verdict
from pada.types import Example

SOURCE = "synthetic:pada"
# The generation prompt's list form (strategy_format: json_list), for items with more fields than a worked
# solution: pada/prompts/generation.v3.j2
LIST_GENERATION_VERSION = "v3"


@dataclass
class Slot:
    """One example wanted: its prompt guidance, few-shot examples, and the report row it counts towards."""

    index: int
    key: str  # a pattern name, or "error_correction"
    guidance: str
    shots: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)
    seed: Example | None = None  # set: asked in LLM2LLM's list request for this wrong seed (module docstring)
    batch: str | None = None  # set: the list request this slot shares with the batch's other pending slots


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


def shots_from_seeds(fmt: SyntheticFormat, seeds: list[Example], n: int, rng: random.Random) -> list[dict]:
    """``n`` random seed examples (from ``usable_seeds``) as few-shot format examples."""
    return [fmt.shot(s) for s in rng.sample(seeds, min(n, len(seeds)))]


@dataclass
class QualityControl:
    fmt: SyntheticFormat
    teacher: Any
    task_description: str
    decontaminator: Decontaminator
    deduplicator: Deduplicator
    enabled: bool = True  # false (ablation): only decontamination, which the leakage invariant needs
    verify: bool = True
    verification_version: str = "v1"
    judge_min_score: int | None = None  # None: no judge; else the teacher's 1-10 score must reach it
    judge_version: str = "v1"

    def cheap_problem(self, item: Any) -> str | None:
        if self.enabled and (reason := self.fmt.problem(item)):
            return reason
        if reason := self.decontaminator.problem(self.fmt.text(item)):
            return reason
        if self.enabled and (reason := self.deduplicator.problem(self.fmt.question(item))):
            return reason
        return None

    def costly_problems(
        self, items: list[Any], first_index: int
    ) -> tuple[list[str | None], list[int | None]]:
        """Execution, teacher verification and the judge, in that order, each on the previous survivors.
        Returns a rejection reason and the judge's score (None when not judged) per item."""
        reasons: list[str | None] = [None] * len(items)
        scores: list[int | None] = [None] * len(items)
        if not self.enabled or not items:
            return reasons, scores
        self._apply(reasons, items, self.fmt.run_checks)
        if self.verify and self.fmt.verify_by_teacher:
            self._apply(reasons, items, lambda xs: self._verification_problems(xs, first_index))
        if self.judge_min_score is not None:
            judged = [i for i, r in enumerate(reasons) if r is None]
            answers = self._ask(
                "judge", self.judge_version, JudgeScore, [items[i] for i in judged], first_index
            )
            for i, answer in zip(judged, answers, strict=True):
                scores[i] = answer.score if answer is not None else None
                reasons[i] = judge_problem(answer, self.judge_min_score)
        return reasons, scores

    @staticmethod
    def _apply(reasons: list[str | None], items: list[Any], check) -> None:
        open_ = [i for i, r in enumerate(reasons) if r is None]
        for i, reason in zip(open_, check([items[i] for i in open_]), strict=True):
            reasons[i] = reason

    def _verification_problems(self, items: list[Any], first_index: int) -> list[str | None]:
        verdicts = self._ask("verification", self.verification_version, Verdict, items, first_index)
        return [verification_problem(self.fmt, x, v) for x, v in zip(items, verdicts, strict=True)]

    def _ask(self, role: str, version: str, schema, items: list[Any], first_index: int) -> list[Any]:
        prompts = [
            render(
                role,
                version,
                schema=schema,
                task_description=self.task_description,
                question=self.fmt.display_question(x),
                solution=self.fmt.solution(x),
            )
            for x in items
        ]
        return self.teacher.complete_many([Request(role, p, first_index, schema) for p in prompts])


def generate(
    state_teacher: Any,
    qc: QualityControl,
    slots: list[Slot],
    held_out: HeldOut,
    max_regenerations: int,
    iteration: int,
    stride: int | None = None,
    namespace: int = 0,
) -> tuple[list[Example], dict[str, dict]]:
    """Generate one example per slot; a rejected slot is regenerated (new sample index) up to the limit.
    ``stride``: the number of slots of the whole round when ``slots`` is a part of it (sample indices then
    stay those of the whole round), above every ``slot.index``; None = ``len(slots)``. ``namespace``: added
    to every sample index (a top-up's own range, ``pada.agent.method.TOP_UP_SAMPLES``)."""
    counts = _empty_counts(slots, judging=qc.judge_min_score is not None)
    accepted: dict[int, Example] = {}
    pending = list(slots)
    for attempt in range(max_regenerations + 1):
        if not pending:
            break
        # a fresh sample index per attempt and iteration: a retry, or the same prompt next iteration, is a new
        # sample, not a cache hit of an answer already used
        offset = namespace + (iteration * (max_regenerations + 1) + attempt) * (stride or len(slots))
        answers = _ask_for_examples(state_teacher, qc, pending, held_out, offset, attempt)
        survivors = _cheap_checks(qc, answers, counts)
        _costly_checks(qc, survivors, offset, counts, accepted, iteration)
        pending = [s for s in pending if s.index not in accepted]
    examples = [accepted[i] for i in sorted(accepted)]
    assert_no_leak(held_out, [], examples)
    return examples, {k: _finished(v) for k, v in counts.items()}


def _empty_counts(slots: list[Slot], judging: bool) -> dict[str, dict]:
    """One report row per slot key (pattern name or "error_correction")."""
    return {
        s.key: {
            "requested": 0,
            "generated": 0,
            "accepted": 0,
            "rejected": Counter(),
            **({"judge_scores": []} if judging else {}),
        }
        for s in slots
    }


@dataclass
class _Answer:
    """One request's outcome: the slots it serves (in order), the problems it asked, its parsed items."""

    slots: list[Slot]
    asked: int
    items: list[Any] | None  # None: the answer did not parse


def _ask_for_examples(
    state_teacher: Any,
    qc: QualityControl,
    pending: list[Slot],
    held_out: HeldOut,
    offset: int,
    attempt: int,
) -> list[_Answer]:
    """The teacher's answer per request: a slot of its own, or the pending slots of one ``Slot.batch`` (a
    wrong seed's, or a pattern's) sharing a list request of ``problems_asked(slots, attempt)`` problems
    (module docstring). A request's sample index is ``offset`` + its (first) slot's index. Raises if a prompt holds held-out text (assert_no_leak)."""
    batches: dict[str, list[Slot]] = {}
    for slot in pending:
        if slot.batch is not None:
            batches.setdefault(slot.batch, []).append(slot)
    asks: list[tuple[list[Slot], int, Request]] = []
    for slot in pending:
        if slot.batch is None:
            asks.append(([slot], 1, _own_request(qc, slot, offset)))
        elif batches[slot.batch][0] is slot:  # a batch's list request stands where its first slot does
            slots = batches[slot.batch]
            n = problems_asked(len(slots), attempt)
            asks.append((slots, n, _list_request(state_teacher, qc, slots[0], n, offset)))
    assert_no_leak(held_out, ("\n".join(c for _, c in r.messages.messages) for *_, r in asks), [])
    answers = state_teacher.complete_many([r for *_, r in asks])
    return [
        _Answer(slots, n, None if answer is None else list(answer.problems) if slots[0].batch else [answer])
        for (slots, n, _), answer in zip(asks, answers, strict=True)
    ]


def _own_request(qc: QualityControl, slot: Slot, offset: int) -> Request:
    """The slot's own request: the generation prompt with its guidance and shots, one item."""
    prompt = render(
        "generation",
        qc.fmt.generation_prompt,
        schema=qc.fmt.schema,
        task_description=qc.task_description,
        guidance=slot.guidance,
        examples=qc.fmt.prompt_examples(slot.shots),
    )
    return Request("generation", prompt, offset + slot.index, qc.fmt.schema)


def _list_request(state_teacher: Any, qc: QualityControl, first: Slot, n: int, offset: int) -> Request:
    """A batch's list request for ``n`` problems: a wrong seed's (LLM2LLM's prompt) or a pattern's (the
    generation prompt's list form, ``first``'s guidance and shots), with room for each problem to be as long
    as the role's own request allows (the role's max_tokens x n: a list cut short does not parse)."""
    if first.seed is not None:
        prompt = similar_problems_prompt(qc.fmt, first.seed, n, qc.task_description)
    else:
        prompt = render(
            "generation",
            LIST_GENERATION_VERSION,
            task_description=qc.task_description,
            guidance=first.guidance,
            examples=qc.fmt.prompt_examples(first.shots),
            fields=field_lines(qc.fmt.schema),
            num_items=n,
        )
    room = n * state_teacher.max_tokens(ROLE)
    return Request(ROLE, prompt, offset + first.index, problem_list(qc.fmt.schema, n), max_tokens=room)


def _cheap_checks(
    qc: QualityControl, answers: list[_Answer], counts: dict[str, dict]
) -> list[tuple[Slot, Any]]:
    """Count every problem asked and drop the unparsed, malformed, contaminated and duplicate ones; each
    survivor fills the next open slot of its request and its question joins the deduplicator at once, so
    later candidates must differ from it; problems past a request's last open slot are ``not_needed``."""
    survivors = []
    for answer in answers:
        row, open_ = counts[answer.slots[0].key], list(answer.slots)
        row["requested"] += answer.asked
        if answer.items is None:
            row["rejected"]["unparsed"] += answer.asked
            continue
        for item in answer.items:
            row["generated"] += 1
            if not open_:
                row["rejected"]["not_needed"] += 1
            elif reason := qc.cheap_problem(item):
                row["rejected"][reason] += 1
            else:
                qc.deduplicator.add(qc.fmt.question(item))
                survivors.append((open_.pop(0), item))
    return survivors


def _costly_checks(
    qc: QualityControl,
    survivors: list[tuple[Slot, Any]],
    offset: int,
    counts: dict[str, dict],
    accepted: dict[int, Example],
    iteration: int,
) -> None:
    """Execution, verification and the judge on the survivors; what passes goes into ``accepted`` by slot."""
    reasons, scores = qc.costly_problems([a for _, a in survivors], offset)
    for (slot, answer), reason, score in zip(survivors, reasons, scores, strict=True):
        if score is not None:
            counts[slot.key]["judge_scores"].append(score)
        if reason:
            counts[slot.key]["rejected"][reason] += 1
            continue
        counts[slot.key]["accepted"] += 1
        accepted[slot.index] = qc.fmt.to_example(
            answer, f"pada/i{iteration}/{slot.index}", SOURCE, {"pattern": slot.key, **slot.meta}
        )


def merge_counts(total: dict[str, dict], part: dict[str, dict]) -> dict[str, dict]:
    """Report rows of two parts of one round (``generate`` on parts of its slots) added up."""
    out = {key: {**row, "rejected": dict(row["rejected"])} for key, row in total.items()}
    for key, row in part.items():
        if key not in out:
            out[key] = {**row, "rejected": dict(row["rejected"])}
            continue
        mine = out[key]
        for name in ("requested", "generated", "accepted"):
            mine[name] += row[name]
        for reason, n in row["rejected"].items():
            mine["rejected"][reason] = mine["rejected"].get(reason, 0) + n
        if "judged" in row:  # judge means, weighted by the items judged
            judged = mine["judged"] + row["judged"]
            scores = [
                (m, n)
                for m, n in ((mine["judge_mean"], mine["judged"]), (row["judge_mean"], row["judged"]))
                if n
            ]
            mine["judge_mean"] = round(sum(m * n for m, n in scores) / judged, 2) if judged else None
            mine["judged"] = judged
        mine["rejected"] = dict(sorted(mine["rejected"].items()))
    return out


def _finished(row: dict[str, Any]) -> dict[str, Any]:
    """A report row: rejection reasons sorted; judge scores (when judged) as a count and a mean."""
    row = {**row, "rejected": dict(sorted(row["rejected"].items()))}
    if "judge_scores" in row:
        scores = row.pop("judge_scores")
        row.update(judged=len(scores), judge_mean=round(sum(scores) / len(scores), 2) if scores else None)
    return row
