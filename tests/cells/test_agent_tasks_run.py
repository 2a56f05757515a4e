"""pada, llm2llm and llms_as_instructors through the runner on a multiple-choice and a coding task (tiny files
in ARC's and MBPP's original formats, tiny student, scripted teacher): generated items take the task's own
shape, pass its checks, and are trained on. Before pada.tasks.synthetic these Table 2 cells crashed (pada
building its first synthetic prompt) or refused the task (the two baselines)."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest
from conftest import compose_config
from mbpp_support import mbpp_rows, write_mbpp

from pada.io import read_json, read_jsonl
from pada.run.runner import run_cell
from pada.teacher import Call, register_script

PLANETS = ["Mars", "Jupiter", "Venus", "Earth"]
LIQUIDS = ["iron", "water", "salt", "wood"]


def _write_arc(folder: Path) -> None:
    folder.mkdir(parents=True)
    # Held-out items pose another problem than the training items: a rewrite of a training item must not be
    # the same problem as a held-out one, or the runner's semantic decontamination rightly drops it.
    for part, n, stem, choices in (
        ("Train", 12, "which planet is the largest of these four?", PLANETS),
        ("Dev", 6, "which of these is a liquid at room temperature?", LIQUIDS),
        ("Test", 6, "which of these is a liquid at room temperature?", LIQUIDS),
    ):
        rows = [
            {
                "id": f"{part}-{i}",
                "answerKey": "B",
                "question": {
                    "stem": f"Item {part} {i}: {stem}",
                    "choices": [
                        {"text": t, "label": label} for t, label in zip(choices, "ABCD", strict=True)
                    ],
                },
            }
            for i in range(n)
        ]
        (folder / f"ARC-Challenge-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_mbpp(folder: Path) -> None:
    write_mbpp(folder, mbpp_rows())


@register_script("tasks_e2e")
def tasks_e2e(call: Call) -> str:
    """Generic answers for every role; generation writes a fresh, valid item of the requested shape."""
    text = call.messages[-1][1]
    s = zlib.crc32(text.encode()) % 10_000 + call.sample_index  # distinct prompts get distinct items
    if call.role == "error_analysis":
        return json.dumps({"error": "picked the wrong option", "missing_skill": "recall"})
    if call.role == "pattern_summary":
        return json.dumps({"name": "recall", "description": "Does not recall the fact."})
    if call.role == "strategy":
        return json.dumps({"strategy": "Ask about facts of a new kind each time."})
    if call.prompt_version == "llm2llm_generation.v3":  # LLM2LLM's list form: n items in one answer
        n = int(re.search(r"with exactly (\d+) problem", text)[1])
        return json.dumps({"problems": [_written_item(text, s * 10 + j) for j in range(n)]})
    if call.role == "generation":
        return json.dumps(_written_item(text, s))
    if call.role == "paraphrase":
        return json.dumps(
            {"question": f"Put differently ({s}): " + text.split("Problem:\n")[1].split("\n")[0]}
        )
    if call.role == "verification":
        return json.dumps({"valid": True, "answer": re.search(r"([A-D])\. (?:oxygen|Jupiter)", text)[1]})
    raise AssertionError(call.role)


def _written_item(text: str, s: int) -> dict:
    """A fresh, valid generated item of the shape the prompt asks for (code with tests, or multiple choice)."""
    if '"tests"' in text:
        name = f"triple_{s}"
        return {
            "question": f"Write a function {name} that multiplies a number by three ({s}).",
            "code": f"def {name}(x):\n    return 3 * x",
            "tests": [f"assert {name}(2) == 6"],
        }
    return {
        "question": f"Fact {s}: which of these is a gas at room temperature, case {s}?",
        "choices": ["iron", "oxygen", "salt", "wood"],
        "answer": "B",
        "explanation": "",
    }


@pytest.mark.parametrize("method", ["pada", "llm2llm", "llms_as_instructors", "auggpt"])
@pytest.mark.parametrize("task", ["arc_challenge", "mbpp"])
def test_generative_methods_on_a_multiple_choice_and_a_coding_task(task, method, tmp_path, model_cache):
    data = tmp_path / "data"
    _write_arc(data / "arc") if task == "arc_challenge" else _write_mbpp(data / "mbpp")
    sandbox = ["task.sandbox.workers=1"] if task == "mbpp" else []
    cfg = compose_config(
        [
            *sandbox,
            f"task={task}",
            f"paths.runs_dir={tmp_path / 'runs'}",
            f"paths.data_dir={data}",
            f"paths.cache_dir={model_cache}",
            "budget=8",
            "trainer.max_steps=4",
            "trainer.batch_size=4",
            "trainer.grad_accum=1",
            "eval.max_new_tokens=6",
            "wandb.mode=disabled",
            "allow_code_execution=true",
            f"method={method}",
            "method.loop.iterations=1",
            *METHOD_OVERRIDES[method],
            "teacher=scripted",
            "teacher.model=tasks_e2e",
            "teacher.script_module=test_agent_tasks_run",
        ]
    )
    results = run_cell(cfg)
    run_dir = Path(cfg.paths.runs_dir) / results["cell"]["name"]
    new = read_jsonl(run_dir / "augment_0" / "new.jsonl")
    train = run_dir / "eval_0" / "train.jsonl"  # auggpt needs no training-set evaluation
    wrong_seeds = sum(not r["correct"] for r in read_jsonl(train)) if train.exists() else 8
    if method == "pada":
        report = read_json(run_dir / "augment_0" / "patterns.json")
        assert report["failures"]["train"] == wrong_seeds and report["accepted"] == len(new)
    else:
        report = read_json(run_dir / "augment_0" / "baseline_report.json")
        assert report["kept"] == len(new)
    expected = {
        "pada": 4 + wrong_seeds,
        "llm2llm": wrong_seeds,
        "llms_as_instructors": wrong_seeds,
        "auggpt": 6 * 8,
    }[method]
    assert wrong_seeds > 0 and len(new) == expected  # every item passes every check
    assert results["data"]["synthetic"] == len(new) and {r["source"] for r in new} == {f"synthetic:{method}"}
    generated = "written" if method != "auggpt" else "paraphrased"
    assert all(PROMPT_SHAPE[task, generated].search(r["prompt"]) for r in new)
    assert all(TARGET_SHAPE[task, generated].fullmatch(r["target"]) for r in new)
    verifications = results["teacher_usage"]["roles"].get("verification", {}).get("requests", 0)
    assert verifications == (len(new) if task == "arc_challenge" else 0)  # code is checked by its own tests


METHOD_OVERRIDES = {
    "pada": ["method.patterns.grouping=single", "method.generation.strategy_examples=4"],
    "llm2llm": ["method.verify=true"],
    "llms_as_instructors": ["method.verify=true"],
    "auggpt": ["method.verify=auto"],
}
PROMPT_SHAPE = {
    ("arc_challenge", "written"): re.compile(r"\nA\. iron\nB\. oxygen\nC\. salt\nD\. wood\n"),
    ("arc_challenge", "paraphrased"): re.compile(r"Question: Put differently .*\nA\. Mars\nB\. Jupiter\n"),
    ("mbpp", "written"): re.compile(r"assert triple_\d+\(2\) == 6"),
    ("mbpp", "paraphrased"): re.compile(r"your task: Put differently .*\n\nassert add_\d+\(1\) == \d+"),
}
TARGET_SHAPE = {
    ("arc_challenge", "written"): re.compile(r"The best answer is B\."),
    ("arc_challenge", "paraphrased"): re.compile(r"The best answer is B\."),
    ("mbpp", "written"): re.compile(r"```python\ndef triple_\d+\(x\):\n    return 3 \* x\n```"),
    ("mbpp", "paraphrased"): re.compile(r"```python\ndef add_\d+\(x\):\n    return x \+ \d+\n```"),
}
