"""Loss masking token by token on a chat-templated example, and packing without cross-contamination."""

from __future__ import annotations

import torch
from training_support import arithmetic, tiny_model_dir

from pada.models.loading import load_causal_lm, load_tokenizer
from pada.training.data import IGNORE_INDEX, build_feature, collate, collate_packed
from pada.training.module import model_inputs
from pada.types import Example

SYSTEM = "You are a careful math tutor."
EXAMPLE = Example(id="m1", prompt="What is 12 - 5?", target="12 - 5 = 7. #### 7", answer="7", source="test")


def _chat(tokenizer, with_answer: bool) -> list[int]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": EXAMPLE.prompt}]
    if with_answer:
        messages.append({"role": "assistant", "content": EXAMPLE.target})
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=not with_answer, tokenize=True)
    return list(ids["input_ids"])


def test_only_response_and_eos_carry_labels():
    tokenizer = load_tokenizer(tiny_model_dir())
    feature = build_feature(tokenizer, EXAMPLE, max_len=512, system_prompt=SYSTEM)
    prompt = _chat(tokenizer, with_answer=False)
    response = tokenizer(EXAMPLE.target, add_special_tokens=False)["input_ids"]
    assert feature.input_ids[: len(prompt)] == prompt  # the exact generation-time prompt
    assert feature.input_ids == _chat(tokenizer, with_answer=True)  # the template's full turn, EOS included
    for position, (token, label) in enumerate(zip(feature.input_ids, feature.labels, strict=True)):
        expected = IGNORE_INDEX if position < len(prompt) else token
        assert label == expected, f"position {position} ({tokenizer.decode([token])!r})"
    assert feature.labels[len(prompt) :] == [*response, tokenizer.eos_token_id]
    assert tokenizer.decode(feature.labels[len(prompt) :]) == EXAMPLE.target + tokenizer.eos_token


def test_truncation_keeps_the_prompt_mask():
    tokenizer = load_tokenizer(tiny_model_dir())
    full = build_feature(tokenizer, EXAMPLE, max_len=512, system_prompt=SYSTEM)
    cut = build_feature(tokenizer, EXAMPLE, max_len=len(full.input_ids) - 3, system_prompt=SYSTEM)
    assert cut.input_ids == full.input_ids[:-3] and cut.labels == full.labels[:-3]


def test_padding_carries_no_labels_and_no_attention():
    tokenizer = load_tokenizer(tiny_model_dir())
    features = [build_feature(tokenizer, ex, 512) for ex in arithmetic(3)]
    batch = collate(features, tokenizer.pad_token_id)
    for row, feature in enumerate(features):
        n = len(feature.input_ids)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (batch["input_ids"].shape[1] - n)
        assert (batch["labels"][row, n:] == IGNORE_INDEX).all()
        assert batch["labels"][row, :n].tolist() == feature.labels
    assert batch["seq_lens"].tolist() == [len(f.input_ids) for f in features]


def _per_token_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(
        logits[:-1], labels[1:], ignore_index=IGNORE_INDEX, reduction="none"
    )


def test_packed_row_equals_examples_run_alone():
    """Restarting position_ids give a block-diagonal mask on CPU: same logits and losses as unpacked."""
    tokenizer = load_tokenizer(tiny_model_dir())
    model = load_causal_lm(tiny_model_dir()).eval()
    features = [build_feature(tokenizer, ex, 512) for ex in arithmetic(5)]
    packed = collate_packed([features[:3], features[3:]], tokenizer.pad_token_id)
    assert "attention_mask" not in packed
    with torch.no_grad():
        packed_out = model(**model_inputs(packed))  # exactly what training_step runs
        packed_logits, packed_loss = packed_out.logits, packed_out.loss
        alone = [model(input_ids=torch.tensor([f.input_ids])).logits[0] for f in features]
    starts = {
        0: 0,
        1: len(features[0].input_ids),
        2: len(features[0].input_ids) + len(features[1].input_ids),
        3: 0,
        4: len(features[3].input_ids),
    }
    total, count = 0.0, 0
    for i, feature in enumerate(features):
        row, n = (0 if i < 3 else 1), len(feature.input_ids)
        assert packed["position_ids"][row, starts[i] : starts[i] + n].tolist() == list(range(n))
        segment = packed_logits[row, starts[i] : starts[i] + n]
        torch.testing.assert_close(segment, alone[i], atol=1e-5, rtol=1e-5)
        token_losses = _per_token_losses(alone[i], torch.tensor(feature.labels))
        total, count = (
            total + float(token_losses.sum()),
            count + sum(t != IGNORE_INDEX for t in feature.labels[1:]),
        )
    assert abs(float(packed_loss) - total / count) < 1e-5  # the token-mean loss of the examples run alone


def test_packing_with_a_kv_cache_would_leak():
    """The pitfall model_inputs avoids: with use_cache on, transformers skips the packed-sequence mask."""
    tokenizer = load_tokenizer(tiny_model_dir())
    model = load_causal_lm(tiny_model_dir()).eval()
    a, b = (build_feature(tokenizer, ex, 512) for ex in arithmetic(2))
    packed = collate_packed([[a, b]], tokenizer.pad_token_id)
    with torch.no_grad():
        cached = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=True)
        alone = model(input_ids=torch.tensor([b.input_ids])).logits[0]
    assert (cached.logits[0, len(a.input_ids) :] - alone).abs().max() > 1e-3


def test_packing_without_position_reset_would_leak():
    """The control: one long sequence (positions 0..n) attends across examples, so logits change."""
    tokenizer = load_tokenizer(tiny_model_dir())
    model = load_causal_lm(tiny_model_dir()).eval()
    a, b = (build_feature(tokenizer, ex, 512) for ex in arithmetic(2))
    with torch.no_grad():
        joined = model(input_ids=torch.tensor([a.input_ids + b.input_ids])).logits[0, len(a.input_ids) :]
        alone = model(input_ids=torch.tensor([b.input_ids])).logits[0]
    assert (joined - alone).abs().max() > 1e-3
