"""Chat-templated SFT features with the loss on response tokens only, and their padded or packed batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pada.models.chat import apply_chat_template
from pada.types import Example

IGNORE_INDEX = -100  # torch cross-entropy's ignore_index


@dataclass(frozen=True)
class Feature:
    input_ids: list[int]
    labels: list[int]

    def cut(self, max_len: int) -> Feature:
        """The first ``max_len`` tokens (``trainer.max_seq_len``), prompt mask kept."""
        return Feature(self.input_ids[:max_len], self.labels[:max_len])

    @property
    def response_tokens(self) -> int:
        """Tokens the loss is computed on (not masked with IGNORE_INDEX)."""
        return sum(label != IGNORE_INDEX for label in self.labels)


def chat_prompt_ids(tokenizer, user_prompt: str, system_prompt: str | None = None) -> list[int]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user_prompt})
    ids = apply_chat_template(tokenizer, messages, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)


def build_feature(
    tokenizer, example: Example, max_len: int | None, system_prompt: str | None = None
) -> Feature:
    """prompt (masked) + response + EOS, the same tokens the chat template renders for the full turn, cut
    at ``max_len`` tokens (None: whole)."""
    prompt = chat_prompt_ids(tokenizer, example.prompt, system_prompt)
    response = tokenizer(example.target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return Feature(input_ids=prompt + response, labels=[IGNORE_INDEX] * len(prompt) + response).cut(max_len)


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
    lengths = torch.tensor([len(f.input_ids) for f in features])
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention, "seq_lens": lengths}


def collate_packed(rows: list[list[Feature]], pad_id: int) -> dict[str, torch.Tensor]:
    """Concatenate each row's features; position_ids restart at 0 per feature and there is no attention_mask.

    transformers (masking_utils.find_packed_sequence_indices) turns restarting position_ids into a
    block-diagonal causal mask, so no token attends across examples, on CPU (sdpa/eager) as on GPU. Each
    feature starts with prompt tokens (labels -100), so the shifted loss never predicts across a boundary.
    Trailing padding forms its own segment (positions from 0) and carries no labels.
    """
    flat = [[t for f in row for t in f.input_ids] for row in rows]
    width = max(len(ids) for ids in flat)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        n = len(flat[r])
        input_ids[r, :n] = torch.tensor(flat[r])
        labels[r, :n] = torch.tensor([t for f in row for t in f.labels])
        positions[r, :n] = torch.cat([torch.arange(len(f.input_ids)) for f in row])
        positions[r, n:] = torch.arange(width - n)
    lengths = torch.tensor([len(f.input_ids) for row in rows for f in row])
    return {"input_ids": input_ids, "labels": labels, "position_ids": positions, "seq_lens": lengths}


class PlannedBatches(torch.utils.data.Dataset):
    """Indexed by a BatchPlan batch (rows of example indices), returns the model inputs for it.

    Used with ``DataLoader(sampler=plan, batch_size=None)`` so the plan, not the loader, decides batches.
    """

    def __init__(self, features: list[Feature], pad_id: int, packed: bool):
        self.features, self.pad_id, self.packed = features, pad_id, packed

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        if self.packed:
            return collate_packed([[self.features[i] for i in row] for row in rows], self.pad_id)
        return collate([self.features[row[0]] for row in rows], self.pad_id)


def padding_fraction(batches: list[dict[str, torch.Tensor]]) -> float:
    """Share of the computed token slots that are padding."""
    slots = sum(b["input_ids"].numel() for b in batches)
    real = sum(int(b["seq_lens"].sum()) for b in batches)
    return 1 - real / slots
