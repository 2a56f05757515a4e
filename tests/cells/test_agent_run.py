"""A full tiny-model cell of the pada method through the runner: two iterations, reports, selection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import compose_config

from analysis.collect import collect_runs
from pada.io import read_json, read_jsonl, write_json
from pada.run.runner import run_cell
from pada.run.stages import DONE, manifest


@pytest.mark.slow  # three tiny trainings and evaluations: ~25 s on a shared 2-core host
def test_two_iterations_through_the_runner(tiny_cell_overrides, tmp_path):
    cfg = compose_config(
        [
            *tiny_cell_overrides,
            "method=pada",
            "method.loop.iterations=2",
            "++method.loop.select=best_val",
            "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
            "teacher=scripted",
            "teacher.model=agent_test",
            "teacher.script_module=agent_support",
        ]
    )
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
        assert report["budget"] == {
            "strategy_examples": 16 if report["patterns"] else 0,
            "error_correction_examples": len(wrong_seeds),
        }
        rows = [*report["patterns"], report["error_correction"]]
        assert sum(r["accepted"] for r in rows) == len(new) == report["accepted"]
        assert sum(p["size"] for p in report["patterns"]) == report["failures"]["analysed"]
        assert all(set(p) >= {"name", "item_ids", "strategy", "rejected"} for p in report["patterns"])
        assert len({r["id"] for r in new}) == len(new) and all(r["source"] == "synthetic:pada" for r in new)
        assert report["grouping"]["embedding_truncated"] == 0  # short scripted analyses fit the window
        synthetic += len(new)
    assert results["data"]["synthetic"] == synthetic > 0
    assert results["patterns"]["embedding_truncated"] == 0
    assert [row["iteration"] for row in results["iterations"]] == [0, 1, 2]
    selected = [row for row in results["iterations"] if row.get("selected")]
    best = max(row["val_accuracy"] for row in results["iterations"])
    assert len(selected) == 1 and selected[0]["val_accuracy"] == best
    assert results["teacher_usage"]["roles"]["generation"]["requests"] >= 32
    _check_pattern_scores(Path(run_dir), tmp_path)

    # A cell killed between eval_2 and the report's scoring: the cached re-run completes it, byte-identical.
    files = {p: p.read_bytes() for p in sorted(Path(run_dir).glob("augment_*/patterns.*"))}
    _unscore(Path(run_dir) / "augment_1" / "patterns.json")
    _marker_as_before_scoring(Path(run_dir) / "augment_1")
    rerun = run_cell(cfg)
    assert all(t["cached"] for t in rerun["timings"].values())
    assert {p: p.read_bytes() for p in files} == files


def _marker_as_before_scoring(stage_dir: Path) -> None:
    """A kill between eval_<i+1> and the scoring leaves the augment stage's marker listing its unscored files."""
    marker = stage_dir / DONE
    write_json(marker, {**read_json(marker), "files": manifest(stage_dir)})


def _unscore(path: Path) -> None:
    report = read_json(path)
    del report["val_set"]
    for pattern in report["patterns"]:
        del pattern["val_items"], pattern["val_accuracy_before"], pattern["val_accuracy_after"]
    write_json(path, report)


def _check_pattern_scores(run_dir: Path, tmp_path: Path) -> None:
    """The method's own scores equal what analysis.collect computes from item_ids and eval_<i+1>/val.jsonl."""
    for i in (0, 1):
        report = read_json(run_dir / f"augment_{i}" / "patterns.json")
        val = read_jsonl(run_dir / f"eval_{i}" / "val.jsonl")
        assert report["val_set"]["val_accuracy_before"] == sum(r["correct"] for r in val) / len(val)
        for pattern in report["patterns"]:  # analysed failures: wrong before by construction
            assert pattern["val_items"] == pattern["size"] and pattern["val_accuracy_before"] == 0.0
    old_style = tmp_path / "old_style" / run_dir.name  # a run dir from before the method scored its reports
    shutil.copytree(run_dir, old_style)
    for i in (0, 1):
        _unscore(old_style / f"augment_{i}" / "patterns.json")
    scored, computed = collect_runs(run_dir.parent).patterns, collect_runs(old_style.parent).patterns
    assert len(scored) > 0 and scored.to_dict("records") == computed.to_dict("records")
