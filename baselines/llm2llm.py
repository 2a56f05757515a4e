"""LLM2LLM (Lee et al., ACL Findings 2024), following the official GSM8K code (SqueezeAILab/LLM2LLM @bcbcb1a,
as documented in the project's reference notes §4.2).

Each step of the original: train the student from the base model on the step's (cumulative) data; evaluate
it on that training data (eval.py: at most 100 new tokens); keep the wrong answers whose question is an
ORIGINAL SEED (filter.py; synthetic items are never re-augmented); for every wrong seed ask the teacher for
similar problems with new names and numbers, prompting with the question and the answer-key rationale (the
student's wrong answer is not shown), until ``instructions_per_seed_task`` (1) new problems are kept:
attempt a requests min(instructions_per_seed_task + a, 10) problems, odd attempts show the problems already
kept for that seed; generate_data.py keeps a problem unless its ROUGE-L F1 against some question of its
corpus is > 0.95 (a tie is kept), the corpus being the step's seed file (THIS STEP'S WRONG SEEDS) plus the
problems kept so far in this step, never the correct seeds or earlier steps' problems (the code also
defines a keyword blacklist but never applies it: ``apply_blacklist``, off by default, applies it); the
next step's data is this step's data plus the new problems. ``steps: 10`` there is 10 trainings, so ``iterations: 9`` here
(augmentation rounds; the runner trains iterations + 1 times).

Here the runner does the training (from base: ``trainer.init_from=base``, the default), the evaluation on
the current training set (``needs_train_eval``) and the accumulation; ``propose`` is steps 3-4 above.

Other task kinds (the original is GSM8K only; see baselines/formats.py): on multiple-choice and code tasks
the prompt shows the wrong seed in the task's item shape (question, options and key; statement, reference
code and tests) and the teacher answers that shape: ``response_format: auto`` (the default; ``json_list``
there, ``json`` on math) asks all of an attempt's n problems of a seed in one request (1.4), as the official
one call does (``json``, 1.3's form, asks one item per request, llm2llm_generation.v2), answered as
``{"problems": [n items]}`` (``problem_list``; llm2llm_generation.v3, which also asks for a new question
rather than a reworded copy and lists the item's fields instead of the schema document). The same ROUGE-L and blacklist rules apply
to each question in answer order, and an item is also rejected when malformed or its key names no option
(``bad_answer``) or its code fails its own tests in the sandbox (``tests_failed``).
``response_format=numbered`` is math only (``json_list`` is not for math); ``verify`` asks the teacher for
multiple choice and relies on the tests for code.

Faithful by default since version 1.1, each a switch (official value in brackets): the dedup corpus
``dedup_against`` [wrong_seeds; ``train_data`` is 1.0's every question of the training data]; the tie at
exactly ``rouge_threshold`` is kept [kept]; the training-set evaluation length ``train_eval_max_new_tokens``
[100; ``auto`` = 100, or the task's own limit where shorter (sim_arith 24, ARC 100) or on code tasks, which
the official never ran and where a cut program fails; null = the task's, 256 on GSM8K, which finds fewer
wrong seeds]; problems asked per attempt min(per_seed + a, 10) [the same; 1.0 asked min(1 + a, 10), equal
at per_seed 1]; the numbered-reply parser ``parse_numbered`` [post_process_gpt3_response, case by case].

Deviations from the official code, each a config switch (faithful value in brackets):
  - evaluation is greedy [sampled, T=0.7, top_p=0.9]: ``eval.temperature=0.7`` samples every evaluation,
    as the original does for training and test sets; top_p stays 1.0 (the runner has no top_p knob);
  - the seed set is a seeded draw (``seed=``) [unseeded ``random.sample`` of 1% of GSM8K train];
  - LoRA [full fine-tuning]: ``trainer.mode=full``; the task's prompt template [the Alpaca-style prompt];
  - wrong answers are scored by the task's scorer [first ``#+ (.*)`` match]: ``task.extraction=strict``
    comes closest;
  - the reply is JSON [one numbered list of n problems per call]: on math tasks one JSON object per sample,
    n samples per attempt (``response_format=numbered`` restores the list format and its parser); on
    multiple-choice and code tasks one JSON list of the n problems per call (``auto`` = ``json_list``, the
    default; ``json`` asks one per sample there too); the prompt's wording is pada's (llm2llm_generation.v1-v3), and
    the official one-shot example exchange is in v1's system prompt (math) and absent from v2/v3;
  - ``seeds_only`` [true] may be set false to also re-augment wrong synthetic items (an ablation);
  - ``max_attempts`` bounds the per-seed retry loop [unbounded];
  - ``verify`` [false] optionally re-derives each new problem's answer with the ``verification`` role;
  - a generation budget, the runner's quota ``synthetic_budget`` / ``synthetic_per_iteration`` [none]
    (``budget_match`` raises per_seed to reach it): when it binds, a seeded
    random subset of the wrong seeds is served; a round the filters (or the runner's held-out check) left
    short is topped up by the runner (``budget_match_rounds``, pada/run/topup.py): ``propose_more`` asks
    the wrong seeds with the fewest problems for more, by the same loop and ROUGE-L corpus.
  - steps: ``iterations`` [9 rounds = steps 10 trainings]; problems per wrong seed: ``per_seed`` [1]; teacher decoding:
    ``temperature`` [1.0], ``max_tokens`` [2149].
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from baselines.common import (
    GENERATIVE_SOURCES,
    affordable_units,
    allowance,
    describe,
    fewest_first,
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
from pada.methods.similar_problems import (
    MAX_PER_REQUEST,
    problem_list,
    problems_asked,
    similar_problems_prompt,
)
from pada.tasks.base import Task
from pada.tasks.code import CodeTask
from pada.teacher import Request, render
from pada.teacher.schemas import GeneratedExample
from pada.types import Example

NAME = "llm2llm"
# A budget_match top-up's sample indices start at top_up x this: above every index of a round's own attempts
# (iteration x 1000 + attempt x 10), so no top-up answer is a cache hit of one already used.
TOP_UP_SAMPLES = 1 << 20
OFFICIAL_TRAIN_EVAL_TOKENS = 100  # official GSM8K/eval.py do_generate(max_new_tokens=100), train and test
DEDUP_CORPORA = ("wrong_seeds", "train_data")  # official | pada 1.0's (every question in the training data)
RESPONSE_FORMATS = ("json", "json_list", "numbered")  # one item per request | n items in one | official list


class LLM2LLM(Method):
    name = NAME
    # 1.1: the official dedup corpus, tie, attempt size, train-eval length and parser; 1.2: verification.v3
    # (an example answer, via baselines/formats.py); 1.3: stops at the runner's teacher allowance; 1.4:
    # response_format json_list (an attempt's n items in one request, llm2llm_generation.v3) and auto
    # 1.5: the runner's budget_match top-ups (propose_more); 1.6: a grammar bounds the verifier's free-text
    # fields (schemas.Verdict.max_chars) under llama.cpp; 1.7: and each listed multiple-choice item's
    # explanation (synthetic.ChoiceItem.max_chars)
    version = "1.7"
    version_sources = GENERATIVE_SOURCES
    needs_teacher = True
    needs_train_eval = True

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        if cfg.get("dedup_against", "wrong_seeds") not in DEDUP_CORPORA:
            raise PadaError(f"method.dedup_against={cfg.dedup_against!r}; choose one of {DEDUP_CORPORA}")

    def check_task(self, task: Task) -> None:
        self.response_format(Items(task, NAME))

    def train_eval_max_new_tokens(self, task: Task) -> int | None:
        """The student's generation length on the training set (``train_eval_max_new_tokens``): ``auto`` is
        the official 100 (GSM8K/eval.py), or the task's own limit where that is shorter, or on code tasks
        (the official code has none; a cut program fails); an integer is used as is; null = the task's."""
        value = self.cfg.get("train_eval_max_new_tokens", "auto")
        if value != "auto":
            return None if value is None else int(value)
        if isinstance(task, CodeTask) or int(task.cfg.max_new_tokens) <= OFFICIAL_TRAIN_EVAL_TOKENS:
            return None
        return OFFICIAL_TRAIN_EVAL_TOKENS

    def propose(self, state: IterationState) -> list[Example]:
        require_teacher(state, NAME)
        items = Items(state.task, NAME)
        self.response_format(items)
        counts: Counter = Counter()
        wrong = self._wrong_examples(state)
        counts["wrong_train"] = sum(not r.correct for r in state.train_records)
        counts["wrong_used"] = len(wrong)
        plan = spread(wrong, per_unit(int(self.cfg.per_seed), len(wrong), state), allowance(state), state.rng)
        corpus = Deduplicator(float(self.cfg.rouge_threshold))
        # official: the step's seed file (this round's wrong seeds), then each problem kept this round
        everything = self.cfg.get("dedup_against", "wrong_seeds") == "train_data"
        corpus.extend(question_of(ex) for ex in (state.train_data if everything else wrong))
        self._round = _Round(state.iteration, items, wrong, corpus, counts)
        new = self._serve(state, plan, counts, 0)
        counts["kept"] = len(new)
        write_report(state, counts, wrong_ids=[ex.id for ex in wrong])
        return new

    def propose_more(
        self, state: IterationState, proposed: list[Example], top_up: int
    ) -> list[Example] | None:
        """The runner's budget_match top-up: ``state.quota.target`` more problems, one at a time to the wrong
        seed with the fewest proposed so far (ties: their order), by the same official loop (attempts until
        kept; ROUGE-L against the round's corpus, which holds every problem kept this round), at sample
        indices in the top-up's own range (``TOP_UP_SAMPLES`` x ``top_up``) and ids ``.../t<top_up>/...``.
        None when ``propose`` did not run this round or found no wrong seed."""
        round_ = getattr(self, "_round", None)
        if round_ is None or round_.iteration != state.iteration or not round_.wrong:
            return None
        plan = fewest_first(round_.wrong, proposed, state.quota.target or 0)
        counts: Counter = Counter()
        new = self._serve(state, plan, counts, top_up)
        counts["kept"] = len(new)
        round_.top_ups.append({"top_up": top_up, **counts})
        write_report(state, round_.counts, wrong_ids=[ex.id for ex in round_.wrong], top_ups=round_.top_ups)
        return new

    def _serve(self, state: IterationState, plan, counts: Counter, top_up: int) -> list[Example]:
        """The kept (and, with ``verify``, verified) problems for ``plan``: whole unless effort is matched."""
        round_, kept = self._round, {}
        per_seed = 1 + bool(self.cfg.verify)  # at least one request per seed (more when attempts fail)
        for part in within_allowance(state, plan, counts, per_seed):  # whole unless effort is matched
            kept.update(self._generate(state, round_.items, part, round_.corpus, counts, top_up))
        pairs = [pair for seed, _ in plan for pair in kept.get(seed.id, [])]
        return (
            round_.items.verify(state.teacher, pairs, counts) if self.cfg.verify else [ex for _, ex in pairs]
        )

    # filter.py: the wrong answers, original seeds only ------------------------------------------------
    def _wrong_examples(self, state: IterationState) -> list[Example]:
        wrong = {r.item_id for r in state.train_records if not r.correct}
        pool = state.train_data if not self.cfg.seeds_only else [ex for ex in state.seed_data if is_seed(ex)]
        return [ex for ex in pool if ex.id in wrong]

    # generate_data.py: per wrong seed, attempts of min(per_seed + a, 10) problems until per_seed are kept --
    def _generate(
        self,
        state: IterationState,
        items: Items,
        plan,
        corpus: Deduplicator,
        counts: Counter,
        top_up: int = 0,
    ):
        """Per seed, the kept (item, example) pairs. Every item of an attempt is built (and, for code, run)
        in one batch; the keep rules then apply in the official order, problem by problem."""
        kept: dict[str, list[tuple[Any, Example]]] = {seed.id: [] for seed, _ in plan}
        for attempt in range(int(self.cfg.max_attempts)):
            todo = [(seed, need) for seed, need in plan if len(kept[seed.id]) < need]
            if not todo:
                break
            if not affordable_units(state.teacher, 1):  # the runner's teacher allowance is spent
                counts["attempts_cut_teacher_budget"] += 1
                break
            batches = self._ask(state, items, todo, attempt, kept, counts, top_up)
            flat = [
                (seed, j, p) for (seed, _), ps in zip(todo, batches, strict=True) for j, p in enumerate(ps)
            ]
            step = f"it{state.iteration}" + (f"/t{top_up}" if top_up else "")  # a top-up's own ids
            ids = [f"{seed.id}/{NAME}/{step}/a{attempt}/{j}" for seed, j, _ in flat]
            built = items.build([p for _, _, p in flat], ids, [seed.id for seed, _, _ in flat])
            need = {seed.id: need for seed, need in todo}
            for (seed, _, problem), example in zip(flat, built, strict=True):
                question = items.question(problem)
                if len(kept[seed.id]) >= need[seed.id]:
                    continue
                if self._blacklisted(question):
                    counts["blacklisted"] += 1
                elif not corpus.novel(question):
                    counts["too_similar"] += 1
                elif isinstance(example, str):
                    counts[example] += 1
                else:
                    corpus.add(question)
                    kept[seed.id].append((problem, example))
        counts["seeds_unfilled"] += sum(len(kept[seed.id]) < need for seed, need in plan)
        return kept

    def response_format(self, items: Items) -> str:
        """``json`` | ``json_list`` | ``numbered``; ``auto`` is ``json_list`` for multiple-choice
        and code tasks and ``json`` for math, whose prompt (v1) asks one problem per sample. Raises PadaError
        for ``json_list`` on a math task (``numbered`` on others: Items.require_json)."""
        value = self.cfg.get("response_format", "auto")
        if value == "auto":
            return "json" if items.math else "json_list"
        if value == "json_list" and items.math:
            raise PadaError(
                f"method.response_format=json_list asks items in a task's synthetic format; math task "
                f"'{items.task.name}' needs method.response_format=json or numbered"
            )
        if value not in RESPONSE_FORMATS:
            raise PadaError(
                f"method.response_format={value!r}; choose one of auto, {', '.join(RESPONSE_FORMATS)}"
            )
        items.require_json(value)
        return value

    def _ask(self, state, items: Items, todo, attempt, kept, counts, top_up: int = 0) -> list[list[Any]]:
        """One batch of teacher calls for this attempt: per (seed, need), min(need + attempt, 10) problems
        (official ``generated_instructions_per_seed_task + attempt``), asked in one request (``json_list``,
        ``numbered``: the official one call) or one request per problem (``json``); the items in the task's
        schema."""
        form = self.response_format(items)
        # new samples every attempt and step; a top-up in its own range
        base = top_up * TOP_UP_SAMPLES + state.iteration * 1000 + attempt * MAX_PER_REQUEST
        requests, owners = [], []
        for k, (seed, need) in enumerate(todo):
            n = problems_asked(need, attempt)
            counts["problems_requested"] += n
            previous = [question_of(ex) for _, ex in kept[seed.id]] if attempt % 2 == 1 else []
            prompt = self._prompt(state, items, seed, n, form, previous)
            indices = [base + j for j in range(n)] if form == "json" else [base]
            schema = (
                items.schema
                if form == "json"
                else None
                if form == "numbered"
                else problem_list(items.schema, n)
            )
            for index in indices:
                requests.append(
                    Request(
                        "generation",
                        prompt,
                        index,
                        schema,
                        max_tokens=self.cfg.max_tokens,
                        temperature=self.cfg.temperature,
                        completion=form == "numbered",  # the parser drops a cut reply's last block
                    )
                )
                owners.append(k)
        counts["requests"] += len(requests)
        problems: list[list[Any]] = [[] for _ in todo]
        for k, answer in zip(owners, state.teacher.complete_many(requests), strict=True):
            if answer is None:
                counts["teacher_failed"] += 1
            elif form == "numbered":
                parsed = parse_numbered(answer.text, answer.finish_reason)
                counts["unparseable"] += 0 if parsed else 1
                problems[k].extend(GeneratedExample(question=q, solution=s, answer=a) for q, s, a in parsed)
            else:
                problems[k].extend(answer.problems if form == "json_list" else [answer])
        return problems

    def _prompt(self, state, items: Items, seed: Example, n: int, form: str, previous: list[str]):
        if form == "json_list":  # the attempt's n items in one answer, each in the task's own shape
            return similar_problems_prompt(items.fmt, seed, n, describe(state.task), previous)
        if not items.math:  # one item per sample, shown and answered in the task's own shape
            return render(
                "llm2llm_generation",
                FORMAT_PROMPT,
                schema=items.schema,
                previous=previous,
                task_description=describe(state.task),
                example=items.shown(seed),
            )
        numbered = form == "numbered"
        return render(
            "llm2llm_generation",
            self.cfg.prompt_version,
            schema=None if numbered else GeneratedExample,
            task_description=describe(state.task),
            question=question_of(seed),
            rationale=seed.target,
            num_aug=n,
            numbered=numbered,
            previous=previous,
        )

    def _blacklisted(self, question: str) -> bool:
        if not self.cfg.get("apply_blacklist"):  # the official code never applies its blacklist
            return False
        return any(
            re.search(rf"\b{re.escape(word)}\b", question, re.IGNORECASE) for word in self.cfg.blacklist
        )


@dataclass
class _Round:
    """One augment round's state, kept for the runner's top-ups of the same round (``propose_more``)."""

    iteration: int
    items: Items
    wrong: list[Example]  # this round's wrong seeds, in order
    corpus: Deduplicator  # the round's ROUGE-L corpus: wrong seeds (or train data) and every kept problem
    counts: Counter  # the first proposal's report counts
    top_ups: list[dict[str, Any]] = field(default_factory=list)


class Deduplicator:
    """ROUGE-L F1 novelty against a growing set of questions (stanford_alpaca's filter, which LLM2LLM
    reuses), each question tokenised once."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.tokens: list[list[str]] = []

    def add(self, text: str) -> None:
        self.tokens.append(rouge_tokens(text))

    def extend(self, texts) -> None:
        for text in texts:
            self.add(text)

    def novel(self, text: str) -> bool:
        candidate = rouge_tokens(text)
        # official: rejected when max ROUGE-L > threshold, so a tie is kept
        return all(rouge_l(candidate, existing) <= self.threshold for existing in self.tokens)


_BLOCK = re.compile(r"[0-9]{1,2}\.\s+Question:")


def parse_numbered(text: str, finish_reason: str = "stop") -> list[tuple[str, str, str]]:
    r"""(question, solution ending in '#### N', N) per block of a numbered reply, as the official
    ``post_process_gpt3_response`` (SqueezeAILab/LLM2LLM GSM8K/generate_data.py) reads it: split at
    ``[0-9]{1,2}\.\s+Question:``; a reply cut at max_tokens (``finish_reason == "length"``) loses its last
    block; a block needs exactly one ``Answer:`` and one ``####``; N is the whole first line after ``####``;
    a block whose text starts with 'Write a program', punctuation or a non-ASCII character is dropped."""
    blocks = _BLOCK.split(text)
    problems = []
    for i, block in enumerate(blocks):
        if i == len(blocks) - 1 and finish_reason == "length":
            continue
        parts = re.split("(Answer):", block)
        if len(parts) != 3:
            continue
        answers = re.split("(####)", parts[2])
        if len(answers) != 3:
            continue
        final = answers[2].split("\n", 1)[0].strip()
        if block.startswith("Write a program") or block[0] in string.punctuation or not block[0].isascii():
            continue
        problems.append((parts[0].strip(), f"{answers[0].strip()}\n#### {final}", final))
    return problems
