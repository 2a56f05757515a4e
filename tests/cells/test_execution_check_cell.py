"""Issue 28's MBPP false rejection through the runner: a method proposes a fresh 'odd' item one word apart from
a held-out 'even' item (another problem) and the 'even' problem reworded (the same one). Fairness 1.5 dropped
both as paraphrases; since 1.6 the runner runs each proposal's code on the held-out tests
(pada/run/execution.py) and keeps the first, rejects the second, and records both in results.json."""

from __future__ import annotations

from pathlib import Path

from conftest import compose_config
from mbpp_support import mbpp_rows, write_mbpp

from pada.io import read_jsonl
from pada.run.runner import run_cell
from pada.types import Example

EVEN = "Write a python function to check whether the given number is even or not."


def _write_mbpp(folder: Path) -> None:
    rows = mbpp_rows()
    rows[2] = {  # test item 11: the held-out problem
        "task_id": 11,
        "text": EVEN,
        "code": "def is_Even(n):\n    return n % 2 == 0",
        "test_list": [
            "assert is_Even(1) == False",
            "assert is_Even(2) == True",
            "assert is_Even(3) == False",
        ],
        "test_setup_code": "",
    }
    write_mbpp(folder, rows)


def _proposals(task) -> list[Example]:
    from dataclasses import replace

    odd = task.make_example(
        "fresh/odd",
        EVEN.replace("even", "odd"),
        "def is_Odd(n):\n    return n % 2 == 1",
        ["assert is_Odd(1) == True", "assert is_Odd(2) == False", "assert is_Odd(3) == True"],
    )
    reworded = task.make_example(
        "para/even",
        "Write a python function to test whether the provided integer is even or not.",
        "def check_Even(x):\n    return x & 1 == 0",
        ["assert check_Even(1) == False", "assert check_Even(2) == True", "assert check_Even(3) == False"],
    )
    return [replace(ex, source="synthetic:planted", meta={"question": "stub"}) for ex in (odd, reworded)]


def test_the_runner_keeps_another_problem_and_rejects_the_same_one_by_running_it(
    tmp_path, model_cache, monkeypatch
):
    import planted_method

    from pada.tasks import build_task

    _write_mbpp(tmp_path / "data" / "mbpp")
    cfg = compose_config(
        [
            "task=mbpp",
            "task.sandbox.workers=1",
            "allow_code_execution=true",
            f"paths.runs_dir={tmp_path / 'runs'}",
            f"paths.data_dir={tmp_path / 'data'}",
            f"paths.cache_dir={model_cache}",
            "method=sft",
            "method._target_=planted_method.Planted",
            "method.name=planted",
            "+method.plant=[]",
            "method.loop.iterations=1",
            "budget=8",
            "trainer.max_steps=2",
            "trainer.batch_size=4",
            "trainer.grad_accum=1",
            "eval.max_new_tokens=6",
            "wandb.mode=disabled",
        ]
    )
    proposals = _proposals(build_task(cfg.task))
    monkeypatch.setattr(planted_method.Planted, "propose", lambda self, state: proposals)
    results = run_cell(cfg)
    kept = [
        Example.from_dict(row) for row in read_jsonl(next((tmp_path / "runs").glob("*/augment_0/new.jsonl")))
    ]
    assert [ex.id for ex in kept] == ["fresh/odd"]
    assert results["data"]["rejected"] == {"paraphrase_executes": 1}
    assert results["data"]["execution_check"] == {"confirmed": 1, "cleared": 1, "unconfirmed": {}}
