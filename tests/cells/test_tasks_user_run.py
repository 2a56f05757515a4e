"""A user's own task (``_target_: pada.tasks.user.UserTask``) end to end: ``pada run method=pada`` with
the tiny student and a scripted teacher, then ``pada analyze`` shows its column. A tiny JSONL task the test writes (pada always; every
method, slow) and the shipped worked example, MMLU professional medicine as a user's task (skips without PADA_DATA_DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose_config, real_data_dir
from omegaconf import OmegaConf, open_dict
from test_tasks_user import numeric_task

from pada.cli import main
from pada.io import read_json, read_jsonl
from pada.run.runner import run_cell
from pada.tasks.user import UserTask

CELL = [
    "budget=8",
    "trainer.max_steps=4",
    "trainer.batch_size=4",
    "trainer.grad_accum=1",
    "eval.max_new_tokens=6",
    "wandb.mode=disabled",
    "method=pada",
    "method.loop.iterations=1",
    "method.patterns.grouping=single",
    "method.generation.strategy_examples=4",
    "teacher=scripted",
]


def _run_and_analyze(cfg, tmp_path: Path, capsys) -> tuple[dict, list[dict], str]:
    results = run_cell(cfg)
    run_dir = Path(cfg.paths.runs_dir) / results["cell"]["name"]
    new = read_jsonl(run_dir / "augment_0" / "new.jsonl")
    capsys.readouterr()
    out = tmp_path / "analysis"
    assert main(["analyze", str(cfg.paths.runs_dir), "--out", str(out), "--resamples", "500"]) == 0
    return results, new, capsys.readouterr().out


def test_a_users_jsonl_task_runs_pada_and_appears_in_analyze(tmp_path, model_cache, capsys):
    data = tmp_path / "data"
    task = numeric_task(data)
    cfg = compose_config(
        [
            *CELL,
            f"paths.runs_dir={tmp_path / 'runs'}",
            f"paths.data_dir={data}",
            f"paths.cache_dir={model_cache}",
            "teacher.model=agent_test",
            "teacher.script_module=agent_support",
        ]
    )
    with open_dict(cfg):
        cfg.task = OmegaConf.create(task)  # what conf/task/my_apples.yaml would hold
    results, new, table = _run_and_analyze(cfg, tmp_path, capsys)
    assert results["cell"]["name"].startswith("my_apples-b8-pada-s0-")
    assert results["versions"]["task"] == UserTask.version
    assert results["data"]["synthetic"] == len(new) > 0 and {r["source"] for r in new} == {"synthetic:pada"}
    assert all(
        r["prompt"].startswith("Solve it. End with '#### <number>'.") for r in new
    )  # the task's template
    assert "my_apples b8" in table and "PaDA-Agent" in table


@pytest.mark.slow  # a 50-item validation set scored twice: ~30 s on a shared 2-core host
@pytest.mark.skipif(real_data_dir() is None, reason="needs PADA_DATA_DIR with mmlu/ (see docs/tasks.md)")
def test_mmlu_professional_medicine_as_a_users_task(tmp_path, model_cache, capsys):
    cfg = compose_config(
        [
            *CELL,
            "task=mmlu_professional_medicine",
            f"paths.runs_dir={tmp_path / 'runs'}",
            f"paths.data_dir={real_data_dir()}",
            f"paths.cache_dir={model_cache}",
            "task.limits.test=20",
            "teacher.model=tasks_e2e",
            "teacher.script_module=test_agent_tasks_run",
        ]
    )
    results, new, table = _run_and_analyze(cfg, tmp_path, capsys)
    run_dir = Path(cfg.paths.runs_dir) / results["cell"]["name"]
    report = read_json(run_dir / "augment_0" / "patterns.json")
    assert report["accepted"] == len(new) == results["data"]["synthetic"] > 0
    assert all("\nA. iron\nB. oxygen\nC. salt\nD. wood\n" in r["prompt"] for r in new)  # choice items
    assert {r["target"] for r in new} == {"The best answer is B."}
    val = read_jsonl(run_dir / "eval_0" / "val.jsonl")
    assert len(val) == 50 and all(r["item_id"].startswith("mmlu_professional_medicine/train/") for r in val)
    assert "mmlu_professional_medicine b8" in table and "PaDA-Agent" in table


BASELINES = ["teacher=scripted", "teacher.model=test_baselines", "teacher.script_module=baselines_script"]
EVERY_METHOD = {
    "base": [],
    "sft": [],
    "sft_val": [],
    "auggpt": ["method.k=2", *BASELINES],
    "llm2llm": ["method.loop.iterations=1", *BASELINES],
    "llms_as_instructors": ["method.loop.iterations=1", "method.similarity=rouge", *BASELINES],
    "pada": [*CELL[7:], "teacher.model=agent_test", "teacher.script_module=agent_support"],
}


@pytest.mark.slow  # seven tiny cells: ~40 s on a shared 2-core host
def test_every_method_runs_on_a_users_jsonl_task(tmp_path, model_cache, capsys):
    data, runs = tmp_path / "data", tmp_path / "runs"
    task = OmegaConf.create(numeric_task(data))
    for method, extra in EVERY_METHOD.items():
        cfg = compose_config(
            [
                *CELL[:6],
                f"method={method}",
                *extra,
                f"paths.runs_dir={runs}",
                f"paths.data_dir={data}",
                f"paths.cache_dir={model_cache}",
            ]
        )
        with open_dict(cfg):
            cfg.task = task
        results = run_cell(cfg)
        assert results["metrics"]["test"]["n"] == 8, method
        generative = method not in ("base", "sft", "sft_val")
        assert (results["data"]["synthetic"] > 0) == generative, (method, results["data"])
    capsys.readouterr()
    assert main(["analyze", str(runs), "--out", str(tmp_path / "analysis"), "--resamples", "500"]) == 0
    table = capsys.readouterr().out
    for label in (
        "Base (no FT)",
        "SFT",
        "AugGPT",
        "LLM2LLM",
        "LLMs-as-Instructors",
        "PaDA-Agent",
        "SFT + val. labels",
    ):
        assert label in table, (label, table)
