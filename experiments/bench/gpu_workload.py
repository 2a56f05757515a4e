"""The GPU benchmark's workload (experiments/bench/gpu.py): the Llama-3.2-1B architecture and its tiny smoke
version, what one invocation measures (``Plan``), the FLOPs accounting, synthetic padded and packed batches,
the random-weight model and the device helpers.

FLOPs per trained token (stated in the report): N = parameters that multiply activations (every linear
layer plus the LM head; the tied input embedding is a lookup), n = the token's document length, L layers,
H*hd the query width. Causal attention costs 2*n*L*H*hd per token forward (QK^T and AV over n/2 keys on
average); training is 3x forward. LoRA: 4N (forward + activation gradients; no weight gradients for the
frozen base) + 6*N_lora + 6*n*L*H*hd. Full fine-tuning: 6N + 6*n*L*H*hd.
"""

from __future__ import annotations

import contextlib
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

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


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def reset_memory(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def sig(x: float) -> float:
    return float(f"{x:.4g}")


def peak_gib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None
