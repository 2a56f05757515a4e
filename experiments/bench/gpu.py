"""GPU benchmark: the Llama-3.2-1B architecture with random weights (no download), bf16.

    python experiments/bench/gpu.py [--out DIR] [--skip-vllm] [--peak-tflops X]
    python experiments/bench/gpu.py --cpu-smoke   # same code paths, tiny config, CPU, seconds

Measures LoRA SFT tokens/s and MFU at sequence lengths 512 and 1024, padded vs packed, eager vs
torch.compile; generation output tokens/s at batch 64 and 256 through pada's transformers backend and
through vLLM when it imports; peak GPU memory of each; a torch.profiler table of one training step.
Goals (issue 11): LoRA SFT >= 40% MFU; generation >= 20k output tokens/s.

FLOPs per trained token (stated in the report): N = parameters that multiply activations (every linear
layer plus the LM head; the tied input embedding is a lookup), n = the token's document length, L layers,
H*hd the query width. Causal attention costs 2*n*L*H*hd per token forward (QK^T and AV over n/2 keys on
average); training is 3x forward. LoRA: 4N (forward + activation gradients; no weight gradients for the
frozen base) + 6*N_lora + 6*n*L*H*hd. Full fine-tuning: 6N + 6*n*L*H*hd.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, write_report  # noqa: E402

sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
ROPE_LLAMA3 = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}
LLAMA_32_1B = {
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 128256,
    "tie_word_embeddings": True,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "rope_parameters": ROPE_LLAMA3,
}
TINY = {
    **LLAMA_32_1B,
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 512,
}
# Dense bf16 tensor-core peaks (vendor datasheets, no sparsity).
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0}


@dataclass(frozen=True)
class Plan:
    """What one invocation measures; the smoke plan shrinks every size so CPU finishes in seconds."""

    arch: dict[str, Any]
    device: str
    seq_lens: tuple[int, ...]
    tokens_per_step: int
    steps: int
    warmup: int
    gen_batches: tuple[int, ...]
    prompt_len: int
    new_tokens: int
    compile_backend: str  # "inductor" on GPU; "eager" in the smoke run (dynamo tracing, no C++ build)


def make_plan(cpu_smoke: bool) -> Plan:
    if cpu_smoke:
        return Plan(TINY, "cpu", (32, 64), 256, 2, 1, (4, 8), 16, 4, "eager")
    return Plan(LLAMA_32_1B, "cuda", (512, 1024), 16384, 10, 3, (64, 256), 128, 256, "inductor")


# -- FLOPs --------------------------------------------------------------------------------------------
def matmul_params(arch: dict[str, Any]) -> int:
    """Parameters that multiply activations: attention + MLP projections of every layer, and the LM head."""
    d, ff, kv = arch["hidden_size"], arch["intermediate_size"], arch["num_key_value_heads"] * arch["head_dim"]
    q = arch["num_attention_heads"] * arch["head_dim"]
    per_layer = d * q + 2 * d * kv + q * d + 3 * d * ff
    return arch["num_hidden_layers"] * per_layer + d * arch["vocab_size"]


def lora_params(arch: dict[str, Any], r: int) -> int:
    """LoRA A and B on q, k, v, o, gate, up, down: r * (in + out) each."""
    d, ff, kv = arch["hidden_size"], arch["intermediate_size"], arch["num_key_value_heads"] * arch["head_dim"]
    q = arch["num_attention_heads"] * arch["head_dim"]
    shapes = [(d, q), (d, kv), (d, kv), (q, d), (d, ff), (d, ff), (ff, d)]
    return arch["num_hidden_layers"] * sum(r * (a + b) for a, b in shapes)


def train_flops(arch: dict[str, Any], doc_lens: list[int], lora_r: int | None) -> float:
    """Model FLOPs to train on documents of these lengths (LoRA when lora_r is set, else full FT)."""
    n_tokens, sum_sq = sum(doc_lens), sum(n * n for n in doc_lens)
    attention = 6 * arch["num_hidden_layers"] * arch["num_attention_heads"] * arch["head_dim"] * sum_sq
    dense = (
        6 * matmul_params(arch) if lora_r is None else 4 * matmul_params(arch) + 6 * lora_params(arch, lora_r)
    )
    return dense * n_tokens + attention


def peak_flops(device_name: str, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    for key, tflops in PEAK_BF16_TFLOPS.items():  # "H100 PCIe" is listed before "H100" on purpose
        if key in device_name:
            return tflops * 1e12
    return None


# -- data ---------------------------------------------------------------------------------------------
def doc_lengths(seq: int, total_tokens: int, rng: random.Random) -> list[int]:
    """SFT-like documents: lengths uniform in [seq/4, seq] until they hold ``total_tokens``."""
    lens: list[int] = []
    while sum(lens) < total_tokens:
        lens.append(rng.randint(seq // 4, seq))
    return lens


def padded_batch(lens: list[int], vocab: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Right-padded rows, one document each (the trainer's collate)."""
    width = max(lens)
    ids = torch.randint(0, vocab, (len(lens), width), generator=gen)
    mask = (torch.arange(width)[None, :] < torch.tensor(lens)[:, None]).long()
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def packed_batch(lens: list[int], seq: int, vocab: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Documents concatenated into rows of exactly ``seq`` tokens, position ids restarting at each one.

    With position_ids and no attention mask, transformers builds a block-diagonal causal mask (sdpa) or
    uses varlen kernels (flash-attention), so documents do not attend to each other. A document that does
    not fit the row's remainder is cut; the first token of each document carries no label.
    """
    rows, positions, labels, row, pos, lab = [], [], [], [], [], []
    for n in lens:
        while n > 0:
            take = min(n, seq - len(row))
            tokens = torch.randint(0, vocab, (take,), generator=gen).tolist()
            row += tokens
            pos += list(range(take))
            lab += [-100] + tokens[1:]
            n -= take
            if len(row) == seq:
                rows.append(row), positions.append(pos), labels.append(lab)
                row, pos, lab = [], [], []
    return {
        "input_ids": torch.tensor(rows),
        "position_ids": torch.tensor(positions),
        "labels": torch.tensor(labels),
    }


def packed_doc_lens(batch: dict[str, torch.Tensor]) -> list[int]:
    """Document lengths as the model sees them (a restart of position ids starts a new document)."""
    lens = []
    for row in batch["position_ids"].tolist():
        starts = [i for i, p in enumerate(row) if p == 0] + [len(row)]
        lens += [b - a for a, b in zip(starts, starts[1:], strict=False)]
    return lens


# -- model --------------------------------------------------------------------------------------------
def attention_implementation(device: str) -> str:
    if device == "cuda":
        with contextlib.suppress(ImportError):
            import flash_attn  # noqa: F401

            return "flash_attention_2"
    return "sdpa"


def random_model(arch: dict[str, Any], device: str, dtype: torch.dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        **arch,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        attn_implementation=attention_implementation(device),
    )
    torch.manual_seed(0)
    with torch.device(device):
        return LlamaForCausalLM(config).to(dtype)


def lora_cfg():
    from omegaconf import OmegaConf

    return OmegaConf.load(
        ROOT / "conf" / "trainer" / "lora.yaml"
    )  # the project's LoRA recipe (r=16, all linear)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _reset_memory(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _sig(x: float) -> float:
    return float(f"{x:.4g}")


def _peak_gib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None


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

    _reset_memory(plan.device)
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
    _sync(plan.device)
    warmup_s = time.perf_counter() - compile_start
    start = time.perf_counter()
    for batch in batches[plan.warmup :]:
        loss = step(batch)
    _sync(plan.device)
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
        "model_tflops_per_s": _sig(flops / seconds / 1e12),
        "mfu": _sig(flops / seconds / peak) if peak else None,
        "warmup_s": round(warmup_s, 2),
        "final_loss": round(float(loss.detach()), 4),
        "peak_memory_gib": _peak_gib(plan.device),
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

    _reset_memory(plan.device)
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
            _sync(plan.device)
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


# -- generation ---------------------------------------------------------------------------------------
def save_generation_model(plan: Plan, folder: Path) -> Path:
    """The random model in bf16 plus pada's offline tiny tokenizer (its ids are a subset of the vocab)."""
    from pada.models.tiny import build_tokenizer

    model = random_model(plan.arch, "cpu", torch.bfloat16)
    model.save_pretrained(folder)
    build_tokenizer(512).save_pretrained(folder)
    del model
    return folder


def _prompt(tokens: int, index: int) -> list[dict[str, str]]:
    words = " ".join(f"w{(index * 7 + i) % 97}" for i in range(tokens // 2))  # ~2 tokens per word
    return [{"role": "user", "content": words}]


def generate_transformers(plan: Plan, folder: Path, batch: int) -> dict[str, Any]:
    """pada's transformers backend, sampling at temperature 1 so random weights rarely stop early."""
    from omegaconf import OmegaConf

    from pada.inference.base import build_backend
    from pada.types import SamplingParams

    _reset_memory(plan.device)
    cfg = OmegaConf.load(ROOT / "conf" / "eval" / "transformers.yaml")
    cfg.update({"batch_size": batch, "device": plan.device, "dtype": "bfloat16"})
    backend = build_backend(str(folder), cfg)
    params = SamplingParams(max_new_tokens=plan.new_tokens, temperature=1.0, seed=0)
    backend.generate(
        [_prompt(plan.prompt_len, 0)] * min(batch, 8), SamplingParams(max_new_tokens=4)
    )  # load + warm
    _sync(plan.device)
    start = time.perf_counter()
    completions = backend.generate([_prompt(plan.prompt_len, i) for i in range(batch)], params)
    _sync(plan.device)
    seconds = time.perf_counter() - start
    out_tokens = sum(c.output_tokens for c in completions)
    backend.close()
    return {
        "engine": "pada transformers backend",
        "batch": batch,
        "prompt_tokens": completions[0].prompt_tokens,
        "max_new_tokens": plan.new_tokens,
        "output_tokens": out_tokens,
        "seconds": round(seconds, 3),
        "output_tokens_per_s": round(out_tokens / seconds, 1),
        "peak_memory_gib": _peak_gib(plan.device),
    }


def generate_vllm(
    plan: Plan, folder: Path, batches: tuple[int, ...]
) -> list[dict[str, Any]] | dict[str, str]:
    """vLLM offline engine on the same weights; token-id prompts, fixed output length (ignore_eos)."""
    try:
        from vllm import LLM, SamplingParams
        from vllm.inputs import TokensPrompt
    except ImportError as exc:
        return {"skipped": f"vllm not importable: {exc}"}
    llm = LLM(
        model=str(folder),
        dtype="bfloat16",
        skip_tokenizer_init=True,
        max_model_len=2048,
        seed=0,
        gpu_memory_utilization=0.85,
    )
    params = SamplingParams(max_tokens=plan.new_tokens, temperature=1.0, ignore_eos=True, detokenize=False)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for batch in batches:
        prompts = [
            TokensPrompt(prompt_token_ids=torch.randint(3, 400, (plan.prompt_len,), generator=gen).tolist())
            for _ in range(batch)
        ]
        llm.generate(prompts[:8], params, use_tqdm=False)
        start = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        seconds = time.perf_counter() - start
        out_tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
        rows.append(
            {
                "engine": "vllm",
                "batch": batch,
                "prompt_tokens": plan.prompt_len,
                "output_tokens": out_tokens,
                "seconds": round(seconds, 3),
                "output_tokens_per_s": round(out_tokens / seconds, 1),
            }
        )
    return rows


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
