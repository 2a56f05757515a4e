"""A finished cell's ``results.json``: what it was (task, budget, method, seed, versions), what it scored,
the data and training it used, the teacher's effort and usage, stage timings, prediction files and
provenance. The analysis package reads only this file and the prediction files it names (docs/lifecycle.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pada.io import read_json
from pada.run import fairness
from pada.run.provenance import provenance
from pada.run.spend import routed_accounting, routed_usage, spent
from pada.teacher import Teacher, usage_sum
from pada.types import Example

log = logging.getLogger("pada")


def cell_results(
    cell: Any,
    config: dict[str, Any],
    seed_data: list[Example],
    train_data: list[Example],
    val: list[Example],
    test: list[Example],
    iterations: list[dict[str, Any]],
    last_eval: Any,
    test_stage: Any,
) -> dict[str, Any]:
    """``results.json`` of ``cell`` (a ``pada.run.runner.Cell``, not imported: the runner imports this module)
    once its test stage is done: ``config`` is the resolved config,
    ``last_eval`` / ``test_stage`` the last eval round's and the test stage's results (``.info``)."""
    cfg, stages = cell.cfg, cell.stages.results
    augments = augment_infos(stages, len(iterations))
    validation_trained = cell.method.trains_on_validation * len(val)
    return {
        "cell": {
            "task": cfg.task.name,
            "budget": cfg.budget,
            "method": cfg.method.name,
            "seed": cfg.seed,
            "name": cell.run_dir.name,
        },
        "simulation": bool(cfg.get("simulation") or cfg.task.get("simulation")),
        "versions": cell.result_versions(),  # part of the cell's identity (analysis groups by it)
        "metrics": {
            "test": test_stage.info["test"],
            **({"val": last_eval.info["val"]} if "val" in last_eval.info else {}),
        },
        "iterations": iterations,
        "data": {
            "seed": len(seed_data),
            "synthetic": len(train_data) - len(seed_data) - validation_trained,
            "synthetic_quota": fairness.synthetic_total(cfg),  # the cell's; Table 2 prints both
            "validation_trained": validation_trained,
            "final_train": len(train_data),
            "val": len(val),
            "test": len(test),
            **fairness.data_accounting(augments),
        },
        "training": fairness.training_accounting(iterations),
        "teacher_effort": fairness.effort_accounting(cfg, augments),
        "timings": {n: {"seconds": r.seconds, "cached": r.cached} for n, r in stages.items()},
        "teacher_usage": teacher_usage(cell.teacher, stages, cell.run_dir),
        "predictions": {
            n: sorted(p.name for p in r.path.glob("*.jsonl"))
            for n, r in stages.items()
            if n.startswith(("eval_", "test"))
        },
        "provenance": provenance(config, cell.splits.files),
        # per stage, the shared units (run.shared_stages) it reused from or computed for other cells
        "shared_stages": {n: r.shared for n, r in stages.items() if r.shared},
        **pattern_totals(stages),
    }


def augment_infos(stage_results: dict[str, Any], rounds: int) -> list[dict[str, Any]]:
    """The done infos of the augment stages of the first ``rounds`` rounds, in order."""
    names = [f"augment_{i}" for i in range(rounds)]
    return [stage_results[n].info for n in names if n in stage_results]


def teacher_usage(teacher: Teacher | None, stage_results: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The cell's teacher usage: the sum of its augment stages' own usage, each kept in the stage's done
    marker, so a resumed cell still counts stages done earlier. ``this_process``: this invocation only.
    ``{}`` for a cell without a teacher."""
    if teacher is None:
        return {}
    stages = {n: r.info["teacher_usage"] for n, r in stage_results.items() if "teacher_usage" in r.info}
    process = teacher.usage()
    identity = {k: process.pop(k) for k in ("provider", "model", "pricing")}
    total = usage_sum(list(stages.values()))
    costs = routed_accounting(total["roles"], teacher)
    routed = routed_usage(total["roles"], teacher)
    caps = {"cell_caps": teacher.caps, "spent": spent(stage_results, run_dir)}
    return {**identity, **total, **routed, **costs, **caps, "by_stage": stages, "this_process": process}


def pattern_totals(stage_results: dict[str, Any]) -> dict[str, Any]:
    """``{"patterns": {...}}`` summed over the augment stages' ``patterns.json``; ``{}`` without any.

    ``embedding_truncated``: analyses cut at the embedder's max_seq_length (a warning when non-zero);
    ``notes``: why an iteration got fewer clusters than asked for (e.g. all analyses embed alike)."""
    reports = [
        read_json(r.path / "patterns.json")
        for n, r in sorted(stage_results.items())
        if n.startswith("augment_") and (r.path / "patterns.json").is_file()
    ]
    if not reports:
        return {}
    truncated = sum(r["grouping"].get("embedding_truncated", 0) for r in reports)
    if truncated:
        log.warning(
            "pada: %d error analyses were cut at the embedder's max_seq_length before clustering "
            "(results.json patterns.embedding_truncated)",
            truncated,
        )
    notes = [
        f"iteration {r['iteration']}: {r['grouping']['note']}" for r in reports if r["grouping"].get("note")
    ]
    return {"patterns": {"embedding_truncated": truncated, "notes": notes}}


def flat_metrics(prefix: str, tree: dict[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"prefix/a/b": 1}``: wandb summaries take flat numeric keys."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flat_metrics(f"{prefix}/{key}", value))
        elif isinstance(value, int | float):
            flat[f"{prefix}/{key}"] = value
    return flat
