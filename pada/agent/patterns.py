"""Error analysis, pattern categorisation, pattern summaries and strategy drafting (PaDA-Agent §3.1-3.3).

Every validation failure (or a seeded subsample) gets a teacher-written analysis; analyses are embedded and
clustered; the teacher names each cluster's shared cause (a pattern) and drafts one strategy per pattern.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from pada.agent.clustering import Clustering, cluster, embed_fields
from pada.teacher import Request, render
from pada.teacher.schemas import ErrorAnalysis, PatternSummary, Strategy
from pada.types import EvalRecord

GROUPINGS = ("kmeans", "fixed_k", "single", "per_failure")


@dataclass
class Analysis:
    item_id: str
    text: str  # the error and the missing skill, as summarised
    # embedded one by one, most discriminative first (clustering.embed_fields); empty = embed ``text``
    fields: tuple[str, ...] = ()


@dataclass
class Pattern:
    name: str
    description: str
    item_ids: list[str]
    analyses: list[str]
    strategy: str = ""
    counts: dict[str, Any] = field(default_factory=dict)


def subsample(failures: list[EvalRecord], limit: int | None, rng: random.Random) -> list[EvalRecord]:
    """All failures, or a seeded subsample of ``limit`` of them (kept in their original order)."""
    if not limit or len(failures) <= limit:
        return list(failures)
    keep = set(rng.sample(range(len(failures)), limit))
    return [f for i, f in enumerate(failures) if i in keep]


def analyse(teacher: Any, failures: list[EvalRecord], task_description: str, version: str) -> list[Analysis]:
    """One structured analysis per failure, batched; failures the teacher could not analyse are dropped."""
    prompts = [
        render(
            "error_analysis",
            version,
            schema=ErrorAnalysis,
            task_description=task_description,
            question=r.prompt,
            student_output=r.output,
            extracted=r.extracted or "(none found)",
            gold=r.gold,
            verdict="incorrect",
        )
        for r in failures
    ]
    answers = teacher.complete_many([Request("error_analysis", p, 0, ErrorAnalysis) for p in prompts])
    return [
        Analysis(
            r.item_id,
            f"{a.error.strip()} Missing skill: {a.missing_skill.strip()}",
            (a.missing_skill.strip(), a.error.strip()),
        )
        for r, a in zip(failures, answers, strict=True)
        if a is not None
    ]


def group(analyses: list[Analysis], cfg: Any, seed: int) -> tuple[list[list[int]], Clustering | None]:
    """Indices of the analyses in each group, under the configured grouping, and the clustering if any."""
    n = len(analyses)
    if n == 0:
        return [], None
    if cfg.grouping == "single":
        return [list(range(n))], None
    if cfg.grouping == "per_failure":
        return [[i] for i in range(n)], None
    vectors, truncated = embed_fields([a.fields or (a.text,) for a in analyses], cfg.embedder)
    if cfg.grouping == "fixed_k":
        k = min(int(cfg.k), n)
        result = cluster(vectors, k_min=k, k_max=k, min_per_cluster=1, n_init=cfg.n_init, seed=seed)
    else:
        result = cluster(vectors, cfg.k_min, cfg.k_max, cfg.min_per_cluster, cfg.n_init, seed)
    result.embedding_truncated = truncated
    groups = [[i for i, label in enumerate(result.labels) if label == k] for k in sorted(set(result.labels))]
    groups.sort(key=len, reverse=True)  # the largest pattern first, in reports and in allocation ties
    return groups, result


def summarise(
    teacher: Any, analyses: list[Analysis], groups: list[list[int]], task_description: str, max_members: int
) -> list[Pattern]:
    """The teacher names each group's shared cause from (up to ``max_members`` of) its members' analyses."""
    prompts = [
        render(
            "pattern_summary",
            "v2",
            schema=PatternSummary,
            task_description=task_description,
            analyses=[analyses[i].text for i in members[:max_members]],
        )
        for members in groups
    ]
    answers = teacher.complete_many([Request("pattern_summary", p, 0, PatternSummary) for p in prompts])
    patterns = []
    for number, (members, answer) in enumerate(zip(groups, answers, strict=True)):
        name = answer.name.strip() if answer else f"pattern {number + 1}"
        description = answer.description.strip() if answer else analyses[members[0]].text
        patterns.append(
            Pattern(
                name, description, [analyses[i].item_id for i in members], [analyses[i].text for i in members]
            )
        )
    return patterns


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
