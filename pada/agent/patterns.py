"""Error analysis, pattern categorisation, pattern summaries and strategy drafting (PaDA-Agent §3.1-3.3).

Every validation failure (or a seeded subsample) gets a teacher-written analysis; analyses are embedded and
clustered; the teacher names each cluster's shared cause (a pattern) and drafts one strategy per pattern.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pada.agent.clustering import Clustering, cluster, embed_fields
from pada.errors import PadaError
from pada.selection_bias import answer_letter, is_multiple_choice, selection_bias
from pada.teacher import Request, render
from pada.teacher.schemas import SharedCause, Strategy, schema_for
from pada.types import EvalRecord

GROUPINGS = ("kmeans", "fixed_k", "single", "per_failure")


@dataclass
class Analysis:
    item_id: str
    text: str  # the analysis as the summariser is shown it
    # embedded one by one, most discriminative first (clustering.embed_fields); empty = embed ``text``
    fields: tuple[str, ...] = ()
    parts: dict[str, str] = field(default_factory=dict)  # the answer's fields by name (patterns.embed_fields)


@dataclass
class Pattern:
    name: str
    description: str
    item_ids: list[str]
    analyses: list[str]
    strategy: str = ""
    counts: dict[str, Any] = field(default_factory=dict)
    # pattern_summary.v3: the members the summariser says share the cause; False when fewer than two of a
    # cluster of two or more do (a cluster with no shared cause); None when not asked (v2) or one member
    supported_by: list[str] = field(default_factory=list)
    shared_cause: bool | None = None


def subsample(failures: list[EvalRecord], limit: int | None, rng: random.Random) -> list[EvalRecord]:
    """All failures, or a seeded subsample of ``limit`` of them (kept in their original order)."""
    if not limit or len(failures) <= limit:
        return list(failures)
    keep = set(rng.sample(range(len(failures)), limit))
    return [f for i, f in enumerate(failures) if i in keep]


def analysis_fields(version: str) -> tuple[str, ...]:
    """The fields of an ``error_analysis.<version>`` answer, in the schema's order."""
    return tuple(schema_for("error_analysis", version).model_fields)


def check_embed_fields(version: str, names: Any) -> None:
    """PadaError unless every name in ``names`` (None = the default fields) is a field of the analyses."""
    missing = [n for n in names or () if n not in analysis_fields(version)]
    if missing:
        raise PadaError(
            f"method.patterns.embed_fields={list(names)}: error_analysis.{version} answers have no field "
            f"{missing}; choose from {list(analysis_fields(version))} or null"
        )


def _analysis(item_id: str, answer: BaseModel) -> Analysis:
    """The summariser's text and the default embedded fields of one answer (error_analysis v1-v3 or v5)."""
    parts = {k: str(v).strip() for k, v in answer.model_dump().items()}
    if "root_cause" in parts:  # v5: the kind of mistake first, then the concrete error
        text = f"{parts['root_cause']} (on its problem: {parts['error']})"
        return Analysis(item_id, text, (parts["root_cause"], parts["scenario"], parts["error"]), parts)
    text = f"{parts['error']} Missing skill: {parts['missing_skill']}"
    return Analysis(item_id, text, (parts["missing_skill"], parts["error"]), parts)


def option_text(prompt: str, answer: str | None) -> str:
    """The text of option ``answer`` when ``prompt`` lists lettered options ("C. drought" or "C) drought" on
    its own line) and ``answer`` is one letter; "" otherwise. A small teacher shown only letters mixes up
    which option the model chose and which is right (seen with the 1.5B on ARC, docs/real_cpu.md)."""
    if not answer or not re.fullmatch(r"[A-Z]", answer.strip()):
        return ""
    found = re.findall(rf"^\s*{answer.strip()}[.)]\s+(.+?)\s*$", prompt, flags=re.MULTILINE)
    return found[-1] if found else ""


def analyse(teacher: Any, failures: list[EvalRecord], task_description: str, version: str) -> list[Analysis]:
    """One structured analysis per failure, batched; failures the teacher could not analyse are dropped."""
    schema = schema_for("error_analysis", version)
    prompts = [
        render(
            "error_analysis",
            version,
            schema=schema,
            task_description=task_description,
            question=r.prompt,
            student_output=r.output,
            extracted=r.extracted or "(none found)",
            gold=r.gold,
            extracted_option=option_text(r.prompt, r.extracted),
            gold_option=option_text(r.prompt, r.gold),
            verdict="incorrect",
        )
        for r in failures
    ]
    answers = teacher.complete_many([Request("error_analysis", p, 0, schema) for p in prompts])
    return [_analysis(r.item_id, a) for r, a in zip(failures, answers, strict=True) if a is not None]


def embedded(analysis: Analysis, names: Any) -> tuple[str, ...]:
    """What clustering embeds of ``analysis``: the named fields (``patterns.embed_fields``), or by default
    its ``fields`` (every field, most discriminative first), or its text."""
    if names:
        return tuple(analysis.parts[n] for n in names)
    return analysis.fields or (analysis.text,)


def group(analyses: list[Analysis], cfg: Any, seed: int) -> tuple[list[list[int]], Clustering | None]:
    """Indices of the analyses in each group, under the configured grouping, and the clustering if any."""
    n = len(analyses)
    if n == 0:
        return [], None
    if cfg.grouping == "single":
        return [list(range(n))], None
    if cfg.grouping == "per_failure":
        return [[i] for i in range(n)], None
    vectors, truncated = embed_fields([embedded(a, cfg.get("embed_fields")) for a in analyses], cfg.embedder)
    if cfg.grouping == "fixed_k":
        k = min(int(cfg.k), n)
        result = cluster(vectors, k_min=k, k_max=k, min_per_cluster=1, n_init=cfg.n_init, seed=seed)
    else:
        result = cluster(vectors, cfg.k_min, cfg.k_max, cfg.min_per_cluster, cfg.n_init, seed)
    result.embedding_truncated = truncated
    groups = [[i for i, label in enumerate(result.labels) if label == k] for k in sorted(set(result.labels))]
    groups.sort(key=len, reverse=True)  # the largest pattern first, in reports and in allocation ties
    return groups, result


def letter_counts(records: list[EvalRecord]) -> str:
    """How often each option letter was the model's answer and the correct one over ``records``, e.g.
    "the model answered C 11, A 11, D 4; the correct answer was B 9, D 8, C 6, A 3" (most frequent first,
    ties by letter; an answer that is not one letter counts as "none"). "" unless every gold answer is one
    letter (a multiple-choice task) and there are records. Shown by ``pattern_summary.v4``: a letter
    preference whatever the question (the demo's 135M student never answered B, docs/real_cpu.md) is a
    failure pattern that no single failure's analysis can see."""
    if not is_multiple_choice([r.gold for r in records]):
        return ""

    def tally(letters: list[str]) -> str:
        counts = Counter(letters)
        return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    answered = [answer_letter(r.extracted) for r in records]
    return f"the model answered {tally(answered)}; the correct answer was {tally([r.gold.strip() for r in records])}"


def letter_recall(records: list[EvalRecord]) -> str:
    """The model's recall per correct option letter over ``records`` (all of a round's validation items, not
    only its failures: a recall needs the items it got right) and their spread, RStd (Zheng et al. 2024,
    ``pada.selection_bias``), e.g. "A 4/10, B 0/9, C 5/7, D 3/6 (RStd 25.9 points)". "" unless every gold
    answer is one letter and there are records. Measured by pada, not named by the teacher: ``patterns.md``
    states it beside the teacher's patterns."""
    gold = [r.gold for r in records]
    if not is_multiple_choice(gold):
        return ""
    return selection_bias([r.extracted for r in records], gold).text()


SHARED_WORDS = 8  # at most this many shared words are shown to the summariser, the most shared first
_WORD = re.compile(r"[a-z][a-z'-]+")


def shared_words(texts: list[str], limit: int = SHARED_WORDS) -> list[str]:
    """Content words (not scikit-learn's English stop words, 3+ letters) found in at least two of ``texts``,
    the most widely shared first, ties in order of first appearance."""
    seen = [
        dict.fromkeys(w for w in _WORD.findall(t.lower()) if len(w) > 2 and w not in ENGLISH_STOP_WORDS)
        for t in texts
    ]
    counts = Counter(w for words in seen for w in words)
    order = list(dict.fromkeys(w for words in seen for w in words))
    shared = [w for w in order if counts[w] >= 2]
    return sorted(shared, key=lambda w: -counts[w])[:limit]


def summarise(
    teacher: Any,
    analyses: list[Analysis],
    groups: list[list[int]],
    task_description: str,
    max_members: int,
    version: str = "v2",
    embed: Any = None,
    validation: list[EvalRecord] | None = None,
) -> list[Pattern]:
    """The teacher names each group's shared cause from (up to ``max_members`` of) its members' analyses.

    ``pattern_summary.v3`` also shows the words that members' embedded fields (``embed``, as ``group``) share,
    and asks which members share the cause: a group of two or more where fewer than two do gets
    ``shared_cause=False``. ``pattern_summary.v4`` also shows ``letter_counts`` of the shown members' records
    and of all of ``validation`` (the round's validation failures, all a method may read of validation:
    pada.run.fairness.failures; the members are looked up there by item id, a KeyError if one is missing:
    never a prompt quietly without the counts)."""
    schema = schema_for("pattern_summary", version)
    by_id = {r.item_id: r for r in validation or []}
    prompts = []
    for members in groups:
        shown = members[:max_members]
        extra: dict[str, Any] = {}
        if schema is SharedCause:
            extra["shared_words"] = shared_words([" ".join(embedded(analyses[i], embed)) for i in shown])
        if version == "v4":
            group_letters = letter_counts([by_id[analyses[i].item_id] for i in shown])
            extra |= {
                "group_letters": group_letters,
                "all_letters": letter_counts(validation or []) if group_letters else "",
                "n_failures": len(validation or []),
            }
        prompts.append(
            render(
                "pattern_summary",
                version,
                schema=schema,
                task_description=task_description,
                analyses=[analyses[i].text for i in shown],
                **extra,
            )
        )
    answers = teacher.complete_many([Request("pattern_summary", p, 0, schema) for p in prompts])
    return [
        _pattern(number, analyses, members[:max_members], members, answer)
        for number, (members, answer) in enumerate(zip(groups, answers, strict=True))
    ]


def _pattern(
    number: int, analyses: list[Analysis], shown: list[int], members: list[int], answer: Any
) -> Pattern:
    """One group's pattern from the summariser's answer (None: it could not answer: named by number)."""
    name = answer.name.strip() if answer else f"pattern {number + 1}"
    description = answer.description.strip() if answer else analyses[members[0]].text
    pattern = Pattern(
        name, description, [analyses[i].item_id for i in members], [analyses[i].text for i in members]
    )
    if isinstance(answer, SharedCause):  # the listed members' numbers are 1-based over the shown analyses
        listed = sorted({n for n in answer.members if 1 <= n <= len(shown)})
        pattern.supported_by = [analyses[shown[n - 1]].item_id for n in listed]
        pattern.shared_cause = len(listed) >= 2 if len(members) >= 2 else None
    return pattern


def draft_strategies(teacher: Any, patterns: list[Pattern], task_description: str) -> None:
    """One augmentation strategy per pattern, written into ``pattern.strategy``."""
    prompts = [
        render(
            "strategy",
            "v2",
            schema=Strategy,
            task_description=task_description,
            pattern_name=p.name,
            pattern_description=p.description,
        )
        for p in patterns
    ]
    answers = teacher.complete_many([Request("strategy", p, 0, Strategy) for p in prompts])
    for pattern, answer in zip(patterns, answers, strict=True):
        pattern.strategy = answer.strategy.strip() if answer else ""
