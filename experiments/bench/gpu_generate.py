"""The GPU benchmark's generation cases (experiments/bench/gpu.py): output tokens/s through pada's
transformers backend and through vLLM's offline engine, on the random-weight model saved once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402
from gpu_workload import Plan, peak_gib, random_model, reset_memory, sync  # noqa: E402


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

    reset_memory(plan.device)
    cfg = OmegaConf.load(ROOT / "conf" / "eval" / "transformers.yaml")
    cfg.update({"batch_size": batch, "device": plan.device, "dtype": "bfloat16"})
    backend = build_backend(str(folder), cfg)
    params = SamplingParams(max_new_tokens=plan.new_tokens, temperature=1.0, seed=0)
    backend.generate(
        [_prompt(plan.prompt_len, 0)] * min(batch, 8), SamplingParams(max_new_tokens=4)
    )  # load + warm
    sync(plan.device)
    start = time.perf_counter()
    completions = backend.generate([_prompt(plan.prompt_len, i) for i in range(batch)], params)
    sync(plan.device)
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
        "peak_memory_gib": peak_gib(plan.device),
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
