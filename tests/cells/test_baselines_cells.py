"""Whole cells on the tiny model and the tiny GSM8K fixture: the base model trains nothing; AugGPT adds k
per seed once; LLM2LLM re-augments only wrong seeds and trains each step on the cumulative data."""

from __future__ import annotations

from pathlib import Path

import baselines_script  # noqa: F401  (registers the 'test_baselines' script)
from conftest import compose_config

from pada.io import read_json, read_jsonl
from pada.run.runner import run_cell

TEACHER = ["teacher=scripted", "teacher.model=test_baselines", "teacher.script_module=baselines_script"]


def _cell(overrides: list[str], tmp_path, *extra: str):
    cfg = compose_config([*overrides, *extra])
    return run_cell(cfg), cfg


def _run_dir(cfg, results) -> Path:
    return Path(cfg.paths.runs_dir) / results["cell"]["name"]


def test_base_model_is_evaluated_without_any_training(tiny_cell_overrides, tmp_path):
    results, cfg = _cell(tiny_cell_overrides, tmp_path, "method=base")
    run_dir = _run_dir(cfg, results)
    assert not list(run_dir.glob("train_*")) and not list(run_dir.glob("augment_*"))
    assert results["metrics"]["test"]["n"] == 8 and results["iterations"] == [
        {
            "iteration": 0,
            "train_examples": 16,
            "val_accuracy": results["metrics"]["val"]["accuracy"],
            "selected": True,
        }
    ]
    assert len(read_jsonl(run_dir / "test" / "test.jsonl")) == 8 and results["data"]["synthetic"] == 0


def test_auggpt_cell_adds_k_per_seed_once(tiny_cell_overrides, tmp_path):
    # Semantic check off: one seed of the tiny world poses a problem of its held-out split, and the runner
    # rightly drops its paraphrase (tests/cells/test_semantic_decontamination_cell.py); this counts AugGPT's k.
    results, cfg = _cell(
        tiny_cell_overrides,
        tmp_path,
        "method=auggpt",
        "method.k=2",
        *TEACHER,
        "decontamination.semantic.enabled=false",
    )
    # per seed: sample 0 repeats the question (dropped), sample 1 is a faithful rewrite (verified, kept)
    assert results["data"]["synthetic"] == 16 and [r["train_examples"] for r in results["iterations"]] == [
        16,
        32,
    ]
    usage = results["teacher_usage"]["roles"]
    assert (usage["paraphrase"]["requests"], usage["verification"]["requests"]) == (32, 16)
    new = read_jsonl(_run_dir(cfg, results) / "augment_0" / "new.jsonl")
    assert sorted(r["meta"]["parent"] for r in new) == sorted(
        r["id"] for r in read_jsonl(_run_dir(cfg, results) / "seed" / "seed.jsonl")
    )


def test_llm2llm_cell_uses_only_wrong_seeds_and_accumulates(tiny_cell_overrides, tmp_path):
    results, cfg = _cell(
        tiny_cell_overrides, tmp_path, "method=llm2llm", "method.loop.iterations=2", *TEACHER
    )
    run_dir = _run_dir(cfg, results)
    seeds = {r["id"] for r in read_jsonl(run_dir / "seed" / "seed.jsonl")}
    train = list(seeds)
    for i in range(2):
        records = read_jsonl(run_dir / f"eval_{i}" / "train.jsonl")
        assert sorted(r["item_id"] for r in records) == sorted(train)  # evaluated on the cumulative data
        wrong_seeds = [r["item_id"] for r in records if not r["correct"] and r["item_id"] in seeds]
        new = read_jsonl(run_dir / f"augment_{i}" / "new.jsonl")
        assert sorted(r["meta"]["parent"] for r in new) == sorted(
            wrong_seeds
        )  # one per wrong seed, seeds only
        train += [r["id"] for r in new]
        assert results["iterations"][i + 1]["train_examples"] == len(train)  # step i+1 trains on all of it
    assert results["data"]["synthetic"] == len(train) - 16 > 0


def test_llms_as_instructors_cell_by_contrast(tiny_cell_overrides, tmp_path):
    results, cfg = _cell(
        tiny_cell_overrides,
        tmp_path,
        "method=llms_as_instructors",
        "method.loop.iterations=1",
        "method.similarity=rouge",
        "synthetic_budget=5",
        *TEACHER,
    )
    records = read_jsonl(_run_dir(cfg, results) / "eval_0" / "train.jsonl")
    wrong = sum(not r["correct"] for r in records)
    usage = results["teacher_usage"]["roles"]
    assert results["data"]["synthetic"] == min(5, wrong) == usage["generation"]["requests"]
    assert usage["error_analysis"]["requests"] == min(5, wrong)  # the cap binds before any teacher call


def test_llm2llm_cell_evaluates_the_training_set_at_the_official_length(
    tiny_cell_overrides, tmp_path, monkeypatch
):
    """The runner evaluates the training set at the method's length (official LLM2LLM: 100 new tokens)
    and validation at the configured one; the stage records it and its key changes with it."""
    import json

    import pytest

    from pada.run.runner import Cell
    from pada.run.stages import StopRequested

    lengths: list[tuple[int, int | None]] = []
    evaluate = Cell.evaluate

    def recording(self, examples, adapter, max_new_tokens=None):
        lengths.append((len(examples), max_new_tokens))
        return evaluate(self, examples, adapter, max_new_tokens)

    monkeypatch.setattr(Cell, "evaluate", recording)
    stop = ["method=llm2llm", "method.loop.iterations=1", "run.stop_after=eval_0", *TEACHER]
    cfg = compose_config([*tiny_cell_overrides, *stop])
    with pytest.raises(StopRequested):
        run_cell(cfg)
    assert lengths == [(10, None), (16, 100)]  # validation: eval.max_new_tokens; training set: 100
    run_dir = next(Path(cfg.paths.runs_dir).glob("gsm8k-*"))
    done = json.loads((run_dir / "eval_0" / ".done.json").read_text())
    assert done["info"]["train"]["max_new_tokens"] == 100 and "max_new_tokens" not in done["info"]["val"]


MATCHED = ["method=auggpt", *TEACHER, "decontamination.semantic.enabled=false", "synthetic_budget=16"]


def test_auggpt_cell_under_budget_match_tops_up_the_duplicates_it_dropped(tiny_cell_overrides, tmp_path):
    """budget_match asks one paraphrase per seed: every first sample repeats its question (dropped as a
    duplicate), so the round keeps 0 of 16; the runner's top-up asks each seed again at its next sample
    index (a faithful rewrite, verified) and the cell ends at the quota."""
    results, cfg = _cell(tiny_cell_overrides, tmp_path, *MATCHED, "budget_match=true")
    data = results["data"]
    assert (data["synthetic"], data["shortfall"]) == (16, {})
    top_up = data["top_up"][0]
    assert (top_up["stopped"], top_up["rounds_used"]) == ("target_reached", 1)
    assert [(r["asked"], r["proposed"], r["kept"]) for r in top_up["per_round"]] == [(16, 0, 0), (16, 16, 16)]
    assert [r["teacher_spent"]["calls"] for r in top_up["per_round"]] == [
        16,
        32,
    ]  # paraphrases + verifications
    usage = results["teacher_usage"]["roles"]
    assert (usage["paraphrase"]["requests"], usage["verification"]["requests"]) == (32, 16)
    report = read_json(_run_dir(cfg, results) / "augment_0" / "baseline_report.json")
    assert (report["duplicate"], report["kept"]) == (16, 0)
    assert report["top_ups"] == [{"top_up": 1, "requested": 16, "kept": 16}]
    new = read_jsonl(_run_dir(cfg, results) / "augment_0" / "new.jsonl")
    assert {r["id"].rsplit("/", 1)[1] for r in new} == {"1"}  # each seed's sample 1: never sample 0 again


def test_auggpt_top_up_is_refused_when_the_teacher_allowance_is_spent(tiny_cell_overrides, tmp_path):
    results, _ = _cell(
        tiny_cell_overrides, tmp_path, *MATCHED, "budget_match=true", "teacher_budget.calls=16"
    )
    data, effort = results["data"], results["teacher_effort"]
    assert effort["spent"]["calls"] <= 16 and effort["refused"] == 0  # never asked past the allowance
    top_up = data["top_up"][0]
    assert top_up["stopped"] == "teacher_budget_spent" and data["synthetic"] < 16
    assert "teacher allowance (teacher_budget) is spent" in data["shortfall"][0]["why"]
