"""Reference backend: batched ``generate`` with left padding and the KV cache (the CPU path).

Prompts are sorted by length so each batch pads little; rows that hit EOS or a stop string stop early.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from pada.inference.base import Backend, Chat, register_backend
from pada.models.loading import load_causal_lm, load_tokenizer
from pada.types import Completion, SamplingParams


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    cuts = [text.index(s) for s in stops if s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


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

    def generate(
        self, chats: list[Chat], params: SamplingParams, adapter: str | None = None
    ) -> list[Completion]:
        model = self._model(adapter)
        prompts = [
            self.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats
        ]
        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # long first: OOM shows early
        results: list[Completion | None] = [None] * len(encoded)
        batches = range(0, len(order), self.cfg.batch_size)
        for start in tqdm(batches, desc="generate", disable=not self.cfg.progress_bar, leave=False):
            idx = order[start : start + self.cfg.batch_size]
            for i, completion in zip(
                idx, self._generate_batch(model, [encoded[i] for i in idx], params), strict=True
            ):
                results[i] = completion
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(self, model, batch: list[list[int]], params: SamplingParams) -> list[Completion]:
        padded = self.tokenizer.pad({"input_ids": batch}, return_tensors="pt").to(self.cfg.device)
        sample = params.temperature > 0
        if sample:
            torch.manual_seed(params.seed)
        out = model.generate(
            **padded,
            max_new_tokens=params.max_new_tokens,
            do_sample=sample,
            temperature=params.temperature if sample else None,
            top_p=params.top_p if sample else None,
            stop_strings=list(params.stop) or None,
            tokenizer=self.tokenizer,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        width = padded["input_ids"].shape[1]
        completions = []
        for row, prompt in zip(out, batch, strict=True):
            new = row[width:]
            new = new[new != self.tokenizer.pad_token_id]
            hit_eos = bool((new == self.tokenizer.eos_token_id).any())
            text, hit_stop = _cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), params.stop)
            n_out = len(new)
            finished = hit_eos or hit_stop or n_out < params.max_new_tokens
            completions.append(Completion(text, len(prompt), n_out, "stop" if finished else "length"))
        return completions

    def close(self) -> None:
        self._loaded = None
