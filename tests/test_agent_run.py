"""A full tiny-model cell of the pada method through the runner: two iterations, reports, selection."""

from __future__ import annotations

import pytest
from conftest import compose_config

from pada.io import read_json, read_jsonl
from pada.run.runner import run_cell


@pytest.mark.slow  # three tiny trainings and evaluations: ~25 s on a shared 2-core host
def test_two_iterations_through_the_runner(tiny_cell_overrides):
    cfg = compose_config([*tiny_cell_overrides, "method=pada", "method.iterations=2", "method.select=best_val",
                          "method.patterns.embedder=bundled:all-MiniLM-L6-v2", "teacher=scripted",
                          "teacher.model=agent_test", "teacher.script_module=agent_support"])  # fmt: skip
    results = run_cell(cfg)
    run_dir = cfg.paths.runs_dir + "/" + results["cell"]["name"]
    synthetic = 0
    for i in (0, 1):
        report = read_json(f"{run_dir}/augment_{i}/patterns.json")
        new = read_jsonl(f"{run_dir}/augment_{i}/new.jsonl")
        val = read_jsonl(f"{run_dir}/eval_{i}/val.jsonl")
        train = read_jsonl(f"{run_dir}/eval_{i}/train.jsonl")
        wrong_seeds = [r for r in train if not r["correct"] and r["item_id"].startswith("gsm8k/")]
        assert report["failures"]["val"] == sum(not r["correct"] for r in val)
        assert report["failures"]["train"] == len(wrong_seeds)  # synthetic items are never re-augmented
        assert report["budget"] == {"strategy_examples": 16 if report["patterns"] else 0,
                                    "error_correction_examples": len(wrong_seeds)}  # fmt: skip
        rows = [*report["patterns"], report["error_correction"]]
        assert sum(r["accepted"] for r in rows) == len(new) == report["accepted"]
        assert sum(p["size"] for p in report["patterns"]) == report["failures"]["analysed"]
        assert all(set(p) >= {"name", "item_ids", "strategy", "rejected"} for p in report["patterns"])
        assert len({r["id"] for r in new}) == len(new) and all(r["source"] == "synthetic:pada" for r in new)
        synthetic += len(new)
    assert results["data"]["synthetic"] == synthetic > 0
    assert [row["iteration"] for row in results["iterations"]] == [0, 1, 2]
    selected = [row for row in results["iterations"] if row.get("selected")]
    best = max(row["val_accuracy"] for row in results["iterations"])
    assert len(selected) == 1 and selected[0]["val_accuracy"] == best
    assert results["teacher_usage"]["roles"]["generation"]["requests"] >= 32
