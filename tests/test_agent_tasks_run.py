"""The pada method through the runner on a multiple-choice and a coding task (tiny files in ARC's and MBPP's
original formats, tiny student, scripted teacher): generated items take the task's own shape, pass its checks,
and are trained on. Before pada.tasks.synthetic these cells crashed building the first synthetic prompt."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import compose_config

from pada.io import read_json, read_jsonl
from pada.run.runner import run_cell
from pada.teacher import Call, register_script

PLANETS = ["Mars", "Jupiter", "Venus", "Earth"]


def _write_arc(folder: Path) -> None:
    folder.mkdir(parents=True)
    for part, n in (("Train", 12), ("Dev", 6), ("Test", 6)):
        rows = [{"id": f"{part}-{i}", "answerKey": "B", "question": {
                    "stem": f"Item {part} {i}: which planet is the largest of these four?",
                    "choices": [{"text": t, "label": label} for t, label in zip(PLANETS, "ABCD", strict=True)]}}
                for i in range(n)]  # fmt: skip
        (folder / f"ARC-Challenge-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_mbpp(folder: Path) -> None:
    folder.mkdir(parents=True)
    ids = [*range(1, 3), *range(11, 17), *range(511, 517), *range(601, 613)]  # few-shot, test, val, pool
    rows = [{"task_id": i, "text": f"Write a function add_{i} that adds {i} to a number.",
             "code": f"def add_{i}(x):\n    return x + {i}", "test_list": [f"assert add_{i}(1) == {1 + i}"],
             "test_setup_code": ""} for i in ids]  # fmt: skip
    (folder / "mbpp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@register_script("tasks_e2e")
def tasks_e2e(call: Call) -> str:
    """Generic answers for every role; generation writes a fresh, valid item of the requested shape."""
    text, s = call.messages[-1][1], call.sample_index
    if call.role == "error_analysis":
        return json.dumps({"error": "picked the wrong option", "missing_skill": "recall"})
    if call.role == "pattern_summary":
        return json.dumps({"name": "recall", "description": "Does not recall the fact."})
    if call.role == "strategy":
        return json.dumps({"strategy": "Ask about facts of a new kind each time."})
    if call.role == "generation" and '"tests"' in text:
        name = f"triple_{s}"
        return json.dumps({"question": f"Write a function {name} that multiplies a number by three ({s}).",
                           "code": f"def {name}(x):\n    return 3 * x", "tests": [f"assert {name}(2) == 6"]})  # fmt: skip
    if call.role == "generation":
        return json.dumps({"question": f"Fact {s}: which of these is a gas at room temperature, case {s}?",
                           "choices": ["iron", "oxygen", "salt", "wood"], "answer": "B", "explanation": ""})  # fmt: skip
    if call.role == "verification":
        return json.dumps({"valid": True, "answer": re.search(r"([A-D])\. oxygen", text)[1]})
    raise AssertionError(call.role)


@pytest.mark.parametrize("task", ["arc_challenge", "mbpp"])
def test_pada_cell_on_a_multiple_choice_and_a_coding_task(task, tmp_path, model_cache):
    data = tmp_path / "data"
    _write_arc(data / "arc") if task == "arc_challenge" else _write_mbpp(data / "mbpp")
    sandbox = ["task.sandbox.workers=1"] if task == "mbpp" else []
    cfg = compose_config([*sandbox, f"task={task}", f"paths.runs_dir={tmp_path / 'runs'}", f"paths.data_dir={data}",
                          f"paths.cache_dir={model_cache}", "budget=8", "trainer.max_steps=4", "trainer.batch_size=4",
                          "trainer.grad_accum=1", "eval.max_new_tokens=6", "wandb.mode=disabled",
                          "allow_code_execution=true", "method=pada",
                          "method.iterations=1", "method.patterns.grouping=single",
                          "method.generation.strategy_examples=4", "teacher=scripted", "teacher.model=tasks_e2e",
                          "teacher.script_module=test_agent_tasks_run"])  # fmt: skip
    results = run_cell(cfg)
    run_dir = Path(cfg.paths.runs_dir) / results["cell"]["name"]
    new = read_jsonl(run_dir / "augment_0" / "new.jsonl")
    report = read_json(run_dir / "augment_0" / "patterns.json")
    wrong_seeds = report["failures"]["train"]
    assert report["accepted"] == len(new) == 4 + wrong_seeds  # every generated item passes every check
    assert results["data"]["synthetic"] == len(new)
    first = new[0]
    if task == "arc_challenge":
        assert first["prompt"].splitlines()[2:6] == ["A. iron", "B. oxygen", "C. salt", "D. wood"]
        assert first["target"] == "The best answer is B." and first["meta"]["labels"] == ["A", "B", "C", "D"]
    else:
        assert first["target"] == "```python\ndef triple_0(x):\n    return 3 * x\n```"
        assert (
            "assert triple_0(2) == 6" in first["prompt"]
            and first["meta"]["tests"] == "assert triple_0(2) == 6"
        )
    assert results["teacher_usage"]["roles"].get("verification", {}).get("requests", 0) == (
        len(new) if task == "arc_challenge" else 0
    )  # code is checked by its own tests in the sandbox, not by the teacher
