"""experiments/bench/gpu.py on CPU: the FLOPs accounting, packing, and its code paths in smoke mode."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments" / "bench"))
import gpu  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_matmul_params_match_the_real_llama_32_1b_linear_layers():
    from transformers import LlamaConfig, LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**gpu.LLAMA_32_1B))
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied: the head is the one vocab matmul
    assert gpu.matmul_params(gpu.LLAMA_32_1B) == linear == 1_235_746_816
    norms = 2048 * (2 * 16 + 1)
    assert linear + norms == sum(p.numel() for p in model.parameters())  # 1.236B, the published size


def test_lora_params_match_peft():
    from pada.training.module import apply_lora

    model = apply_lora(gpu.random_model(gpu.TINY, "cpu", torch.float32), gpu.lora_cfg())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert gpu.lora_params(gpu.TINY, 16) == trainable == 45056


def test_train_flops_formula():
    n, arch = 100, gpu.TINY
    attention = 6 * 2 * 4 * 16 * n * n
    assert gpu.train_flops(arch, [n], None) == 6 * 155648 * n + attention
    assert gpu.train_flops(arch, [n], 16) == (4 * 155648 + 6 * 45056) * n + attention
    assert gpu.train_flops(arch, [n, n], 16) == 2 * gpu.train_flops(arch, [n], 16)


def test_peak_flops_by_device_name():
    assert gpu.peak_flops("NVIDIA H100 80GB HBM3", None) == 989.4e12
    assert gpu.peak_flops("NVIDIA H100 PCIe", None) == 756e12
    assert gpu.peak_flops("NVIDIA H200", None) == 989.4e12
    assert gpu.peak_flops("cpu", None) is None
    assert gpu.peak_flops("cpu", 1.5) == 1.5e12


def test_packed_rows_restart_positions_and_mask_document_starts():
    batch = gpu.packed_batch([10, 6, 16, 3], 16, 50, torch.Generator().manual_seed(0))
    assert batch["input_ids"].shape == (2, 16)  # the 3-token tail does not fill a row and is dropped
    assert batch["position_ids"][0].tolist() == list(range(10)) + list(range(6))
    assert gpu.packed_doc_lens(batch) == [10, 6, 16]
    starts = batch["position_ids"] == 0
    assert (batch["labels"][starts] == -100).all()
    assert (batch["labels"][~starts] == batch["input_ids"][~starts]).all()


def test_padded_batch_masks_padding():
    batch = gpu.padded_batch([3, 5], 50, torch.Generator().manual_seed(0))
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["labels"][0, 3:].tolist() == [-100, -100]


def test_doc_lengths_cover_the_budget_within_bounds():
    lens = gpu.doc_lengths(64, 1000, random.Random(0))
    assert sum(lens) >= 1000 > sum(lens[:-1])
    assert all(16 <= n <= 64 for n in lens)


def test_train_case_on_cpu_counts_tokens_and_mfu():
    plan = gpu.make_plan(cpu_smoke=True)
    row = gpu.train_case(plan, 32, packed=True, compiled=False, peak=1e9)
    assert row["real_tokens_per_step"] == plan.tokens_per_step  # packed rows carry no padding
    assert row["mfu"] == pytest.approx(row["model_tflops_per_s"] * 1e12 / 1e9, rel=0.01)
    assert 5.0 < row["final_loss"] < 7.0  # random init: about ln(512) = 6.24


def test_generation_through_the_pada_backend(tmp_path):
    plan = gpu.make_plan(cpu_smoke=True)
    folder = gpu.save_generation_model(plan, tmp_path / "m")
    row = gpu.generate_transformers(plan, folder, 4)
    assert row["batch"] == 4 and 0 < row["output_tokens"] <= 4 * plan.new_tokens


@pytest.mark.slow
def test_cpu_smoke_writes_the_full_report(tmp_path):
    report = gpu.main(["--cpu-smoke", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "gpu-cpu-smoke.json").read_text())
    assert saved["results"]["goals"] == json.loads(json.dumps(report["results"]["goals"]))
    assert len(saved["results"]["training"]) == 8
    assert saved["results"]["generation_vllm"] == {"skipped": "--skip-vllm"}
    assert (tmp_path / "gpu-cpu-smoke_profile.txt").read_text().count("aten::") >= 5


def test_profile_step_writes_the_operator_table(tmp_path):
    result = gpu.profile_step(gpu.make_plan(cpu_smoke=True), tmp_path)
    assert result["sorted_by"] == "self_cpu_time_total"
    assert len(result["top_ops_share"]) == 10 and sum(result["top_ops_share"].values()) <= 1.0
    assert "aten::mm" in (tmp_path / "gpu-cpu-smoke_profile.txt").read_text()
