"""The training loss reads logits only where a response token is predicted (module.response_loss): the same
loss and gradients as the model's full-logits loss, with the LM head run on fewer positions."""

from __future__ import annotations

import pytest
import torch
from training_support import arithmetic, tiny_model_dir

from pada.models.loading import load_causal_lm, load_tokenizer
from pada.training.data import IGNORE_INDEX, build_feature, collate, collate_packed
from pada.training.module import model_inputs, predicting_positions, response_loss


def _batches():
    tokenizer = load_tokenizer(tiny_model_dir())
    features = [build_feature(tokenizer, ex, 512) for ex in arithmetic(5)]
    return {
        "padded": collate(features, tokenizer.pad_token_id),
        "packed": collate_packed([features[:3], features[3:]], tokenizer.pad_token_id),
    }


def _grads(model) -> dict[str, torch.Tensor]:
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return grads


@pytest.mark.parametrize("kind", ["padded", "packed"])
def test_response_loss_equals_the_full_logits_loss_and_its_gradients(kind):
    batch = _batches()[kind]
    model = load_causal_lm(tiny_model_dir()).train()
    full = model(**model_inputs(batch)).loss
    full.backward()
    full_grads = _grads(model)
    kept = response_loss(model, batch)
    kept.backward()
    kept_grads = _grads(model)
    torch.testing.assert_close(kept, full, atol=1e-6, rtol=1e-6)
    assert full_grads.keys() == kept_grads.keys() and full_grads
    for name, grad in full_grads.items():
        torch.testing.assert_close(kept_grads[name], grad, atol=1e-6, rtol=1e-5, msg=name)


def test_the_head_runs_only_on_predicting_positions():
    batch = _batches()["padded"]
    labels = batch["labels"]
    expected = sorted(
        {p for row in labels.tolist() for p in range(len(row) - 1) if row[p + 1] != IGNORE_INDEX}
    )
    assert predicting_positions(labels).tolist() == expected
    model = load_causal_lm(tiny_model_dir())
    seen = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda m, args, out: seen.append(args[0].shape)
    )
    try:
        response_loss(model, batch)
    finally:
        hook.remove()
    assert seen == [(labels.shape[0], len(expected), model.config.hidden_size)]
    assert len(expected) < labels.shape[1] - 1  # the prompt positions' logits are never computed


def test_a_batch_without_response_tokens_is_an_error_not_a_nan():
    batch = _batches()["padded"]
    batch = {**batch, "labels": torch.full_like(batch["labels"], IGNORE_INDEX)}
    with pytest.raises(ValueError, match="no response token"):
        response_loss(load_causal_lm(tiny_model_dir()), batch)
