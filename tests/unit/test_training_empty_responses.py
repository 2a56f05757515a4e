"""Training on nothing: examples whose whole response ``max_seq_len`` cuts away (pytorch#116349: a batch with
no labelled token has a NaN mean loss). All of them, or more than ``trainer.max_fully_truncated``, is one
error before the model loads; a few are dropped from training and counted."""

from __future__ import annotations

import math

import pytest
from training_support import arithmetic, tiny_model_dir, trainer_cfg

import pada.training.train as train
from pada.errors import PadaError
from pada.io import read_jsonl
from pada.models.loading import load_tokenizer
from pada.training.data import build_feature
from pada.types import Example


def _long(n: int, offset: int = 100) -> list[Example]:
    """Examples whose prompt alone is longer than 64 tokens."""
    return [
        Example(
            id=f"long{i}",
            prompt=f"Question {i}: " + "Read the problem slowly and think step by step. " * 12,
            target=f"{i} + 1 = {i + 1}. #### {i + 1}",
            answer=str(i + 1),
            source="test",
        )
        for i in range(offset, offset + n)
    ]


def _no_model(*args, **kwargs):
    raise AssertionError("the model was loaded")


def test_every_response_cut_away_is_an_error_before_the_model_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "build_model", _no_model)
    tokenizer = load_tokenizer(tiny_model_dir())
    examples = _long(16)
    whole = max(len(build_feature(tokenizer, ex, 10_000).input_ids) for ex in examples)
    with pytest.raises(PadaError) as error:
        train.fit(trainer_cfg(max_seq_len=64), tiny_model_dir(), examples, tmp_path, seed=0)
    message = str(error.value)
    assert "trainer.max_seq_len=64 cuts the whole response from 16 of 16 training examples" in message
    assert "0 response tokens" in message
    assert f"Raise trainer.max_seq_len (to {whole} keeps every example whole)" in message
    assert not (tmp_path / "model").exists()


def test_most_responses_cut_away_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "build_model", _no_model)
    examples = _long(10) + arithmetic(6)  # 10 of 16 = 62% > the default 10%
    with pytest.raises(PadaError, match=r"10 of 16 .*62% > trainer.max_fully_truncated=0.1"):
        train.fit(trainer_cfg(max_seq_len=64), tiny_model_dir(), examples, tmp_path, seed=0)


def test_a_few_cut_away_responses_are_dropped_counted_and_the_loss_stays_finite(tmp_path):
    # 2 of 22 (9%) are prompt-only; with length grouping they would form a batch of their own whose
    # mean loss over zero labelled tokens is NaN (and poisons every weight through its gradient)
    examples = arithmetic(20) + _long(2)
    cfg = trainer_cfg(max_seq_len=64, batching="length_grouped", batch_size=2, max_steps=11, grad_accum=1)
    summary = train.fit(cfg, tiny_model_dir(), examples, tmp_path, seed=0)
    assert (summary["examples"], summary["fully_truncated"]) == (20, 2)
    assert all(math.isfinite(row["loss"]) for row in read_jsonl(tmp_path / "loss_curve.jsonl"))


@pytest.mark.parametrize("share", [1.5, -0.1, "half"])
def test_the_share_is_checked_with_the_other_choices(share):
    with pytest.raises(PadaError, match="trainer.max_fully_truncated=.* is not a share between 0 and 1"):
        train.validate(trainer_cfg(max_fully_truncated=share))
