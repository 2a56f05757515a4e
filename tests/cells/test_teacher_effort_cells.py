"""Effort-matched comparisons through the runner (issue 28.2): each round's teacher allowance, the
methods stopping at it, and results.json's spent-vs-budget record, on the simulated world."""

from __future__ import annotations

import pytest
from conftest import compose_config

from pada.run.runner import run_cell

SIM = [
    "task=sim_arith",
    "teacher=sim_oracle",
    "budget=8",
    "task.val_size=10",
    "task.test_size=6",
    "eval.max_new_tokens=4",
    "wandb.mode=disabled",
    "+embedder=bundled:all-MiniLM-L6-v2",
    "synthetic_budget=12",
    "budget_match=true",
    "trainer.max_steps=2",
]


@pytest.mark.parametrize(
    "method, extra",
    [("auggpt", []), ("llm2llm", ["method.loop.iterations=2"]), ("pada", ["method.loop.iterations=2"])],
)
def test_the_runner_hands_each_round_its_allowance_and_records_spent_vs_budget(
    tmp_path, model_cache, method, extra
):
    overrides = [*SIM, f"paths.runs_dir={tmp_path}", f"paths.cache_dir={model_cache}", f"method={method}"]
    free = run_cell(compose_config([*overrides, *extra]))
    spent = free["teacher_effort"]["spent"]
    assert free["teacher_effort"]["budget"] is None and spent["calls"] > 8
    budget = spent["calls"] // 2
    results = run_cell(compose_config([*overrides, *extra, f"teacher_budget.calls={budget}"]))
    effort = results["teacher_effort"]
    assert effort["budget"] == {"calls": budget, "tokens": None}
    assert effort["spent"]["calls"] <= budget and results["data"]["synthetic"] > 0
    rounds = effort["per_iteration"]
    assert len(rounds) == len(results["data"]["synthetic_per_iteration"])
    planned = 1 if method == "auggpt" else 2
    assert rounds[0]["allowance"] == {"calls": -(-budget // planned)}
    assert sum(r["spent"]["calls"] for r in rounds) == effort["spent"]["calls"]
    # fewer calls, fewer items: recorded as a shortfall, never a quiet mismatch
    assert results["data"]["synthetic"] < free["data"]["synthetic"] or results["data"]["synthetic"] == 12
    assert results["data"]["synthetic"] == 12 or results["data"]["shortfall"]
