"""Stand-ins with the shape of vLLM's LLM / SamplingParams / LoRARequest / RequestOutput (0.32 API).

They run inside the real worker process, check every keyword against the names vLLM accepts, append what
they received to the JSONL file named by $FAKE_VLLM_LOG, and answer deterministically from the token ids.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

ENGINE_ARGS = {
    "model",
    "dtype",
    "seed",
    "enable_lora",
    "max_lora_rank",
    "max_loras",
    "gpu_memory_utilization",
    "max_model_len",
    "enforce_eager",
    "generation_config",
    "tensor_parallel_size",
}
SAMPLING_ARGS = {
    "n",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop",
    "stop_token_ids",
    "seed",
    "skip_special_tokens",
}


def _log(row: dict[str, Any]) -> None:
    with open(os.environ["FAKE_VLLM_LOG"], "a") as f:
        f.write(json.dumps(row) + "\n")


class SamplingParams:
    def __init__(self, **kwargs):
        unknown = set(kwargs) - SAMPLING_ARGS
        assert not unknown, f"vllm.SamplingParams has no {unknown}"
        self.kwargs = kwargs


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str = ""


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: Any
    outputs: list[CompletionOutput] = field(default_factory=list)
    finished: bool = True


class LLM:
    def __init__(self, **kwargs):
        unknown = set(kwargs) - ENGINE_ARGS
        assert not unknown, f"vllm.LLM has no {unknown}"
        _log({"engine": kwargs, "env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_")}})
        self.count = 0

    def generate(self, prompts, sampling_params, *, use_tqdm=True, lora_request=None):
        assert len(prompts) == len(sampling_params)
        _log(
            {
                "prompts": prompts,
                "sampling": [s.kwargs for s in sampling_params],
                "lora": None if lora_request is None else vars(lora_request),
                "use_tqdm": use_tqdm,
            }
        )
        return [
            self._answer(p["prompt_token_ids"], s.kwargs, lora_request)
            for p, s in zip(prompts, sampling_params, strict=True)
        ]

    def _answer(self, ids, sampling, lora) -> RequestOutput:
        """Output = the prompt ids reversed (+ the adapter id), cut at max_tokens."""
        tokens = [t + (lora.lora_int_id if lora else 0) for t in ids[::-1]][: sampling["max_tokens"]]
        text = " ".join(map(str, tokens))
        reason = "length" if len(ids) >= sampling["max_tokens"] else "stop"
        self.count += 1
        out = CompletionOutput(0, text, tokens, None, None, reason)
        return RequestOutput(str(self.count), None, list(ids), None, [out])


def api():
    return LLM, SamplingParams, LoRARequest


def broken_api():
    raise ModuleNotFoundError("No module named 'vllm'")
