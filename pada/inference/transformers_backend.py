"""Reference backend: batched greedy or seeded decoding with left padding and the KV cache (the CPU path).

Prompts are sorted by length so each batch pads little. Each row stops at EOS (every id in the model's
generation config, e.g. Llama 3's ``<|eot_id|>`` and ``<|end_of_text|>``) or once a stop string appears in
its text; a finished row is dropped from the batch and its KV cache, so it stops costing work.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from pada import progress
from pada.inference.base import Backend, Prompt, cut_at_stop
from pada.models.chat import apply_chat_template
from pada.models.loading import load_causal_lm, load_tokenizer
from pada.types import Completion, SamplingParams


def eos_ids(model, tokenizer) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return sorted({i for i in [*ids, tokenizer.eos_token_id] if i is not None})


def next_tokens(
    logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None
) -> torch.Tensor:
    """Greedy argmax, or temperature + nucleus (top-p) sampling drawn from the batch's seeded generator."""
    if params.temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / params.temperature, -1)
    if params.top_p < 1.0:
        sorted_probs, order = probs.sort(-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > params.top_p  # always keeps the top token
        probs = probs.scatter(-1, order, sorted_probs.masked_fill(outside, 0.0))
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


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
            else apply_chat_template(self.tokenizer, item, add_generation_prompt=True, tokenize=False)
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
        bar = progress.bar(batches, desc=f"generate {len(chats)}", unit="batch", force=self.cfg.progress_bar)
        for n, start in enumerate(bar):
            idx = order[start : start + size]
            # One generator per batch: the same seed, batch size and inputs give the same samples.
            generator = torch.Generator(self.cfg.device).manual_seed(params.seed + n)
            batch = _Decoder(model, self.tokenizer, params, generator).run([encoded[i] for i in idx])
            for i, completion in zip(idx, batch, strict=True):
                results[i] = completion
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self._loaded = None


@functools.lru_cache(maxsize=16)
def stop_enders(tokenizer, stops: tuple[str, ...]) -> frozenset[int] | None:
    """Token ids that can complete a stop string: those whose text holds a stop's last character, or a
    partial UTF-8 byte (the character is finished by this token). Other tokens cannot, so their rows skip
    the per-step decode. None (check every row) when a stop ends in whitespace, which some tokenizers
    drop when decoding a lone token."""
    if any(s[-1].isspace() for s in stops):
        return None
    last = {s[-1] for s in stops}
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))], skip_special_tokens=True)
    return frozenset(i for i, t in enumerate(texts) if "\ufffd" in t or any(c in t for c in last))


class _Decoder:
    """One batch: prefill, then one token per step for the rows still running."""

    def __init__(self, model, tokenizer, params: SamplingParams, generator: torch.Generator):
        self.model, self.tokenizer, self.params, self.generator = model, tokenizer, params, generator
        self.eos = set(eos_ids(model, tokenizer))
        # A stop string first shows up within a row's last few tokens (a character is at most 4 tokens).
        self.window = 4 * max((len(s) for s in params.stop), default=0) + 2
        self.enders = stop_enders(tokenizer, params.stop) if params.stop else None

    def _stopped(self, rows: list[list[int]]) -> list[bool]:
        done = [tokens[-1] in self.eos for tokens in rows]
        if not self.params.stop:
            return done
        check = [
            j for j, t in enumerate(rows) if not done[j] and (self.enders is None or t[-1] in self.enders)
        ]
        if check:  # one batched decode of the tails the newest token may have completed
            tails = self.tokenizer.batch_decode(
                [rows[j][-self.window :] for j in check], skip_special_tokens=True
            )
            for j, tail in zip(check, tails, strict=True):
                done[j] = cut_at_stop(tail, self.params.stop)[1]
        return done

    @torch.inference_mode()
    def run(self, batch: list[list[int]]) -> list[Completion]:
        device = self.model.device
        padded = self.tokenizer.pad({"input_ids": batch}, return_tensors="pt").to(device)
        mask = padded["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each row's real tokens start at 0
        out = self.model(
            input_ids=padded["input_ids"],
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )  # (only the last position's logits)
        cache, rows = out.past_key_values, list(range(len(batch)))
        generated: list[list[int]] = [[] for _ in batch]
        for step in range(self.params.max_new_tokens):
            tokens = next_tokens(out.logits[:, -1, :], self.params, self.generator)
            for row, token in zip(rows, tokens.tolist(), strict=True):
                generated[row].append(token)
            stopped = self._stopped([generated[row] for row in rows])
            running = [j for j, done in enumerate(stopped) if not done]
            if not running or step == self.params.max_new_tokens - 1:
                break
            if len(running) < len(rows):  # drop finished rows from the batch and the KV cache
                keep = torch.tensor(running, device=device)
                cache.batch_select_indices(keep)
                mask, positions, tokens = mask[keep], positions[keep], tokens[keep]
                rows = [rows[j] for j in running]
            mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
            positions = positions[:, -1:] + 1
            out = self.model(
                input_ids=tokens[:, None],
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        return [
            self._completion(tokens, len(prompt)) for tokens, prompt in zip(generated, batch, strict=True)
        ]

    def _completion(self, tokens: list[int], n_prompt: int) -> Completion:
        hit_eos = tokens[-1] in self.eos
        text_ids = tokens[:-1] if hit_eos else tokens  # EOS counts as generated but is not text
        text, hit_stop = cut_at_stop(
            self.tokenizer.decode(text_ids, skip_special_tokens=True), self.params.stop
        )
        return Completion(text, n_prompt, len(tokens), "stop" if hit_eos or hit_stop else "length")
