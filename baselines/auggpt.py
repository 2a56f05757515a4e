"""AugGPT (Dai et al., 2023/2025): the teacher rephrases every seed example k times; the answer is kept.

Original (yhydhx/AugGPT; paper abstract): ChatGPT rephrases each training sentence into several conceptually
similar but differently worded samples (the repo ships 6 per sentence); everything is added at once and a
classifier is trained on the union. One shot, untargeted: it never looks at the student's errors.

Here, per iteration (``iterations: 1`` = one augmentation round, then the final training):
  1. for every seed example, ``k`` samples of the ``paraphrase`` role (pada/prompts/paraphrase.v2.j2,
     schema Paraphrase) ask for the question reworded with every quantity kept;
  2. paraphrases identical to the question or to an earlier paraphrase are dropped (counted);
  3. where the task's answers are checkable as text (``verify: auto``), a ``verification`` call re-solves
     the paraphrased question (for multiple choice, the whole prompt with its options) against the seed's
     solution; a paraphrase whose verdict is invalid or whose answer disagrees with the seed's gold answer
     is dropped (counted); code tasks skip it (the seed's tests already pin the answer);
  4. each kept paraphrase becomes a training example with the seed's prompt furniture, target and answer.

Deviations from the original, each a config switch:
  - generative SFT on QA pairs instead of sentence classification (inherent to this benchmark);
  - ``k`` samples of a one-paraphrase prompt instead of one prompt asking for k rephrasings (``k``; the
    schema asks for one question, so n samples give n independent rewrites that the cache keeps apart);
  - answer re-derivation and disagreement filtering (``verify``: auto | true | false; the original keeps
    the label unconditionally, ``verify=false`` is faithful);
  - exact-duplicate removal (``drop_duplicates``; the original keeps whatever the teacher returns);
  - a generation budget (the runner's quota ``synthetic_budget`` / ``synthetic_per_iteration``, null =
    uncapped as the original; ``budget_match`` raises k to reach it):
    when it binds, every seed still gets floor(cap / seeds) paraphrases and a seeded random subset one more;
    a round that filters left short is topped up by the runner (``budget_match_rounds``, pada/run/topup.py):
    ``propose_more`` asks one more rewrite at a time of the seeds with the fewest so far, at each seed's
    next sample index, deduplicated against every rewrite of that seed this round.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from baselines.common import (
    GENERATIVE_SOURCES,
    allowance,
    describe,
    fewest_first,
    is_seed,
    matches_answer,
    paraphrased,
    per_unit,
    question_of,
    require_teacher,
    spread,
    within_allowance,
    write_report,
)
from baselines.formats import Items
from pada.errors import PadaError
from pada.methods.base import IterationState, Method
from pada.tasks.base import Task
from pada.tasks.synthetic import synthetic_format
from pada.teacher import Request, render
from pada.teacher.schemas import Paraphrase, Verdict
from pada.types import Example

NAME = "auggpt"


class AugGPT(Method):
    name = NAME
    # bump when a change here can alter its output (pada/versions.py); 1.1: example-answer prompts (issue 26);
    # 1.2: stops at the runner's teacher allowance (teacher_budget), parts verified in turn; 1.3: the
    # runner's budget_match top-ups (propose_more), sample indices continuing per seed; 1.4: a grammar bounds
    # the verifier's free-text fields (schemas.Verdict.max_chars) under llama.cpp; 1.5: and a generated
    # multiple-choice item's explanation (synthetic.ChoiceItem.max_chars)
    version = "1.5"
    version_sources = GENERATIVE_SOURCES
    needs_teacher = True

    def propose(self, state: IterationState) -> list[Example]:
        require_teacher(state, NAME)
        verify = self._verifies(state.task)
        counts: Counter = Counter()
        seeds = [ex for ex in state.seed_data if is_seed(ex)]
        per_seed = per_unit(int(self.cfg.k), len(seeds), state)
        plan = spread(seeds, per_seed, allowance(state), state.rng)
        self._round = _Round(state.iteration, seeds, verify, counts)
        candidates = self._serve(state, plan, counts, per_seed)
        counts["kept"] = len(candidates)
        self._round.report = {"k": int(self.cfg.k), "seeds": len(seeds), "verify": verify}
        write_report(state, counts, **self._round.report)
        return candidates

    def propose_more(
        self, state: IterationState, proposed: list[Example], top_up: int
    ) -> list[Example] | None:
        """The runner's budget_match top-up: ``state.quota.target`` more paraphrases, one at a time to the
        seed with the fewest proposed so far (ties: seed order), so the equal share per seed is restored;
        each at the seed's next sample index (never an answer already used) and checked for duplicates
        against every rewrite of that seed seen this round. None when ``propose`` did not run this round."""
        round_ = getattr(self, "_round", None)
        if round_ is None or round_.iteration != state.iteration or not round_.seeds:
            return None
        plan = fewest_first(round_.seeds, proposed, state.quota.target or 0)
        counts: Counter = Counter()
        found = self._serve(state, plan, counts, max((k for _, k in plan), default=1))
        counts["kept"] = len(found)
        round_.top_ups.append({"top_up": top_up, **counts})
        write_report(state, round_.counts, **round_.report, top_ups=round_.top_ups)
        return found

    def _serve(self, state: IterationState, plan, counts: Counter, per_seed: int) -> list[Example]:
        """Paraphrases (verified where the task allows) for ``plan``: whole unless effort is matched
        (teacher_budget): then seed by seed, each part verified before the next."""
        candidates, verify = [], self._round.verify
        for part in within_allowance(state, plan, counts, per_seed * (1 + verify)):
            found = self._paraphrase(state, part, counts)
            candidates += self._verify(state, found, counts) if verify else found
        return candidates

    # 1-2: k paraphrases per seed, exact duplicates dropped --------------------------------------------
    def _paraphrase(self, state: IterationState, plan, counts: Counter) -> list[Example]:
        """Each seed's requests at its next sample indices (a top-up continues where the round stopped);
        a rewrite equal to the seed's question or to any earlier rewrite of it this round is dropped."""
        requests, owners, next_index = [], [], self._round.next_index
        for seed, n in plan:
            prompt = render(
                "paraphrase", self.cfg.prompt_version, schema=Paraphrase, question=question_of(seed)
            )
            first = next_index.get(seed.id, 0)
            next_index[seed.id] = first + n
            for i in range(first, first + n):
                requests.append(
                    Request("paraphrase", prompt, i, Paraphrase, temperature=self.cfg.temperature)
                )
                owners.append((seed, i))
        counts["requested"] += len(requests)
        answers = state.teacher.complete_many(requests)
        out, seen = [], self._round.seen
        for (seed, i), answer in zip(owners, answers, strict=True):
            if answer is None:
                counts["teacher_failed"] += 1
                continue
            text = answer.question.strip()
            known = seen.setdefault(seed.id, {_norm(question_of(seed))})
            if self.cfg.drop_duplicates and _norm(text) in known:
                counts["duplicate"] += 1
                continue
            known.add(_norm(text))
            out.append(paraphrased(seed, text, f"{seed.id}/{NAME}/it{state.iteration}/{i}", NAME))
        return out

    # 3: re-derive the answer of each paraphrase; drop disagreements -------------------------------------
    def check_task(self, task: Task) -> None:
        self._verifies(task)  # verify=true on code is one error line before any stage

    def _verifies(self, task: Task) -> bool:
        mode = self.cfg.verify
        checkable = synthetic_format(task).verify_by_teacher  # code: a re-solve cannot check its answer
        if mode == "auto":
            return checkable
        if mode and not checkable:
            raise PadaError(
                f"method.verify=true: a teacher re-solve cannot check task '{task.name}' "
                "(its answers are code); use method.verify=auto or false"
            )
        return bool(mode)

    def _verify(self, state: IterationState, candidates: list[Example], counts: Counter) -> list[Example]:
        items = Items(state.task, NAME)  # multiple choice: the verifier must see the options to name a letter
        requests = [
            Request(
                "verification",
                render(
                    "verification",
                    "v3",
                    schema=Verdict,
                    task_description=describe(state.task),
                    question=items.asked(ex),
                    solution=ex.target,
                ),
                0,
                Verdict,
            )
            for ex in candidates
        ]
        verdicts = state.teacher.complete_many(requests)
        kept = []
        for ex, verdict in zip(candidates, verdicts, strict=True):
            if verdict is None:
                counts["verify_failed"] += 1
            elif not verdict.valid or not matches_answer(state.task, ex, verdict.answer):
                counts["answer_disagrees"] += 1
            else:
                kept.append(ex)
        return kept


@dataclass
class _Round:
    """One augment round's state, kept for the runner's top-ups of the same round (``propose_more``)."""

    iteration: int
    seeds: list[Example]
    verify: bool
    counts: Counter  # the first proposal's report counts
    next_index: dict[str, int] = field(default_factory=dict)  # per seed: the next unused sample index
    seen: dict[str, set[str]] = field(default_factory=dict)  # per seed: its question and rewrites so far
    report: dict[str, Any] = field(default_factory=dict)
    top_ups: list[dict[str, Any]] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())
