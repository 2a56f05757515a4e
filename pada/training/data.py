"""Chat-templated SFT features with the loss on response tokens only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pada.types import Example

IGNORE_INDEX = -100  # torch cross-entropy's ignore_index


@dataclass(frozen=True)
class Feature:
    input_ids: list[int]
    labels: list[int]


def chat_prompt_ids(tokenizer, user_prompt: str, system_prompt: str | None = None) -> list[int]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user_prompt})
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)


def build_feature(tokenizer, example: Example, max_len: int, system_prompt: str | None = None) -> Feature:
    """prompt (masked) + response + EOS, the same tokens the chat template renders for the full turn."""
    prompt = chat_prompt_ids(tokenizer, example.prompt, system_prompt)
    response = tokenizer(example.target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    input_ids = (prompt + response)[:max_len]
    labels = ([IGNORE_INDEX] * len(prompt) + response)[:max_len]
    return Feature(input_ids=input_ids, labels=labels)


def collate(features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding carries no labels and no attention."""
    width = max(len(f.input_ids) for f in features)
    input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(features), width), dtype=torch.long)
    for row, feature in enumerate(features):
        n = len(feature.input_ids)
        input_ids[row, :n] = torch.tensor(feature.input_ids)
        labels[row, :n] = torch.tensor(feature.labels)
        attention[row, :n] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}
