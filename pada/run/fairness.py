"""Fair comparison, enforced in one place (the runner, around every method's ``propose``).

* Quotas: ``synthetic_budget`` (examples over the whole cell) and ``synthetic_per_iteration`` bound what any
  method may add; ``budget_match`` also asks each method to reach its quota, and the runner tops a round
  that fell short up (``pada.run.topup``: it asks the method for the rest, ``budget_match_rounds`` times at
  most). The runner hands the quota to the method (``IterationState.quota``) and refuses output over it.
* Held-out protection: methods never receive validation or test items; the runner checks every proposed
  example against them (verbatim text, word n-gram overlap of the question, and a near-duplicate test that
  survives changed numbers, unit rewrites and reordered sentences), then for the same problem in other words
  (``pada.run.semantic``: embedding neighbours, numbers, answers, content words, on the rendered prompt and
  target), on code tasks confirms those matches by running the proposal's code on the held-out tests
  (``pada.run.execution``), drops what matches and counts why.
* Prompt echoes: an item that repeats the teacher's instructions instead of posing a problem is dropped and
  counted the same way (``pada.run.echo``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from omegaconf import OmegaConf

from pada.agent.leakage import HeldOut, NgramOverlap, assert_no_leak, tokens
from pada.errors import PadaError
from pada.methods.embedders import BUNDLED_MINILM
from pada.run.echo import PromptEcho, instruction_parts
from pada.run.execution import EXECUTES, ExecutionCheck, Outcome, tally
from pada.run.semantic import Paraphrases, Rule, Template
from pada.tasks.code import CodeTask
from pada.teacher.usage import EFFORT_CHUNK, effort_of
from pada.types import EvalRecord, Example, Quota

__all__ = ["EFFORT_CHUNK", "effort_of"]  # re-exported: the effort rule the runner applies

# Bump when a change here or in pada.agent.leakage can change what a method's output keeps (quotas,
# decontamination); every augment_<i> stage's key carries it (pada/versions.py pins the code).
VERSION = "1.9"  # 1.9: prompt echoes; 1.8: budget_match tops rounds up; 1.7: GSM8K's own "#### N" rule; 1.6: code runs; 1.5: whole items; 1.4: the rendered prompt, never meta; 1.3: semantic; 1.2: budget

# Method keys that the runner's quota replaced; a leftover override must not be silently ignored.
MOVED_KEYS = {"max_new_total": "synthetic_budget", "max_new_per_iteration": "synthetic_per_iteration"}


def check_config(cfg: Any, method: Any) -> None:
    """Refuse, before any stage, a config that would silently compare methods unfairly (PadaError)."""
    build_paraphrases(cfg, [])  # an unknown decontamination.semantic key fails here, not at augment_0
    for old, new in MOVED_KEYS.items():
        if cfg.method.get(old) is not None:
            raise PadaError(
                f"method.{old} was replaced by the runner's top-level {new} (it applies to every "
                f"method, PaDA-Agent included); set {new}={cfg.method[old]} instead"
            )
    # run.eval_val=needed passes: it scores every round before an augment round for such a method
    # (pada.run.loop.scores_validation); a value other than true, false or needed fails in cell_loop first.
    if method.needs_val_eval and not cfg.run.eval_val:
        raise PadaError(
            f"method={cfg.method.name} reads validation failures, but run.eval_val=false; "
            "set run.eval_val=true (or choose a method that needs no validation)"
        )
    if (
        cfg.get("budget_match")
        and synthetic_total(cfg) is None
        and cfg.get("synthetic_per_iteration") is None
    ):
        raise PadaError(
            "budget_match=true needs a quota: set synthetic_budget, synthetic_per_seed or "
            "synthetic_per_iteration"
        )
    if cfg.trainer.get("match_steps") and cfg.trainer.get("max_steps"):
        raise PadaError("trainer.match_steps=true sets max_steps itself; unset trainer.max_steps")
    budget = cfg.get("teacher_budget") or {}
    keys = ("synthetic_budget", "synthetic_per_iteration", "budget_match_rounds")
    values = {key: cfg.get(key) for key in keys}
    values.update({f"teacher_budget.{key}": budget.get(key) for key in EFFORT_KEYS})
    for key, value in values.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise PadaError(f"{key}={value!r}: expected a non-negative integer or null")


def synthetic_total(cfg: Any) -> int | None:
    """The cell's synthetic budget: ``synthetic_budget``, else ``budget`` x ``synthetic_per_seed`` (for
    sweeps over seed budgets), else None (each method's own rule)."""
    if cfg.get("synthetic_budget") is not None:
        return int(cfg.synthetic_budget)
    if cfg.get("synthetic_per_seed") is not None:
        return int(round(cfg.budget * float(cfg.synthetic_per_seed)))
    return None


def trainer_config(cfg: Any) -> Any:
    """``cfg.trainer``, with ``max_steps`` fixed when ``trainer.match_steps`` is on: every training round
    of every method takes the optimizer steps that ``epochs`` epochs over seed + synthetic budget need
    (ceil(rows / (batch_size x grad_accum)) per epoch; packed rows are counted as one example each), so a
    method with more data does not also get more compute."""
    if not cfg.trainer.get("match_steps"):
        return cfg.trainer
    rows = cfg.budget + (synthetic_total(cfg) or 0)
    steps = int(cfg.trainer.epochs) * math.ceil(
        rows / (int(cfg.trainer.batch_size) * int(cfg.trainer.grad_accum))
    )
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    return OmegaConf.create({**trainer, "max_steps": steps})


def quota_for(cfg: Any, iteration: int, iterations: int, added_so_far: int) -> Quota:
    """The quota of round ``iteration`` (0-based) of ``iterations``, after ``added_so_far`` synthetic
    examples. Without a per-round cap, budget_match spreads what remains evenly over the rounds left
    (ceil), so an iterative method does not spend the whole budget in its first round."""
    caps = []
    if cfg.get("synthetic_per_iteration") is not None:
        caps.append(int(cfg.synthetic_per_iteration))
    remaining, total = None, synthetic_total(cfg)
    if total is not None:
        remaining = max(0, total - added_so_far)
        caps.append(remaining)
    limit = min(caps) if caps else None
    if not cfg.get("budget_match") or limit is None:
        return Quota(limit, None)
    if cfg.get("synthetic_per_iteration") is None and remaining is not None:
        return Quota(limit, math.ceil(remaining / max(1, iterations - iteration)))
    return Quota(limit, limit)


EFFORT_KEYS = ("tokens", "calls")  # teacher_budget's keys, in effort_of's units


def teacher_budget(cfg: Any) -> dict[str, int | None] | None:
    """The cell's ``teacher_budget`` ({tokens, calls}, either null), or None when neither is set."""
    node = cfg.get("teacher_budget") or {}
    budget = {key: node.get(key) for key in EFFORT_KEYS}
    return budget if any(value is not None for value in budget.values()) else None


def effort_for(cfg: Any, iteration: int, iterations: int, spent: dict[str, int]) -> dict[str, int] | None:
    """Round ``iteration``'s teacher allowance under ``teacher_budget``, after ``spent`` (effort_of units)
    in the rounds before: what remains spread evenly over the rounds left (ceil), so an iterative method
    does not spend the cell's budget in its first round and a round's unspent share passes to the next.
    None when effort is not matched."""
    budget = teacher_budget(cfg)
    if budget is None:
        return None
    rounds_left = max(1, iterations - iteration)
    return {
        key: math.ceil(max(0, total - spent.get(key, 0)) / rounds_left)
        for key, total in budget.items()
        if total is not None
    }


def effort_accounting(cfg: Any, augments: list[dict[str, Any]]) -> dict[str, Any]:
    """results.json ``teacher_effort``: the cell's ``budget`` (None when unmatched), what its augment
    stages spent (effort_of units: as from an empty cache), the requests the client refused for a spent
    allowance, and per round its allowance, spend and refusals."""
    rounds = [
        info.get("teacher_effort") or {"allowance": None, "spent": {"calls": 0, "tokens": 0}, "refused": 0}
        for info in augments
    ]
    return {
        "budget": teacher_budget(cfg),
        "spent": {key: sum(r["spent"][key] for r in rounds) for key in ("calls", "tokens")},
        "refused": sum(r["refused"] for r in rounds),
        "per_iteration": rounds,
    }


def check_quota(method: str, new: list[Example], quota: Quota) -> None:
    """Over quota is a bug in the method, never a silently trimmed result: PadaError."""
    if quota.limit is not None and len(new) > quota.limit:
        raise PadaError(
            f"method {method} proposed {len(new)} examples, over its quota of {quota.limit} "
            "(synthetic_budget / synthetic_per_iteration); methods must respect state.quota"
        )


def check_output(method: str, new: list[Example], train: list[Example]) -> None:
    """Every proposed item has a fresh id (unique among ``new``, not in ``train``: the stages join and
    report items by id) and a ``synthetic:<label>`` source (tables and the re-augmentation rule tell seeds
    from synthetic items by it). A violation is a bug in the method: PadaError, never a silent fix."""
    train_ids = {example.id for example in train}
    seen = set(train_ids)
    for example in new:
        if not str(example.source).startswith("synthetic:"):
            raise PadaError(
                f"method {method} proposed {example.id!r} with source {example.source!r}; label it "
                "synthetic:<method> (pada.types.Example.source)"
            )
        if example.id in seen:
            where = ", already in the training data" if example.id in train_ids else " twice"
            raise PadaError(f"method {method} proposed the id {example.id!r}{where}")
        seen.add(example.id)


def failures(records: list[EvalRecord], method: Any) -> list[EvalRecord]:
    """What a method may read of validation: its failures, and only if it declares needs_val_eval."""
    return [r for r in records if not r.correct] if method.needs_val_eval else []


def accounting(quota: Quota, filled: Any) -> dict:
    """An augment stage's record from its ``pada.run.topup.Filled``: the quota, what the method proposed
    (first proposal and top-ups), what the runner rejected and why, the execution check's counts when it
    ran (``execution_check``: semantic matches confirmed, cleared and kept, unconfirmed by cause), under
    budget_match the top-ups (``top_up``: rounds, per round asked/proposed/kept, why they stopped) and how
    far the kept examples fell short of the target and why (``shortfall``)."""
    proposed, kept, rejected = filled.proposed, filled.kept, filled.rejected
    info: dict[str, Any] = {
        "proposed": len(proposed),
        "quota": quota.limit,
        "target": quota.target,
        "rejected": dict(sorted(rejected.items())),
    }
    if filled.executed is not None:
        info["execution_check"] = filled.executed
    if quota.target is not None:
        info["top_up"] = filled.record()
    if quota.target is not None and len(kept) < quota.target:
        why = []
        if len(proposed) < quota.target:
            why.append(f"the method proposed {len(proposed)} (its report in this stage says why)")
        if rejected:
            why.append(f"the runner rejected {sum(rejected.values())} as held-out copies or prompt echoes")
        if top_up := filled.why():
            why.append(top_up)
        info["shortfall"] = {"short_by": quota.target - len(kept), "why": "; ".join(why)}
    return info


def data_accounting(augments: list[dict[str, Any]]) -> dict[str, Any]:
    """results.json ``data`` fields from the augment stages' infos (in iteration order): synthetic examples
    added per iteration, the runner's held-out rejections by reason, any budget_match shortfalls, and on a
    code task the execution check's counts summed over rounds (``execution_check``)."""
    rejected: Counter = Counter()
    for info in augments:
        rejected.update(info.get("rejected", {}))
    shortfalls = {i: info["shortfall"] for i, info in enumerate(augments) if "shortfall" in info}
    data = {
        "synthetic_per_iteration": [info["new_examples"] for info in augments],
        "proposed_per_iteration": [info.get("proposed", info["new_examples"]) for info in augments],
        "rejected": dict(sorted(rejected.items())),
        "shortfall": shortfalls,
        # budget_match's top-ups per round (pada/run/topup.py): rounds used, asked/proposed/kept, why stopped
        "top_up": {i: info["top_up"] for i, info in enumerate(augments) if "top_up" in info},
    }
    executed = [info["execution_check"] for info in augments if "execution_check" in info]
    if executed:  # a code task's cell: semantic matches run against the held-out tests
        causes: Counter = Counter()
        for row in executed:
            causes.update(row["unconfirmed"])
        data["execution_check"] = {
            "confirmed": sum(row["confirmed"] for row in executed),
            "cleared": sum(row["cleared"] for row in executed),
            "unconfirmed": dict(sorted(causes.items())),
        }
    return data


def training_accounting(iterations: list[dict[str, Any]]) -> dict[str, Any]:
    """results.json ``training``: optimizer steps of each training round and of the tested model."""
    steps = [row.get("optimizer_steps", 0) for row in iterations]
    tested = next((row.get("optimizer_steps", 0) for row in iterations if row.get("selected")), None)
    return {"optimizer_steps": {"per_iteration": steps, "total": sum(steps), "tested": tested}}


def teacher_accounting(total: dict[str, Any], price_in: float, price_out: float) -> dict[str, Any]:
    """``uncached``: what the cell's teacher traffic costs from an empty cache (every request it made,
    answered by the provider or the cache); ``cached``: the part the cache served this time. Each
    {calls, input_tokens, output_tokens, dollars}; dollars at the configured per-million-token prices."""

    def row(calls: int, tokens_in: int, tokens_out: int) -> dict[str, Any]:
        dollars = (tokens_in * price_in + tokens_out * price_out) / 1e6
        return {"calls": calls, "input_tokens": tokens_in, "output_tokens": tokens_out, "dollars": dollars}

    hits, cin, cout = (total.get(k, 0) for k in ("cache_hits", "cached_tokens_in", "cached_tokens_out"))
    return {
        "uncached": row(
            total.get("calls", 0) + hits, total.get("tokens_in", 0) + cin, total.get("tokens_out", 0) + cout
        ),
        "cached": row(hits, cin, cout),
    }


# -- decontamination ---------------------------------------------------------------------------------
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_UNITS = [
    (re.compile(r"\$\s*(\d+(?:[.,]\d+)*)"), r"\1 dollars"),
    (re.compile(r"(\d)\s*%"), r"\1 percent"),
    (re.compile(r"\bdollar\b"), "dollars"),
    (re.compile(r"\bper ?cent\b"), "percent"),
]
_SENTENCE = re.compile(r"[.?!;\n]+")
SHINGLE = 3  # word 3-grams inside a sentence: reordering sentences keeps them, rewording most words does not


@dataclass(frozen=True)
class Fingerprint:
    """A question reduced to what a near-copy keeps: shingles of number-free, case- and punctuation-folded
    words (per sentence, so sentence order does not matter) and the multiset of its numbers."""

    shingles: frozenset[tuple[str, ...]]
    numbers: Counter


def fingerprint(text: str) -> Fingerprint:
    text = text.lower()
    for pattern, repl in _UNITS:
        text = pattern.sub(repl, text)
    numbers = Counter(
        n.replace(",", "").rstrip("0").rstrip(".") if "." in n else n.replace(",", "")
        for n in _NUMBER.findall(text)
    )
    shingles = set()
    for sentence in _SENTENCE.split(_NUMBER.sub(" <n> ", text)):
        words = re.findall(r"<n>|[a-z]+", sentence)
        if 0 < len(words) < SHINGLE:
            shingles.add(tuple(words))
        shingles.update(tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))
    return Fingerprint(frozenset(shingles), numbers)


def near_copy(candidate: Fingerprint, held: Fingerprint, threshold: float) -> bool:
    """Same wording (Jaccard of shingles >= ``threshold``) and the same numbers but at most one.

    Numbers must also agree on at least two values when the held-out item has three or more, and on all
    of them when it has one or two: in a world of two-number templates (the SIMULATION) a copy with one of
    two numbers changed is indistinguishable from a fresh draw of the same template, so it is not counted.
    """
    union = len(candidate.shingles | held.shingles)
    if not union or len(candidate.shingles & held.shingles) / union < threshold:
        return False
    shared = sum((candidate.numbers & held.numbers).values())
    total = sum(held.numbers.values())
    if total <= 2:
        return shared == total and sum(candidate.numbers.values()) == total
    return shared >= 2 and total - shared <= 1 and sum(candidate.numbers.values()) - shared <= 1


class Decontaminator:
    """Every method's output checked against the cell's validation and test items.

    Reasons (checked in this order): ``prompt_echo`` when ``echo`` is given (the question slot or the
    target repeats instruction text, ``pada.run.echo``), ``verbatim`` (a held-out question inside the prompt or target, token-
    wise), ``ngram_overlap`` (share of the question's word n-grams found in held-out questions, question
    text on both sides), ``near_duplicate`` (``near_copy`` against any held-out question; candidates are
    found through an inverted index on shingles, then compared exactly; the held-out sets are small), then,
    when ``semantic`` is given, ``paraphrase_numbers`` / ``paraphrase_answer`` / ``paraphrase_wording``
    (``pada.run.semantic``: the
    same problem in other words, judged on the rendered prompt and target, never on ``meta``); when
    ``execution`` is given (code tasks), each semantic match is run on the matched held-out items' tests:
    ``paraphrase_executes`` when it passes one, kept when it fails all, the semantic reason otherwise
    (``pada.run.execution``).
    """

    def __init__(
        self,
        held_out: list[Example],
        ngram: int = 8,
        ngram_threshold: float = 0.5,
        near_duplicate: float = 0.6,
        semantic: Paraphrases | None = None,
        template: str | None = None,
        execution: ExecutionCheck | None = None,
        echo: PromptEcho | None = None,
    ):
        self.echo = echo
        self.semantic = semantic
        self.execution = execution  # confirms semantic matches on code tasks (pada.run.execution)
        self.slots = Template(template)
        self.verbatim = HeldOut([self.slots.question(ex.prompt) for ex in held_out])
        bodies = [self.slots.body(ex.prompt) for ex in held_out]  # an item is its question and the rest
        self.ngrams = NgramOverlap(bodies, ngram, ngram_threshold)
        self.threshold = near_duplicate
        self.prints = [fingerprint(b) for b in bodies if len(tokens(b)) >= 4]
        self.index: dict[tuple[str, ...], list[int]] = {}
        for i, fp in enumerate(self.prints):
            for shingle in fp.shingles:
                self.index.setdefault(shingle, []).append(i)

    def reason(self, example: Example) -> str | None:
        """The first surface reason that rejects ``example``, or None. Read from what the student trains on:
        the question slot of its rendered prompt (``Template``), then its target; never ``meta``."""
        texts = (self.slots.body(example.prompt), example.target)
        if self.echo is not None and any(self.echo.found_in(text) for text in texts):
            return "prompt_echo"
        if any(self.verbatim.found_in(t) is not None for t in (example.prompt, example.target)):
            return "verbatim"
        if any(self.ngrams.overlap(text) >= self.ngrams.threshold for text in texts):
            return "ngram_overlap"
        if any(self._near(text) for text in texts):
            return "near_duplicate"
        return None

    def _near(self, text: str) -> bool:
        if len(tokens(text)) < 4:
            return False
        fp = fingerprint(text)
        near = {i for s in fp.shingles for i in self.index.get(s, ())}
        return any(near_copy(fp, self.prints[i], self.threshold) for i in near)

    def reasons(self, examples: list[Example]) -> list[str | None]:
        """One rejection reason (or None: kept) per example; the semantic check runs in one batch."""
        return self.decide(examples)[0]

    def decide(self, examples: list[Example]) -> tuple[list[str | None], list[Outcome]]:
        """``reasons``, and the ``execution`` check's outcome per semantic match it ran on ([] without it):
        a match whose code passes a matched held-out item's tests becomes ``paraphrase_executes``, one
        whose code fails them all is kept, any other outcome keeps the semantic reason."""
        reasons = [self.reason(example) for example in examples]
        if self.semantic is None:
            return reasons, []
        survivors = [i for i, reason in enumerate(reasons) if reason is None]
        found = self.semantic.all_matches([examples[i] for i in survivors])
        for i, matches in zip(survivors, found, strict=True):
            reasons[i] = matches[0].reason if matches else None
        if self.execution is None:
            return reasons, []
        matched = [(i, [m.held_out_id for m in f]) for i, f in zip(survivors, found, strict=True) if f]
        outcomes = self.execution.outcomes([(examples[i], ids) for i, ids in matched])
        for (i, _), outcome in zip(matched, outcomes, strict=True):
            if outcome.verdict != "unconfirmed":
                reasons[i] = EXECUTES if outcome.verdict == "confirmed" else None
        return reasons, outcomes

    def filter(self, examples: list[Example]) -> tuple[list[Example], Counter, dict[str, Any] | None]:
        """The examples that pass, the rejections by reason, and the execution check's counts
        (``pada.run.execution.tally``; None when it is off). The kept ones are then asserted free of
        verbatim held-out text: if that fails, the check itself is broken and the run stops (PadaError)."""
        reasons, outcomes = self.decide(examples)
        kept = [example for example, reason in zip(examples, reasons, strict=True) if reason is None]
        assert_no_leak(self.verbatim, [], kept)
        executed = tally(outcomes) if self.execution is not None else None
        return kept, Counter(reason for reason in reasons if reason), executed


def build_decontaminator(
    cfg: Any, held_out: list[Example], task: Any = None, method: Any = None
) -> Decontaminator:
    """The cell's held-out check; ``task`` (the cell's ``Task``) lets a code task's semantic matches be
    confirmed by running them (``decontamination.semantic.execution_check``); with ``method`` (the cell's
    ``Method``) it also rejects prompt echoes of the shipped templates and ``method.instruction_texts``."""
    node = cfg.get("decontamination") or {}
    semantic = build_paraphrases(cfg, held_out)
    return Decontaminator(
        held_out,
        int(node.get("ngram", 8)),
        float(node.get("ngram_threshold", 0.5)),
        float(node.get("near_duplicate", 0.6)),
        semantic,
        _template(cfg),
        build_execution_check(cfg, held_out, task) if semantic is not None else None,
        PromptEcho(instruction_parts(method.instruction_texts)) if method is not None else None,
    )


def build_execution_check(cfg: Any, held_out: list[Example], task: Any) -> ExecutionCheck | None:
    """``pada.run.execution.ExecutionCheck`` for a code task (``pada.tasks.code.CodeTask``: its items carry
    tests) when ``decontamination.semantic.execution_check`` is on (the default); None otherwise."""
    node = (cfg.get("decontamination") or {}).get("semantic") or {}
    if not node.get("execution_check", True) or not isinstance(task, CodeTask):
        return None
    return ExecutionCheck(task, held_out)


def _template(cfg: Any) -> str | None:
    return cfg.task.get("prompt_template") if cfg.get("task") is not None else None


def build_paraphrases(cfg: Any, held_out: list[Example]) -> Paraphrases | None:
    """The semantic check of ``decontamination.semantic`` (None when ``enabled: false``; the setting is part
    of the cell's config, hence of its identity); an unknown key is a PadaError, not ignored."""
    node = (cfg.get("decontamination") or {}).get("semantic")
    node = dict(OmegaConf.to_container(node, resolve=True)) if node is not None else {}
    if not node.pop("enabled", True):
        return None
    embedder = node.pop("embedder", BUNDLED_MINILM)
    if not isinstance(node.pop("execution_check", True), bool):
        raise PadaError("decontamination.semantic.execution_check: expected true or false")
    known = {f.name for f in fields(Rule)}
    if unknown := sorted(set(node) - known):
        raise PadaError(
            f"decontamination.semantic: unknown key(s) {unknown}; known: enabled, embedder, execution_check, "
            f"{sorted(known)}"
        )
    return Paraphrases(held_out, _template(cfg), embedder, Rule(**node), cfg.paths.get("cache_dir"))
