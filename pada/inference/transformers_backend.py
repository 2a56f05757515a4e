"""Reference backend: batched ``generate`` with left padding and the KV cache (the CPU path).

Prompts are sorted by length so each batch pads little. Each row stops at EOS (every id in the model's
generation config, e.g. Llama 3's ``<|eot_id|>`` and ``<|end_of_text|>``) or at its first stop string;
finished rows are padded while the rest of the batch continues, and the batch ends when all rows are done.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import StoppingCriteria

from pada.inference.base import Backend, Prompt, cut_at_stop, register_backend
from pada.models.loading import load_causal_lm, load_tokenizer
from pada.types import Completion, SamplingParams


class StopOnText(StoppingCriteria):
    """Per row: done once a stop string appears in the generated text (vLLM's and lm-eval's semantics).

    Only a tail of each row is decoded per step: a stop string first appears within its last few tokens.
    """

    def __init__(self, tokenizer, stops: tuple[str, ...], prompt_width: int):
        self.tokenizer, self.stops, self.width = tokenizer, stops, prompt_width
        self.window = 4 * max(len(s) for s in stops) + 2  # a character can take up to 4 byte-level tokens

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        tails = self.tokenizer.batch_decode(
            input_ids[:, self.width :][:, -self.window :], skip_special_tokens=True
        )
        return torch.tensor([any(s in t for s in self.stops) for t in tails], device=input_ids.device)


def eos_ids(model, tokenizer) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return sorted({i for i in [*ids, tokenizer.eos_token_id] if i is not None})


@register_backend("transformers")
class TransformersBackend(Backend):
    def __init__(self, model_path: str, cfg: Any):
        super().__init__(model_path, cfg)
        self.tokenizer = load_tokenizer(model_path)
        self.tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
        self._loaded: tuple[str | None, Any] | None = None

    def _model(self, adapter: str | None):
        if self._loaded is not None and self._loaded[0] == adapter:
            return self._loaded[1]
        self._loaded = None  # free the previous model before loading the next
        if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            model = load_causal_lm(adapter, self.cfg.dtype)  # a fully fine-tuned model dir
        else:
            model = load_causal_lm(self.model_path, self.cfg.dtype)
            if adapter is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, adapter)
        model.eval().to(self.cfg.device)
        self._loaded = (adapter, model)
        return model

    def encode(self, item: Prompt) -> list[int]:
        text = (
            item
            if isinstance(item, str)
            else self.tokenizer.apply_chat_template(item, add_generation_prompt=True, tokenize=False)
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]  # the template adds BOS

    def generate(
        self, chats: list[Prompt], params: SamplingParams, adapter: str | None = None
    ) -> list[Completion]:
        model = self._model(adapter)
        encoded = [self.encode(c) for c in chats]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # long first: OOM shows early
        results: list[Completion | None] = [None] * len(encoded)
        size = self.cfg.batch_size
        batches = range(0, len(order), size)
        for n, start in enumerate(tqdm(batches, desc="generate", disable=not self.cfg.progress_bar)):
            idx = order[start : start + size]
            if params.temperature > 0:  # one seed per batch: same seed, batch size and inputs, same samples
                torch.manual_seed(params.seed + n)
            batch = self._generate_batch(model, [encoded[i] for i in idx], params)
            for i, completion in zip(idx, batch, strict=True):
                results[i] = completion
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(self, model, batch: list[list[int]], params: SamplingParams) -> list[Completion]:
        padded = self.tokenizer.pad({"input_ids": batch}, return_tensors="pt").to(self.cfg.device)
        sample = params.temperature > 0
        eos = eos_ids(model, self.tokenizer)
        out = model.generate(
            **padded,
            max_new_tokens=params.max_new_tokens,
            do_sample=sample,
            temperature=params.temperature if sample else None,
            top_p=params.top_p if sample else None,
            top_k=None,  # the model's generation config may set one; SamplingParams has none
            stopping_criteria=[StopOnText(self.tokenizer, params.stop, padded["input_ids"].shape[1])]
            if params.stop
            else None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=eos,
            use_cache=True,
        )
        new_tokens = out[:, padded["input_ids"].shape[1] :].tolist()
        return [
            self._completion(row, len(prompt), eos, params)
            for row, prompt in zip(new_tokens, batch, strict=True)
        ]

    def _completion(
        self, row: list[int], n_prompt: int, eos: list[int], params: SamplingParams
    ) -> Completion:
        ends = [k for k, t in enumerate(row) if t in eos]
        hit_eos = bool(ends)
        if hit_eos:  # the EOS token counts as generated but is not text; what follows it is padding
            text_ids, row = row[: ends[0]], row[: ends[0] + 1]
        else:
            text_ids = row
        text, hit_stop = cut_at_stop(self.tokenizer.decode(text_ids, skip_special_tokens=True), params.stop)
        if hit_stop and not hit_eos:  # generate halts a row on the token that completes a stop string
            row = _until_stop(row, self.tokenizer, params.stop)
        stopped = hit_eos or hit_stop
        return Completion(text, n_prompt, len(row), "stop" if stopped else "length")

    def close(self) -> None:
        self._loaded = None


def _until_stop(row: list[int], tokenizer, stops: tuple[str, ...]) -> list[int]:
    """The shortest prefix of ``row`` whose text contains a stop string (bisection: prefixes only grow)."""

    def contains_stop(k: int) -> bool:
        return cut_at_stop(tokenizer.decode(row[:k], skip_special_tokens=True), stops)[1]

    return row[: bisect.bisect_left(range(len(row) + 1), True, key=contains_stop)]
