"""The sweep's plan: jobs, GPU hours and teacher tokens/dollars from each cell's ``plan`` section (estimates,
labelled as such), and the teacher calls of every augment stage (``expected_calls``: upper bounds).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from pada.errors import PadaError
from pada.preflight.checks import wants_gpu

NO_PLAN = "unknown (no plan section)"  # an estimate the config gives no number for is not 0


def plan(cells: list[DictConfig]) -> dict[str, Any]:
    """Jobs, GPU hours and teacher tokens/dollars from each cell's ``plan`` section (estimates; a string
    saying why when a cell that trains or calls the teacher has no number there), and the teacher calls of
    all cells' augment stages (``expected_calls``: an upper bound)."""
    hours = [_gpu_hours(cfg) for cfg in cells]
    tokens = [_teacher_tokens(cfg) for cfg in cells]
    dollars = [_dollars(cfg, t) for cfg, t in zip(cells, tokens, strict=True)]
    calls = sum(sum(sum(c.values()) for c in calls_or_none(cfg).values()) for cfg in cells)
    return {
        "jobs": len(cells),
        "gpu_hours_estimate": _total(hours, 1),
        "teacher_calls_at_most": calls,
        "teacher_tokens_estimate": _total(tokens, None),
        "teacher_dollars_estimate": _total(dollars, 2),
    }


def _trainings(cfg: DictConfig) -> int:
    return 0 if cfg.method.get("train", True) is False else _rounds(cfg) + 1


def _gpu_hours(cfg: DictConfig) -> float | str:
    """GPU hours of one cell from ``plan.gpu_hours_per_round``, or why it is unknown."""
    hours = (cfg.get("plan") or {}).get("gpu_hours_per_round")
    cpu_only = not wants_gpu(cfg) and cfg.model.get("builder") != "hf"  # the tiny or simulated student
    if _trainings(cfg) == 0 or cpu_only:
        return 0.0
    return NO_PLAN if hours is None else _trainings(cfg) * float(hours)


def _teacher_tokens(cfg: DictConfig) -> float | str:
    """Teacher tokens of one cell from ``plan.teacher_tokens_per_round[<method>]`` (scaled by the budget
    when ``plan.tokens_per_seeds`` is set), 0 without a teacher or rounds, else why it is unknown."""
    iterations = _rounds(cfg)
    if iterations == 0 or (cfg.get("teacher") or {}).get("provider", "none") == "none":
        return 0.0
    estimate = cfg.get("plan")
    per_round = (estimate or {}).get("teacher_tokens_per_round") or {}
    if cfg.method.name not in per_round:
        return (
            NO_PLAN
            if estimate is None
            else f"unknown (plan.teacher_tokens_per_round has no {cfg.method.name})"
        )
    tokens = float(per_round[cfg.method.name]) * iterations
    if estimate.get("tokens_per_seeds"):  # estimates given per N seeds scale with the cell's budget
        tokens *= cfg.budget / float(estimate.tokens_per_seeds)
    return tokens


def _dollars(cfg: DictConfig, tokens: float | str) -> float | str:
    """Dollars at the teacher's blended price; 0 for a free teacher even when its tokens are unknown."""
    price = cfg.teacher.get("pricing") or {}
    blended = (float(price.get("input_per_mtok", 0.0)) + float(price.get("output_per_mtok", 0.0))) / 2
    if blended == 0 or isinstance(tokens, str):
        return 0.0 if blended == 0 else tokens
    return tokens / 1e6 * blended


def _total(values: list[float | str], digits: int | None) -> float | int | str:
    """The sum, or the first reason a value is unknown (a partial sum would read as the whole)."""
    unknown = [v for v in values if isinstance(v, str)]
    if unknown:
        return unknown[0]
    return int(sum(values)) if digits is None else round(sum(values), digits)


def _rounds(cfg: DictConfig) -> int:
    """The cell's augmentation rounds, or 0 for a broken ``method.loop`` (its own check reports why)."""
    from pada.run.loop import loop_config

    try:
        return loop_config(cfg.method).iterations
    except PadaError:
        return 0


def calls_or_none(cfg: DictConfig) -> dict[str, dict[str, int]]:
    """``expected_calls``, or ``{}`` for a config too broken to estimate (its own check reports why)."""
    try:
        return expected_calls(cfg)
    except (PadaError, KeyError, AttributeError, TypeError, ValueError):
        return {}


def expected_calls(cfg: DictConfig) -> dict[str, dict[str, int]]:
    """Teacher calls per augment stage of one cell, by role: ``{"augment_0": {"paraphrase": 300, ...}}``.

    From the method's config and the cell's quotas (synthetic_budget / synthetic_per_iteration /
    budget_match, pada/run/fairness.py quota_for, assuming every earlier round added all it asked for).
    Upper bounds: cached answers cost nothing, and a method asks less when the student makes fewer errors.
    ``{}`` for a method without a teacher; methods unknown here are left out (no guess)."""
    from pada.run.fairness import quota_for
    from pada.run.loop import loop_config
    from pada.tasks import build_task
    from pada.tasks.synthetic import synthetic_format

    name, iterations = cfg.method.name, loop_config(cfg.method).iterations
    base = name.split("_")[0] if name.startswith("pada") else name
    if base not in ("auggpt", "llm2llm", "llms_as_instructors", "pada"):
        return {}
    fmt = synthetic_format(build_task(cfg.task))
    stages, added = {}, 0
    for i in range(iterations):
        quota = quota_for(cfg, i, iterations, added)
        calls, n = _stage_calls(cfg, base, added, quota, fmt)
        stages[f"augment_{i}"] = _with_top_ups(cfg, calls, quota)
        added += n
    return stages


TOP_UP_ROLES = ("paraphrase", "generation", "verification")  # a top-up reuses analyses, patterns, strategies


def _with_top_ups(cfg: DictConfig, calls: dict[str, int], quota: Any) -> dict[str, int]:
    """``calls`` with room for budget_match's top-ups (pada/run/topup.py): each of the ``budget_match_rounds``
    top-ups asks for at most the round's target again, so at most the first proposal's calls in the roles
    that write or check items; analyses, summaries and strategies are reused, never asked again."""
    from pada.run.topup import rounds_of

    rounds = rounds_of(cfg)
    if not rounds or quota.target is None:
        return calls
    return {role: n * (1 + rounds) if role in TOP_UP_ROLES else n for role, n in calls.items()}


def _stage_calls(cfg: DictConfig, name: str, added: int, quota: Any, fmt: Any) -> tuple[dict[str, int], int]:
    """Teacher calls by role for one augment stage of method ``name`` (upper bounds where the number
    depends on the student's errors: every seed wrong, every validation item failed), and the most
    examples the stage can add (the training set of later rounds grows by it)."""
    from pada.tasks.synthetic import MathFormat

    m, seeds, verifies = cfg.method, int(cfg.budget), fmt.verify_by_teacher
    if name == "auggpt":  # k paraphrases per seed (baselines/auggpt.py), then one re-solve per paraphrase
        n = _asked(int(m.k) * seeds, quota)
        return {"paraphrase": n, **({"verification": n} if verifies else {})}, n
    if name == "llm2llm":  # per unfilled wrong seed, attempt a asks min(need + a, 10) problems: in one call
        # (numbered; json_list, auto's form on item tasks) or one call each (json, auto's form on math)
        pool = seeds + (0 if m.get("seeds_only", True) else added)
        asked = _asked(int(m.per_seed) * pool, quota)
        form = m.get("response_format", "auto")
        one_call = form in ("numbered", "json_list") or (form == "auto" and not isinstance(fmt, MathFormat))
        need = max(1, -(-asked // pool)) if pool else 1
        per_seed = sum(1 if one_call else min(need + a, 10) for a in range(int(m.max_attempts)))
        calls = {"generation": min(pool, asked) * per_seed}
        return {**calls, **({"verification": asked} if m.get("verify") else {})}, asked
    if name == "llms_as_instructors":  # one analysis per training error, per_error problems each
        errors = seeds + (0 if m.get("seeds_only") else added)
        n = _asked(int(m.per_error) * errors, quota)
        return {"error_analysis": errors, "generation": n}, n
    # PaDA-Agent (pada/agent/method.py): analyses of validation failures, a summary and a strategy per
    # pattern, then generation with QC re-asks (1 + max_regenerations per slot), a verification each
    val = cfg.task.get("val_size") or (cfg.task.get("limits") or {}).get("val") or int(m.max_analyses)
    analyses = min(int(m.max_analyses), int(val)) if m.get("use_validation", True) else 0
    clusters = _patterns(m.patterns, analyses)
    wrong = seeds if m.get("use_train_errors", True) else 0
    own = int(m.generation.strategy_examples) * bool(analyses) + int(m.generation.per_wrong_seed) * wrong
    n = _asked(own, quota)
    tries = n * (1 + int(m.qc.max_regenerations) if m.qc.enabled else 1)
    calls = {
        "error_analysis": analyses,
        "pattern_summary": clusters,
        "strategy": clusters,
        "generation": tries,
    }
    if m.qc.enabled and m.qc.verify and verifies:
        calls["verification"] = tries
    if m.qc.enabled and (m.qc.get("judge") or {}).get("enabled"):
        calls["judge"] = tries
    return calls, n


def _asked(own: int, quota: Any) -> int:
    """Examples a round asks for: the method's own number, else the quota's target (budget_match) or
    limit (as baselines.common.allowance does)."""
    cap = quota.target if quota.target is not None else quota.limit
    if quota.target is not None:
        return quota.target
    return own if cap is None else min(own, cap)


def _patterns(patterns: DictConfig, analyses: int) -> int:
    """The most patterns PaDA-Agent can find in ``analyses`` failures (pada/agent/clustering.py): one per
    failure (per_failure), one (single), k (fixed_k), else the elbow's k_min..k_max with K <= n /
    min_per_cluster."""
    if not analyses:
        return 0
    grouping = patterns.grouping
    if grouping == "per_failure":
        return analyses
    if grouping == "single":
        return 1
    if grouping == "fixed_k":
        return min(int(patterns.k), analyses)
    return min(int(patterns.k_max), max(int(patterns.k_min), analyses // int(patterns.min_per_cluster)))
