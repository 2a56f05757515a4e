"""The issue-28 attack through the runner: synonym-swapped copies of a simulated cell's test items, planted by a
method with right answers and stubbed meta, are rejected by the semantic decontamination (pada/run/semantic.py)."""

from __future__ import annotations

import json
from dataclasses import replace

from pada.run.semantic import numbers_of
from pada.types import Example

# -- through the runner: the attack --------------------------------------------------------------
SWAPS = {
    "Add": "Sum",
    "plus": "added to",
    "minus": "less",
    "times": "multiplied by",
    "Multiply": "Times",
    "Subtract": "Take",
    "larger": "greater",
    "bigger": "greater",
    "has": "owns",
    "buys": "purchases",
}


def _synonym_copies(cfg) -> list[Example]:
    """Every test item of the cell, one word swapped for a synonym, with its right solution (issue 28)."""
    from pada.sim.world import parse
    from pada.tasks.sim import SimArith

    task = SimArith(cfg.task)
    copies = []
    for i, item in enumerate(task.load(None).test):
        word = next(w for w in SWAPS if w in item.prompt)
        question = item.prompt.replace(word, SWAPS[word], 1)
        example = task.example(parse(item.prompt), f"copy/{i}", "synthetic:planted")
        copies.append(replace(example, prompt=question, meta={"question": "stub"}))
    return copies


def test_the_runner_rejects_synonym_swapped_test_items(tmp_path, model_cache, monkeypatch):
    """A method that trains on synonym-swapped copies of the test items (issue 28: 40.2 % vs SFT's 27.4 % on
    the demo, none rejected) loses every copy: those with specific numbers to ``paraphrase_numbers``, the
    one-digit problems to ``paraphrase_answer`` (the same numbers and answer, the same topic) or the surface
    checks, which now read the rendered prompt rather than the stubbed meta."""
    import planted_method
    from conftest import compose_config

    from pada.run.runner import run_cell
    from pada.run.semantic import significant_digits

    overrides = [
        "task=sim_arith",
        "method=sft",
        "method._target_=planted_method.Planted",
        "method.name=planted",
        "+method.plant=[]",
        "method.loop.iterations=1",
        "budget=16",
        "task.val_size=20",
        "task.test_size=60",
        "trainer.max_steps=2",
        "eval.max_new_tokens=4",
        "wandb.mode=disabled",
        f"paths.runs_dir={tmp_path}",
        f"paths.cache_dir={model_cache}",
    ]
    cfg = compose_config(overrides)
    copies = _synonym_copies(cfg)
    monkeypatch.setattr(planted_method.Planted, "propose", lambda self, state: copies)
    results = run_cell(cfg)
    kept = [
        Example.from_dict(json.loads(line)) for line in next(tmp_path.glob("*/augment_0/new.jsonl")).open()
    ]
    small = [c for c in copies if sum(significant_digits(n) for n in numbers_of(c.prompt)) < 3]
    assert len(small) >= 10 and kept == [] and results["data"]["synthetic"] == 0
    rejected = results["data"]["rejected"]
    assert sum(rejected.values()) == len(copies) and rejected["paraphrase_answer"] >= len(small) // 2
