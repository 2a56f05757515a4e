"""LLMs-as-Instructors (Ying et al., EMNLP Findings 2024): an instructor LLM analyses the student's errors and
writes training data tailored to them, in iterative cycles.

What the public record says (abstract, the Figure 2 caption as quoted by reviews; the full text and the
code were not reachable): each cycle (1) selects data that exercises the target capability, (2) evaluates
the target model on it and collects its responses, (3) the instructor analyses the responses and supplies
tailored training data, (4) the target model is trained and evaluated. Two strategies: "Learning from
Error" (LE) looks only at the incorrect responses; "Learning from Error by Contrast" (LEC) analyses
incorrect responses against correct ones "for a deeper understanding of errors".

Here, per iteration (``needs_train_eval``: the data of step 1 is the current training set):
  1. the wrong answers on the training set (``seeds_only`` restricts them to original seeds);
  2. ``strategy: le`` - one ``error_analysis`` call per wrong item (pada/prompts/error_analysis.v4.j2:
     question, reference solution, the student's answer; schema ErrorAnalysis);
     ``strategy: lec`` - the same call with the ``contrast_k`` most similar CORRECTLY answered training
     items and the student's answers to them (pada/prompts/lai_contrast_analysis.v2.j2);
  3. ``per_error`` ``generation`` samples per analysed error (pada/prompts/lai_generation.v1.j2: the
     wrong item, its reference and the analysis; schema GeneratedExample), exact duplicates dropped.
     Multiple-choice and code tasks (baselines/formats.py): the analysis reads the student's whole prompt
     (options, tests); generation (lai_generation.v2) shows the wrong item in the task's item shape and
     asks for that shape; malformed items or keys naming no option are ``bad_answer``, code failing its
     own tests in the sandbox ``tests_failed``.

Not verifiable from public text, so chosen here and switchable: how contrast items are picked
(``similarity``: embedding = cosine of all-MiniLM-L6-v2 question embeddings, or rouge = ROUGE-L, cheap and
deterministic; ``contrast_k`` neighbours); how many examples per error (``per_error``); analysis and
generation as two calls rather than one; whether synthetic items are re-analysed (``seeds_only``); the
number of cycles (``iterations``); the prompts' wording (written for this project).

Deviations that are known, each a switch: LoRA on a small student [full fine-tuning of 7-8B models]
(``trainer.mode``); retraining from base each cycle [unverified] (``trainer.init_from``); a generation
budget, the runner's quota ``synthetic_budget`` / ``synthetic_per_iteration`` [none] (``budget_match`` raises
per_error to reach it): when it binds, a seeded random subset of
errors is served, and a round left short is topped up by the runner (``budget_match_rounds``,
pada/run/topup.py: ``propose_more`` asks the analysed errors with the fewest problems for more); ``verify`` re-derives generated answers (role verification) [no check is described].
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines.common import (
    GENERATIVE_SOURCES,
    allowance,
    describe,
    is_seed,
    per_unit,
    question_of,
    require_teacher,
    rouge_l,
    rouge_tokens,
    spread,
    within_allowance,
    write_report,
)
from baselines.formats import FORMAT_PROMPT, Items
from pada.errors import PadaError
from pada.methods.base import IterationState, Method
from pada.tasks.base import Task
from pada.teacher import Request, render
from pada.teacher.schemas import ErrorAnalysis
from pada.types import EvalRecord, Example

NAME = "llms_as_instructors"


class LLMsAsInstructors(Method):
    name = NAME
    # bump when a change here can alter its output (pada/versions.py); 1.1: example-answer prompts (issue 26);
    # 1.2: spend-aware under the runner's teacher allowance (teacher_budget); 1.3: the runner's
    # budget_match top-ups (propose_more) from the round's analyses; 1.4: a grammar bounds the verifier's
    # free-text fields (schemas.Verdict.max_chars) under llama.cpp; 1.5: and a generated multiple-choice
    # item's explanation (synthetic.ChoiceItem.max_chars)
    version = "1.5"
    version_sources = GENERATIVE_SOURCES
    needs_teacher = True
    needs_train_eval = True

    def __init__(self, cfg):
        super().__init__(cfg)
        if cfg.strategy not in ("le", "lec"):
            raise PadaError(
                f"method.strategy={cfg.strategy!r}; choose le (learning from errors) or lec (by contrast)"
            )
        if cfg.similarity not in ("embedding", "rouge"):
            raise PadaError(f"method.similarity={cfg.similarity!r}; choose embedding or rouge")

    def embedders(self) -> tuple[str, ...]:
        """The question embedder, only when lec neighbours are found by embedding (rouge needs none)."""
        uses = self.cfg.strategy == "lec" and self.cfg.similarity == "embedding"
        return (str(self.cfg.embedder),) if uses else ()

    def check_task(self, task: Task) -> None:
        Items(task, NAME)  # evaluation-only tasks take no generated items

    def propose(self, state: IterationState) -> list[Example]:
        require_teacher(state, NAME)
        items = Items(state.task, NAME)
        counts: Counter = Counter()
        records = {r.item_id: r for r in state.train_records}
        pool = [
            ex for ex in state.train_data if ex.id in records and (is_seed(ex) or not self.cfg.seeds_only)
        ]
        wrong = [ex for ex in pool if not records[ex.id].correct]
        right = [ex for ex in pool if records[ex.id].correct]
        counts["wrong"], counts["right"] = len(wrong), len(right)
        per_error = per_unit(int(self.cfg.per_error), len(wrong), state)
        plan = spread(wrong, per_error, allowance(state), state.rng)
        served, analyses, pairs = [], [], []
        seen = {" ".join(question_of(ex).lower().split()) for ex in state.train_data}
        # whole unless effort is matched (teacher_budget): then error by error, each generated before the next
        self._round = _Round(state.iteration, items, seen, counts)
        for part in within_allowance(state, plan, counts, 1 + per_error):
            served += [ex for ex, _ in part]
            analyses += self._analyse(state, items, [ex for ex, _ in part], right, records, counts)
            pairs += self._generate(state, items, part, analyses[-len(part) :], counts, seen)
        new = items.verify(state.teacher, pairs, counts) if self.cfg.verify else [ex for _, ex in pairs]
        counts["kept"] = len(new)
        self._round.analysed = [(ex, a) for ex, a in zip(served, analyses, strict=True) if a is not None]
        self._round.report = {
            "strategy": self.cfg.strategy,
            "analyses": {ex.id: a.model_dump() for ex, a in zip(served, analyses, strict=True) if a},
        }
        write_report(state, counts, **self._round.report)
        return new

    def propose_more(
        self, state: IterationState, proposed: list[Example], top_up: int
    ) -> list[Example] | None:
        """The runner's budget_match top-up: ``state.quota.target`` more problems from this round's analyses
        (no new analysis), one at a time to the analysed error with the fewest proposed so far (ties: their
        order), each at the error's next sample index (never an answer already used), exact duplicates of
        any question seen this round dropped. None when ``propose`` did not run this round or analysed no
        error."""
        round_ = getattr(self, "_round", None)
        if round_ is None or round_.iteration != state.iteration or not round_.analysed:
            return None
        have = Counter(ex.meta.get("parent") for ex in proposed)
        extra: Counter = Counter()
        for _ in range(state.quota.target or 0):
            ex, _ = min(round_.analysed, key=lambda pair: have[pair[0].id] + extra[pair[0].id])
            extra[ex.id] += 1
        chosen = [(ex, a) for ex, a in round_.analysed if extra[ex.id]]
        counts: Counter = Counter()
        pairs = []
        per_unit = max(extra.values(), default=1) * (1 + bool(self.cfg.verify))  # generations (+ checks)
        for part in within_allowance(state, [(ex, extra[ex.id]) for ex, _ in chosen], counts, per_unit):
            analyses = [a for ex, a in chosen if ex.id in {e.id for e, _ in part}]
            pairs += self._generate(state, round_.items, part, analyses, counts, round_.seen)
        new = (
            round_.items.verify(state.teacher, pairs, counts) if self.cfg.verify else [ex for _, ex in pairs]
        )
        counts["kept"] = len(new)
        round_.top_ups.append({"top_up": top_up, **counts})
        write_report(state, round_.counts, **round_.report, top_ups=round_.top_ups)
        return new

    # 2: error analysis, alone (LE) or against similar correct answers (LEC) ---------------------------
    def _analyse(
        self,
        state,
        items: Items,
        wrong: list[Example],
        right: list[Example],
        records: dict[str, EvalRecord],
        counts: Counter,
    ) -> list[ErrorAnalysis | None]:
        contrasts = self._neighbours(wrong, right) if self.cfg.strategy == "lec" else [[] for _ in wrong]
        requests = []
        for ex, near in zip(wrong, contrasts, strict=True):
            common = dict(
                schema=ErrorAnalysis,
                task_description=describe(state.task),
                question=items.asked(ex),
                reference=ex.target,
                student_output=records[ex.id].output,
            )
            if self.cfg.strategy == "lec":
                shown = [{"question": items.asked(c), "student_output": records[c.id].output} for c in near]
                prompt = render("lai_contrast_analysis", "v2", contrasts=shown, **common)
            else:
                prompt = render("error_analysis", "v4", **common)
            requests.append(Request("error_analysis", prompt, 0, ErrorAnalysis))
        analyses = state.teacher.complete_many(requests)
        counts["analysis_failed"] += sum(a is None for a in analyses)
        return analyses

    def _neighbours(self, wrong: list[Example], right: list[Example]) -> list[list[Example]]:
        """The ``contrast_k`` correctly answered items most similar to each wrong one (ties: data order)."""
        if not right:
            return [[] for _ in wrong]
        sims = self._similarity([question_of(e) for e in wrong], [question_of(e) for e in right])
        k = min(int(self.cfg.contrast_k), len(right))
        return [[right[j] for j in np.argsort(-row, kind="stable")[:k]] for row in sims]

    def _similarity(self, a: list[str], b: list[str]) -> np.ndarray:
        if self.cfg.similarity == "rouge":
            tokens_b = [rouge_tokens(y) for y in b]
            return np.array([[rouge_l(rouge_tokens(x), y) for y in tokens_b] for x in a])
        from pada.agent.clustering import embed

        vectors, _ = embed(a + b, self.cfg.embedder)
        return vectors[: len(a)] @ vectors[len(a) :].T

    # 3: per_error new problems per analysed error -----------------------------------------------------
    def _generate(self, state, items: Items, plan, analyses, counts: Counter, seen: set[str]):
        """The kept (item, example) pairs; ``seen``: normalised questions so far (grows with each keep)."""
        requests, owners = [], []
        for (ex, n), analysis in zip(plan, analyses, strict=True):
            if analysis is None:
                continue
            prompt = self._prompt(state, items, ex, analysis)
            first = self._round.next_index.get(ex.id, 0)  # a top-up continues where the round stopped
            self._round.next_index[ex.id] = first + n
            for i in range(first, first + n):
                index = state.iteration * 1000 + i  # a new sample when the same error recurs next cycle
                requests.append(
                    Request("generation", prompt, index, items.schema, temperature=self.cfg.temperature)
                )
                owners.append((ex, i))
        counts["requested"] += len(requests)
        answers = state.teacher.complete_many(requests)
        ok = [k for k, answer in enumerate(answers) if answer is not None]
        ids = [f"{ex.id}/{NAME}/it{state.iteration}/{i}" for ex, i in owners]
        built = items.build([answers[k] for k in ok], [ids[k] for k in ok], [owners[k][0].id for k in ok])
        by_request = dict(zip(ok, built, strict=True))
        new = []
        for k, answer in enumerate(answers):
            if answer is None:
                counts["teacher_failed"] += 1
                continue
            key = " ".join(items.question(answer).lower().split())
            if key in seen:
                counts["duplicate"] += 1
            elif isinstance(by_request[k], str):
                counts[by_request[k]] += 1
            else:
                seen.add(key)
                new.append((answer, by_request[k]))
        return new

    def _prompt(self, state, items: Items, ex: Example, analysis: ErrorAnalysis):
        if not items.math:  # the wrong item and the answer asked for, in the task's own shape
            return render(
                "lai_generation",
                FORMAT_PROMPT,
                schema=items.schema,
                task_description=describe(state.task),
                example=items.shown(ex),
                error=analysis.error,
                missing_skill=analysis.missing_skill,
            )
        return render(
            "lai_generation",
            "v1",
            schema=items.schema,
            task_description=describe(state.task),
            question=question_of(ex),
            reference=ex.target,
            error=analysis.error,
            missing_skill=analysis.missing_skill,
        )


@dataclass
class _Round:
    """One augment round's state, kept for the runner's top-ups of the same round (``propose_more``)."""

    iteration: int
    items: Items
    seen: set[str]  # normalised questions of the training data and of every problem kept this round
    counts: Counter  # the first proposal's report counts
    analysed: list[tuple[Example, ErrorAnalysis]] = field(default_factory=list)  # errors with an analysis
    next_index: dict[str, int] = field(default_factory=dict)  # per error: the next unused sample index
    report: dict[str, Any] = field(default_factory=dict)
    top_ups: list[dict[str, Any]] = field(default_factory=list)
