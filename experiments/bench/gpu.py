"""GPU benchmark: the Llama-3.2-1B architecture with random weights (no download), bf16.

    python experiments/bench/gpu.py [--out DIR] [--skip-vllm] [--peak-tflops X]
    python experiments/bench/gpu.py --cpu-smoke   # same code paths, tiny config, CPU, seconds

Measures LoRA SFT tokens/s and MFU at sequence lengths 512 and 1024, padded vs packed, eager vs
torch.compile; generation output tokens/s at batch 64 and 256 through pada's transformers backend and
through vLLM when it imports; peak GPU memory of each; a torch.profiler table of one training step.
Goals (issue 11): LoRA SFT >= 40% MFU; generation >= 20k output tokens/s.

The workload (architecture, FLOPs, batches, the random model) is gpu_workload.py, the generation
cases gpu_generate.py.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, write_report  # noqa: E402
from gpu_generate import generate_transformers, generate_vllm, save_generation_model  # noqa: E402
from gpu_workload import (  # noqa: E402
    LLAMA_32_1B,
    TINY,
    Plan,
    attention_implementation,
    doc_lengths,
    lora_cfg,
    lora_params,
    make_plan,
    matmul_params,
    packed_batch,
    packed_doc_lens,
    padded_batch,
    peak_flops,
    peak_gib,
    random_model,
    reset_memory,
    sig,
    sync,
    train_flops,
)

sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent

# Re-exported: tests/unit/test_bench_gpu.py reads the workload through this script.
__all__ = ["LLAMA_32_1B", "TINY", "main"]


# -- training -----------------------------------------------------------------------------------------
def sft_batches(plan: Plan, seq: int, packed: bool, count: int, vocab: int) -> list[dict[str, torch.Tensor]]:
    rng, gen = random.Random(seq), torch.Generator().manual_seed(seq)
    batches = []
    for _ in range(count):
        lens = doc_lengths(seq, plan.tokens_per_step if packed else plan.tokens_per_step * 5 // 8, rng)
        if packed:
            batches.append(packed_batch(lens, seq, vocab, gen))
        else:  # padded: about tokens_per_step slots, 5/8 of them real on average
            batches.append(padded_batch(lens[: max(1, plan.tokens_per_step // seq)], vocab, gen))
    return batches


def _doc_lens(batch: dict[str, torch.Tensor]) -> list[int]:
    if "position_ids" in batch:
        return packed_doc_lens(batch)
    return batch["attention_mask"].sum(1).tolist()


def train_case(plan: Plan, seq: int, packed: bool, compiled: bool, peak: float | None) -> dict[str, Any]:
    """Steps of LoRA SFT (AdamW, bf16 autocast); tokens/s counts real (non-pad) tokens."""
    from pada.training.module import apply_lora

    reset_memory(plan.device)
    model = apply_lora(random_model(plan.arch, plan.device, torch.bfloat16), lora_cfg()).train()
    step_fn = torch.compile(model, backend=plan.compile_backend) if compiled else model
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=2e-4, fused=plan.device == "cuda")
    batches = sft_batches(plan, seq, packed, plan.warmup + plan.steps, plan.arch["vocab_size"])

    def step(batch):
        batch = {k: v.to(plan.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(plan.device, dtype=torch.bfloat16):
            loss = step_fn(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    compile_start = time.perf_counter()
    for batch in batches[: plan.warmup]:
        step(batch)
    sync(plan.device)
    warmup_s = time.perf_counter() - compile_start
    start = time.perf_counter()
    for batch in batches[plan.warmup :]:
        loss = step(batch)
    sync(plan.device)
    seconds = time.perf_counter() - start
    lens = [n for b in batches[plan.warmup :] for n in _doc_lens(b)]
    flops = train_flops(plan.arch, lens, lora_cfg().lora.r)
    row = {
        "seq_len": seq,
        "packed": packed,
        "compiled": compiled,
        "steps": plan.steps,
        "real_tokens_per_step": sum(lens) // plan.steps,
        "tokens_per_s": round(sum(lens) / seconds, 1),
        "model_tflops_per_s": sig(flops / seconds / 1e12),
        "mfu": sig(flops / seconds / peak) if peak else None,
        "warmup_s": round(warmup_s, 2),
        "final_loss": round(float(loss.detach()), 4),
        "peak_memory_gib": peak_gib(plan.device),
        "attention": attention_implementation(plan.device),
    }
    if compiled:
        torch._dynamo.reset()  # dynamo's caches hold the compiled model; free it before the next case
    gc.collect()
    return row


def profile_step(plan: Plan, out_dir: Path) -> dict[str, Any]:
    """torch.profiler over two LoRA steps (packed, longest sequence, eager): the top operators by time."""
    from torch.profiler import ProfilerActivity, profile, schedule

    from pada.training.module import apply_lora

    reset_memory(plan.device)
    model = apply_lora(random_model(plan.arch, plan.device, torch.bfloat16), lora_cfg()).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    batches = sft_batches(plan, plan.seq_lens[-1], True, 4, plan.arch["vocab_size"])
    cuda = plan.device == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, schedule=schedule(wait=1, warmup=1, active=2)) as prof:
        for batch in batches:
            batch = {k: v.to(plan.device) for k, v in batch.items()}
            with torch.autocast(plan.device, dtype=torch.bfloat16):
                model(**batch).loss.backward()
            optimizer.step(), optimizer.zero_grad(set_to_none=True)
            sync(plan.device)
            prof.step()
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    table = prof.key_averages().table(sort_by=sort, row_limit=25)
    (out_dir / ("gpu_profile.txt" if cuda else "gpu-cpu-smoke_profile.txt")).write_text(table + "\n")
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, sort), reverse=True)
    total = sum(getattr(e, sort) for e in events) or 1
    return {
        "sorted_by": sort,
        "top_ops_share": {e.key: round(getattr(e, sort) / total, 3) for e in events[:10]},
    }


# -- report -------------------------------------------------------------------------------------------
def device_description(plan: Plan) -> dict[str, Any]:
    if plan.device != "cuda":
        return {"name": "cpu (smoke mode: tiny config, numbers mean nothing)"}
    props = torch.cuda.get_device_properties(0)
    return {
        "name": props.name,
        "memory_gib": round(props.total_memory / 2**30, 1),
        "cuda": torch.version.cuda,
        "capability": f"{props.major}.{props.minor}",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = make_plan(args.cpu_smoke)
    if plan.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --cpu-smoke to exercise the code paths on CPU")
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = device_description(plan)
    peak = peak_flops(dev["name"], args.peak_tflops)
    r = lora_cfg().lora.r
    args.out.mkdir(parents=True, exist_ok=True)
    training = [
        train_case(plan, seq, packed, compiled, peak)
        for seq in plan.seq_lens
        for packed in (False, True)
        for compiled in (False, True)
    ]
    profile = profile_step(plan, args.out)  # before vLLM, which keeps most of the GPU memory
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_generation_model(plan, Path(tmp) / "llama-random")
        generation = [generate_transformers(plan, folder, b) for b in plan.gen_batches]
        vllm = (
            {"skipped": "--skip-vllm"}
            if args.skip_vllm or plan.device != "cuda"
            else generate_vllm(plan, folder, plan.gen_batches)
        )
    best_mfu = max((row["mfu"] or 0) for row in training)
    best_gen = max(
        row["output_tokens_per_s"] for row in generation + (vllm if isinstance(vllm, list) else [])
    )
    return {
        "title": "pada GPU benchmark"
        + (" (--cpu-smoke: code paths only, not a measurement)" if args.cpu_smoke else ""),
        "note": "Llama-3.2-1B architecture with random weights, bf16. MFU = model FLOPs/s over the dense bf16 peak.",
        "machine": {**machine(), "device": dev, "peak_bf16_tflops": peak / 1e12 if peak else None},
        "results": {
            "flops": {
                "matmul_params_N": matmul_params(plan.arch),
                "lora_params": lora_params(plan.arch, r),
                "lora_r": r,
                "lora_flops_per_token": "4N + 6*N_lora + 6*n*L*H*hd (n = document length)",
                "full_ft_flops_per_token": "6N + 6*n*L*H*hd",
                "lora_flops_per_token_at_n1024": train_flops(plan.arch, [1024], r) / 1024,
                "full_flops_per_token_at_n1024": train_flops(plan.arch, [1024], None) / 1024,
            },
            "training": {
                f"s{row['seq_len']}-{'packed' if row['packed'] else 'padded'}-{'compiled' if row['compiled'] else 'eager'}": row
                for row in training
            },
            "generation_transformers": {f"batch{row['batch']}": row for row in generation},
            "generation_vllm": {f"batch{row['batch']}": row for row in vllm}
            if isinstance(vllm, list)
            else vllm,
            "profile": profile,
            "goals": {
                "lora_mfu_ge_0.40": best_mfu >= 0.40,
                "best_mfu": best_mfu,
                "generation_ge_20k_tok_s": best_gen >= 20000,
                "best_output_tokens_per_s": best_gen,
            },
        },
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="tiny config on CPU: exercises every code path"
    )
    parser.add_argument("--skip-vllm", action="store_true", help="do not try vLLM")
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak when the device name is not known")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where gpu.json / gpu.md go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    report = run(args)
    paths = write_report(args.out, "gpu-cpu-smoke" if args.cpu_smoke else "gpu", report)
    print("\n".join(str(p) for p in paths))
    return report


if __name__ == "__main__":
    main()
