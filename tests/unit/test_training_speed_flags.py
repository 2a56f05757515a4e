"""The GPU trainers' speed flags on CPU: gradient checkpointing is exact, bf16 autocast stays close."""

from __future__ import annotations

import pytest
from training_support import arithmetic, losses, tiny_model_dir, trainer_cfg

from pada.io import read_jsonl
from pada.training.train import build_model, fit


def _curve(tmp_path, name: str, **overrides) -> list[float]:
    fit(trainer_cfg(name, **overrides), tiny_model_dir(), arithmetic(), tmp_path, seed=0)
    return losses(list(read_jsonl(tmp_path / "loss_curve.jsonl")))


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_gradient_checkpointing_changes_memory_not_results(tmp_path, mode):
    lr = 1e-2 if mode == "lora" else 1e-3
    plain = _curve(tmp_path / "a", mode, lr=lr)
    checkpointed = _curve(tmp_path / "b", mode, lr=lr, gradient_checkpointing=True)
    assert checkpointed == pytest.approx(plain, abs=1e-5)  # recompute replays the same dropout masks
    model = build_model(trainer_cfg(mode, gradient_checkpointing=True), tiny_model_dir(), None)
    assert model.is_gradient_checkpointing


def test_gpu_trainer_recipe_runs_on_cpu_autocast(tmp_path):
    """trainer=lora_gpu with only the accelerator swapped: bf16-mixed + checkpointing track the fp32 curve."""
    fp32 = _curve(tmp_path / "a", "lora", lr=1e-2)
    bf16 = _curve(tmp_path / "b", "lora_gpu", lr=1e-2, accelerator="cpu", deterministic=True)
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, abs=0.05)


@pytest.mark.slow
def test_torch_compile_matches_eager(tmp_path):
    """~50 s on 2 CPU cores (inductor compiles the forward and backward); same curve as eager to 1e-5."""
    eager = _curve(tmp_path / "a", "full", lr=1e-3)
    compiled = _curve(tmp_path / "b", "full", lr=1e-3, compile=True)
    assert compiled == pytest.approx(eager, abs=1e-5)
