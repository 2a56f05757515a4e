"""experiments/demo_real.py's cells: every one composes, and the design is the fair mini Table 2 it claims
(the same optimizer steps for every method, a synthetic quota every generative method must reach, teacher
only where a method needs one, seeds in order). The run itself is `make demo-real` (docs/real_cpu.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pada.run import fairness
from tests.conftest import compose_config

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "demo_real.py"


def _demo():
    spec = importlib.util.spec_from_file_location("demo_real", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("size", ["smoke", "quick", "powered"])
def test_every_cell_composes_step_and_budget_matched(size):
    demo = _demo()
    teacher = ["teacher=local_llamacpp", "teacher.base_url=http://127.0.0.1:1/v1", "teacher.model=m"]
    cells = demo.cell_plan(list(demo.METHODS), demo.SIZES[size], [], teacher)
    assert [seed for _, seed, _ in cells] == sorted(seed for _, seed, _ in cells)  # whole seeds first
    assert len(cells) == len(demo.METHODS) * demo.SIZES[size]["seeds"]
    steps = set()
    for name, seed, overrides in cells:
        cfg = compose_config([f"seed={seed}", *overrides])
        assert cfg.method.name == name
        steps.add(fairness.trainer_config(cfg).max_steps)
        quota = fairness.quota_for(cfg, 0, int(cfg.method.loop.iterations), 0)
        if name in ("sft", "sft_val"):
            assert cfg.teacher.provider == "none" and cfg.method.loop.iterations == 0
        else:  # one augmentation round that must reach the whole synthetic budget
            assert cfg.teacher.structured_output == "native"  # llama.cpp's grammar: schema-valid answers
            assert cfg.method.loop.iterations == 1
            assert quota.target == quota.limit == demo.SIZES[size]["synthetic"] > 0
        assert cfg.task.limits.test == demo.SIZES[size]["test"]
    assert len(steps) == 1 and steps.pop() > 0  # one step count for every method and seed


def test_powered_size_scores_every_test_item():
    demo = _demo()
    assert demo.SIZES["powered"]["test"] >= 1172  # ARC-Challenge's test split
