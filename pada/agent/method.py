"""The ``pada`` method: the PaDA-Agent loop body, run once per iteration by the runner.

collect failures -> analyse each validation failure -> cluster analyses into patterns -> draft a strategy
per pattern -> generate strategy-guided and error-correcting examples -> quality control -> report.
The runner retrains from the base model on seeds + everything accepted so far (trainer.init_from=base).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pada.agent.generation import (
    QualityControl,
    Slot,
    allocate,
    generate,
    merge_counts,
    shots_from_seeds,
    usable_seeds,
)
from pada.agent.leakage import HeldOut
from pada.agent.patterns import (
    GROUPINGS,
    Pattern,
    analyse,
    check_embed_fields,
    draft_strategies,
    group,
    letter_counts,
    letter_recall,
    subsample,
    summarise,
)
from pada.agent.quality import Decontaminator, Deduplicator
from pada.agent.report import complete_report, pattern_rows, write_report
from pada.errors import PadaError
from pada.methods.base import IterationState, Method
from pada.methods.effort import affordable_units, within_allowance
from pada.tasks.base import Task, question_of
from pada.tasks.synthetic import MathFormat, SyntheticFormat, synthetic_format
from pada.teacher.usage import EFFORT_CHUNK
from pada.types import EvalRecord, Example

log = logging.getLogger("pada.agent")
CORRECTION = "error_correction"
# generation.correction_format: how an error-correcting slot is asked (pada/agent/generation.py docstring)
CORRECTION_FORMATS = ("json", "json_list")  # its own request, generation prompt | LLM2LLM's list request
# generation.strategy_format: how a pattern's strategy slots are asked: each its own request (the paper's form)
# | one list request per pattern and attempt (generation.v3; pada/agent/generation.py docstring)
STRATEGY_FORMATS = ("json", "json_list")
# A top-up's sample indices start at top_up x this: above every index a round's first proposal uses
# ((iteration x (max_regenerations + 1) + attempt) x slots + slot), so no top-up answer is a cache hit.
TOP_UP_SAMPLES = 1 << 20
DESCRIPTIONS = {
    "gsm8k": "grade-school math",
    "sim_arith": "arithmetic",
    "arc_challenge": "science multiple-choice",
    "mmlu": "multiple-choice",
    "mbpp": "Python programming",
    "humaneval": "Python programming",
}
# The guidance a slot's generation request carries (str.format; Method.instruction_texts: the runner rejects an
# item that repeats it, pada/run/echo.py).
STRATEGY_GUIDANCE = (
    'The student model shows this failure pattern, "{name}": {description}\n'
    "Augmentation strategy: {strategy}\n"
    "Write a new problem that makes the student practise exactly this."
)
CORRECTION_GUIDANCE = (
    "The student model answered this training problem incorrectly:\n"
    "{question}\n"
    "Write a new problem that tests the same skill, with different numbers and context."
)


class PadaAgent(Method):
    name = "pada"
    # bump when a change here or in version_sources can alter its output (pada/versions.py); 1.1: prompts with
    # an example answer instead of the JSON Schema document (issue 26); 1.2: spend-aware under teacher_budget;
    # 1.3: patterns.summary_prompt, patterns.embed_fields and the shared-cause report (issue 27)
    # 1.4: the runner's budget_match top-ups (propose_more) from the round's own patterns; 1.5: error-correcting
    # slots in LLM2LLM's list request on multiple-choice and code tasks (generation.correction_format); 1.6: a
    # grammar bounds the verifier's and judge's free-text fields (schemas max_chars) under llama.cpp; 1.7: and
    # a generated multiple-choice item's explanation (synthetic.ChoiceItem.max_chars); 1.8: strategy slots
    # optionally in one list request per pattern (generation.strategy_format, issue 27); 1.9: pattern_summary.v4
    # (patterns.summary_prompt) shows the failures' answer and gold letters on multiple-choice tasks; 1.10:
    # patterns.json failures.letter_recall, the recall per correct letter (pada.selection_bias) in patterns.md
    version = "1.10"
    instruction_texts = (STRATEGY_GUIDANCE, CORRECTION_GUIDANCE)
    version_sources = (
        "pada.methods.effort",
        "pada.methods.similar_problems",
        "pada.agent.clustering",
        "pada.agent.generation",
        "pada.agent.leakage",
        "pada.agent.patterns",
        "pada.agent.quality",
        "pada.selection_bias",
        "pada.agent.report",
        "pada.tasks.synthetic",
        "pada.teacher.schemas",
        "pada.text",
    )
    needs_teacher = True
    scores_reports_on_validation = True  # after_next_eval: each pattern's validation accuracy before -> after

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        if cfg.patterns.grouping not in GROUPINGS:
            raise PadaError(f"method.patterns.grouping={cfg.patterns.grouping!r}; choose one of {GROUPINGS}")
        check_embed_fields(cfg.analysis_prompt, cfg.patterns.get("embed_fields"))
        self.needs_val_eval = bool(cfg.use_validation)
        self.needs_train_eval = bool(cfg.use_train_errors)

    def embedders(self) -> tuple[str, ...]:
        """The pattern embedder when this config clusters validation failures (kmeans, fixed_k)."""
        clusters = self.cfg.use_validation and self.cfg.patterns.grouping in ("kmeans", "fixed_k")
        return (str(self.cfg.patterns.embedder),) if clusters else ()

    def propose(self, state: IterationState) -> list[Example]:
        if state.teacher is None:
            raise PadaError("method=pada needs a teacher; choose one with teacher=<name> (docs/teacher.md)")
        cfg, description = self.cfg, self._description(state)
        # The validation failures it read are the only held-out items it knows; the runner checks the rest.
        failure_texts = [r.prompt for r in state.val_records]
        held_out = HeldOut(failure_texts)
        patterns, grouping, failures = self._patterns(state, description, held_out)
        fmt = synthetic_format(state.task)
        seeds = usable_seeds(state.seed_data, held_out)
        corrections = self._correction_slots(state, seeds, fmt, raise_to_quota=not patterns)
        corrections, n_strategy = self._within_quota(state, corrections)
        slots = self._strategy_slots(state, patterns, seeds, fmt, n_strategy) + corrections
        slots = [replace(s, index=i) for i, s in enumerate(slots)]  # unique indices: distinct samples
        judge = cfg.qc.get("judge") or {}
        qc = QualityControl(
            fmt,
            state.teacher,
            description,
            Decontaminator(failure_texts, cfg.qc.ngram, cfg.qc.ngram_threshold),
            Deduplicator([question_of(e) for e in state.train_data], cfg.qc.rouge_threshold),
            enabled=cfg.qc.enabled,
            verify=cfg.qc.verify,
            verification_version=cfg.qc.verification_prompt,
            judge_min_score=judge.get("min_score") if judge.get("enabled") else None,
            judge_version=judge.get("prompt", "v1"),
        )
        self._unserved = Counter()
        examples, counts = self._generate(state, qc, slots, held_out)
        self._round = _Round(state.iteration, patterns, slots, seeds, qc, held_out, counts, len(examples))
        self._round.report = {"iteration": state.iteration, "failures": failures, "grouping": grouping}
        self._write_report(state)
        log.info(
            "pada iteration %d: %d patterns, %d/%d examples accepted",
            state.iteration,
            len(patterns),
            len(examples),
            len(slots),
        )
        return examples

    def propose_more(
        self, state: IterationState, proposed: list[Example], top_up: int
    ) -> list[Example] | None:
        """The runner's budget_match top-up: ``state.quota.target`` more examples from this round's own
        patterns and strategies (no new analyses or clustering): the round's slots whose example was not
        accepted first, then every slot in turn; each with new shots, a new slot index (a new item id) and
        sample indices in top-up ``top_up``'s own range (``TOP_UP_SAMPLES``), so no answer is a cache hit
        of one already used; the same quality control, its deduplicator still holding every question of
        the round. None when ``propose`` did not run this round or planned no slot."""
        round_ = getattr(self, "_round", None)
        if round_ is None or round_.iteration != state.iteration or not round_.slots:
            return None
        indices = {int(ex.id.rsplit("/", 1)[-1]) for ex in proposed if ex.id.startswith("pada/")}
        filled = {round_.origin.get(index, index) for index in indices}  # first-proposal slots served
        order = [s for s in round_.slots if s.index not in filled] + round_.slots
        first, n, shots = round_.next_index, state.quota.target or 0, int(self.cfg.generation.shots)
        slots = [
            replace(
                order[j % len(order)],
                index=first + j,
                shots=shots_from_seeds(round_.qc.fmt, round_.seeds, shots, state.rng),
            )
            for j in range(n)
        ]
        round_.origin.update({first + j: order[j % len(order)].index for j in range(n)})
        round_.next_index += n
        examples, counts = self._generate(
            state, round_.qc, slots, round_.held_out, top_up * TOP_UP_SAMPLES, round_.next_index
        )
        round_.counts = merge_counts(round_.counts, counts)
        round_.accepted += len(examples)
        round_.top_ups.append({"top_up": top_up, "requested": n, "accepted": len(examples)})
        self._write_report(state)
        return examples

    def _write_report(self, state: IterationState) -> None:
        """``patterns.json`` / ``patterns.md`` of the round so far (its first proposal and any top-ups)."""
        round_, report = self._round, self.cfg.report
        slots = round_.slots
        budget = {
            "strategy_examples": sum(s.key != CORRECTION for s in slots),
            "error_correction_examples": sum(s.key == CORRECTION for s in slots),
        }
        empty = {"requested": 0, "generated": 0, "accepted": 0, "rejected": {}}
        write_report(
            state.workdir,
            {
                **round_.report,
                "budget": budget,
                "patterns": pattern_rows(round_.patterns, round_.counts, report.representatives),
                "error_correction": {"name": CORRECTION, **round_.counts.get(CORRECTION, empty)},
                "accepted": round_.accepted,
                **({"top_ups": round_.top_ups} if round_.top_ups else {}),
                **self._effort_report(state),
            },
        )

    def check_task(self, task: Task) -> None:
        fmt = synthetic_format(task)  # evaluation-only tasks take no generated items
        self.correction_format(fmt)
        self.strategy_format(fmt)

    def strategy_format(self, fmt: SyntheticFormat) -> str:
        """``generation.strategy_format``: ``json`` (the default: each strategy slot its own request, one
        item) | ``json_list`` (the pending slots of one pattern share one request per attempt, generation.v3:
        the prompt is computed once per list, not once per item). Raises PadaError for another value, or
        ``json_list`` on a math task (the list form shows items with options or tests)."""
        value = self.cfg.generation.get("strategy_format", "json")
        if value not in STRATEGY_FORMATS:
            raise PadaError(
                f"method.generation.strategy_format={value!r}; choose one of {', '.join(STRATEGY_FORMATS)}"
            )
        if value == "json_list" and isinstance(fmt, MathFormat):
            raise PadaError(
                f"method.generation.strategy_format=json_list asks items in a task's synthetic format; math "
                f"task '{fmt.task.name}' needs method.generation.strategy_format=json"
            )
        return value

    def correction_format(self, fmt: SyntheticFormat) -> str:
        """``generation.correction_format``: ``json`` (each error-correcting slot its own request, the
        generation prompt with the wrong question as guidance) | ``json_list`` (LLM2LLM's list request per
        wrong seed, pada.methods.similar_problems) | ``auto`` (the default): ``json_list`` on
        multiple-choice and code tasks, ``json`` on math, as LLM2LLM's ``response_format: auto``. Raises
        PadaError for another value, or ``json_list`` on a math task (its prompt shows items with options or
        tests)."""
        value = self.cfg.generation.get("correction_format", "auto")
        math = isinstance(fmt, MathFormat)
        if value == "auto":
            return "json" if math else "json_list"
        if value not in CORRECTION_FORMATS:
            raise PadaError(
                f"method.generation.correction_format={value!r}; choose one of auto, {', '.join(CORRECTION_FORMATS)}"
            )
        if value == "json_list" and math:
            raise PadaError(
                f"method.generation.correction_format=json_list asks items in a task's synthetic format; math "
                f"task '{fmt.task.name}' needs method.generation.correction_format=json (or auto)"
            )
        return value

    def _generate(
        self,
        state: IterationState,
        qc: QualityControl,
        slots: list[Slot],
        held_out: HeldOut,
        namespace: int = 0,
        stride: int | None = None,
    ):
        """Every slot at once, unless effort is matched (``teacher_budget``): then slot parts, each generated
        and checked before the next, none started that the allowance left cannot pay for (a generation and
        its verification per slot); sample indices are those of the whole round either way (``stride``:
        above every slot index; ``namespace``: a top-up's own range of sample indices)."""
        regenerations, counts = self.cfg.qc.max_regenerations, {}
        per_slot = 1 + bool(self.cfg.qc.enabled and self.cfg.qc.verify)
        examples, stride = [], stride or len(slots)
        for part in within_allowance(state.teacher, state.quota, slots, self._unserved, per_slot):
            got, found = generate(
                state.teacher, qc, part, held_out, regenerations, state.iteration, stride, namespace
            )
            examples, counts = examples + got, merge_counts(counts, found)
        return examples, counts

    def _effort_report(self, state: IterationState) -> dict[str, Any]:
        """The round's teacher allowance and what it cut, when effort is matched; {} otherwise."""
        allowance = state.quota.teacher_allowance()
        if not allowance:
            return {}
        return {
            "teacher_allowance": allowance,
            "unanalysed_teacher_share": self._unanalysed,
            "slots_unserved_teacher_budget": self._unserved["unserved_teacher_budget"],
        }

    def _analyse(self, state: IterationState, chosen: list[EvalRecord], description: str):
        """One analysis per chosen failure; under a teacher allowance, part by part until the analyses have
        used ``teacher_share.analysis`` of it (the rest is left for summaries, strategies and generation)."""
        allowance, self._unanalysed = state.quota.teacher_allowance(), 0
        if not allowance:
            return analyse(state.teacher, chosen, description, self.cfg.analysis_prompt)
        share, analyses, done = float(self.cfg.teacher_share.analysis), [], 0
        while done < len(chosen):
            n = min(EFFORT_CHUNK, affordable_units(state.teacher, 1, share))
            if n <= 0:
                break
            part = chosen[done : done + n]
            analyses += analyse(state.teacher, part, description, self.cfg.analysis_prompt)
            done += len(part)
        self._unanalysed = len(chosen) - done
        return analyses

    def after_next_eval(self, augment_dir: Path, before: list[EvalRecord], after: list[EvalRecord]) -> None:
        complete_report(augment_dir, before, after)  # each pattern's validation accuracy before → after

    def _description(self, state: IterationState) -> str:
        return self.cfg.get("task_description") or DESCRIPTIONS.get(state.task.name, state.task.name)

    def _patterns(self, state: IterationState, description: str, held_out: HeldOut):
        cfg = self.cfg.patterns
        val_failures = [r for r in state.val_records if not r.correct] if self.cfg.use_validation else []
        chosen = subsample(val_failures, self.cfg.max_analyses, state.rng)
        analyses = self._analyse(state, chosen, description)
        groups, clustering = group(analyses, cfg, seed=state.rng.randrange(2**31))
        patterns = summarise(
            state.teacher,
            analyses,
            groups,
            description,
            cfg.max_members_in_summary,
            cfg.get("summary_prompt", "v2"),
            cfg.get("embed_fields"),
            val_failures,
        )
        _redact(patterns, held_out, "description")
        draft_strategies(state.teacher, patterns, description)
        _redact(patterns, held_out, "strategy")
        _unique_names(patterns)
        wrong_seeds = self._wrong_seeds(state)
        failures = {
            "val": len(val_failures),
            "sent": len(chosen),
            "analysed": len(analyses),
            "train": len(wrong_seeds),
            # multiple choice: a letter preference, which no one failure's analysis shows ("" otherwise)
            "letters": letter_counts(val_failures),
            # ... and the recall per correct letter over every validation item, measured (pada.selection_bias)
            "letter_recall": letter_recall(state.val_records) if self.cfg.use_validation else "",
        }
        curves = clustering.to_dict() if clustering else {}
        grouping = {
            "how": cfg.grouping,
            "k": len(groups),
            "chosen_by": curves.get("chosen_by"),
            "ks": curves.get("ks", []),
            "inertias": curves.get("inertias", []),
            "silhouettes": curves.get("silhouettes", []),
            "note": curves.get("note", ""),
            "embedding_truncated": curves.get("embedding_truncated", 0),
        }
        if grouping["note"]:
            log.info("pada iteration %d: one pattern per cluster, %s", state.iteration, grouping["note"])
        if grouping["embedding_truncated"]:
            log.warning(
                "pada: %d of %d analyses were cut at the embedder's max_seq_length before clustering "
                "(patterns.json grouping.embedding_truncated)",
                grouping["embedding_truncated"],
                len(analyses),
            )
        return patterns, grouping, failures

    def _wrong_seeds(self, state: IterationState) -> list[Example]:
        if not self.cfg.use_train_errors:
            return []
        wrong = {r.item_id for r in state.train_records if not r.correct}
        return [
            s for s in state.seed_data if s.id in wrong
        ]  # seeds only: synthetic data is never re-augmented

    def _within_quota(self, state: IterationState, corrections: list[Slot]) -> tuple[list[Slot], int]:
        """The runner's quota over both sources: error-correcting slots first (a seeded subset when they
        alone exceed it), then strategy examples fill the rest: up to ``strategy_examples`` under a plain
        cap, exactly the rest under budget_match (more strategy examples than the method's own rule)."""
        own, quota = int(self.cfg.generation.strategy_examples), state.quota
        cap = quota.target if quota.target is not None else quota.limit
        if cap is None:
            return corrections, own
        if len(corrections) > cap:
            keep = sorted(state.rng.sample(range(len(corrections)), cap))
            corrections = [corrections[i] for i in keep]
        room = cap - len(corrections)
        return corrections, room if quota.target is not None else min(own, room)

    def _strategy_slots(
        self,
        state: IterationState,
        patterns: list[Pattern],
        seeds: list[Example],
        fmt: SyntheticFormat,
        total: int,
    ) -> list[Slot]:
        gen = self.cfg.generation
        counts = allocate(total, [len(p.item_ids) for p in patterns], gen.allocation)
        listed = self.strategy_format(fmt) == "json_list"
        slots = []
        for pattern, n in zip(patterns, counts, strict=True):
            strategy = pattern.strategy or pattern.description
            guidance = STRATEGY_GUIDANCE.format(
                name=pattern.name, description=pattern.description, strategy=strategy
            )
            for _ in range(n):
                shots = shots_from_seeds(fmt, seeds, gen.shots, state.rng)
                batch = f"pattern:{pattern.name}" if listed else None
                slots.append(Slot(0, pattern.name, guidance, shots, {"kind": "strategy"}, batch=batch))
        return slots

    def _correction_slots(
        self, state: IterationState, seeds: list[Example], fmt: SyntheticFormat, raise_to_quota: bool
    ) -> list[Slot]:
        """``per_wrong_seed`` slots per wrong seed; with no patterns to spend a matched budget on
        (pada_no_val, or no validation failures), raised so that the wrong seeds reach the target."""
        gen, slots, shown = self.cfg.generation, [], {s.id for s in seeds}
        listed = self.correction_format(fmt) == "json_list"
        wrong = [seed for seed in self._wrong_seeds(state) if seed.id in shown]  # held-out seeds never shown
        per_seed = int(gen.per_wrong_seed)
        if raise_to_quota and state.quota.target is not None and wrong:
            per_seed = max(per_seed, -(-state.quota.target // len(wrong)))
        for seed in wrong:
            guidance = CORRECTION_GUIDANCE.format(question=question_of(seed))
            for _ in range(per_seed):
                # drawn in both forms (a list request shows the seed itself): later slots' draws stay put
                shots = shots_from_seeds(fmt, seeds, gen.shots, state.rng)
                meta = {"kind": "error_correction", "seed_id": seed.id}
                slot = Slot(0, CORRECTION, guidance, shots, meta)
                slots.append(replace(slot, seed=seed, batch=f"seed:{seed.id}") if listed else slot)
        return slots


@dataclass
class _Round:
    """One augment round's state, kept for the runner's top-ups of the same round (``propose_more``)."""

    iteration: int
    patterns: list[Pattern]
    slots: list[Slot]  # the first proposal's, by index
    seeds: list[Example]  # the seeds that may be shown as shots
    qc: QualityControl  # its deduplicator holds every question of the round so far
    held_out: HeldOut
    counts: dict[str, dict]  # report rows per slot key, first proposal and top-ups
    accepted: int
    next_index: int = 0  # the next unused slot index (item ids pada/i<iteration>/<index>)
    origin: dict[int, int] = field(default_factory=dict)  # a top-up slot's index -> the slot it re-asks
    report: dict[str, Any] = field(default_factory=dict)
    top_ups: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.next_index = self.next_index or len(self.slots)


def _redact(patterns: list[Pattern], held_out: HeldOut, field: str) -> None:
    """Teacher text may quote a validation question; only the pattern, never the item, flows to generation."""
    for pattern in patterns:
        text, n = held_out.redact(getattr(pattern, field))
        if n:
            log.warning("pada: redacted %d held-out quote(s) from pattern %r's %s", n, pattern.name, field)
        setattr(pattern, field, text)


def _unique_names(patterns: list[Pattern]) -> None:
    seen: dict[str, int] = {}
    for pattern in patterns:
        seen[pattern.name] = seen.get(pattern.name, 0) + 1
        if seen[pattern.name] > 1:
            pattern.name = f"{pattern.name} ({seen[pattern.name]})"
