"""FLOPs per token, MFU and the per-batch log sent to the tracker; packed training end to end."""

from __future__ import annotations

import pytest
import torch
from training_support import arithmetic, tiny_model_dir, trainer_cfg

from pada.io import read_jsonl
from pada.models.loading import load_tokenizer
from pada.training.data import build_feature
from pada.training.flops import FlopModel, flop_model, mfu
from pada.training.train import build_model, fit


def _matmul_params(config) -> int:
    d, inter, layers, vocab = (
        config.hidden_size,
        config.intermediate_size,
        config.num_hidden_layers,
        config.vocab_size,
    )
    norms = layers * 2 * d + d
    return layers * (4 * d * d + 3 * d * inter) + norms + vocab * d  # + the (tied) LM head, not the embedding


def test_flop_model_counts_frozen_and_trained_weights():
    full = build_model(trainer_cfg("full"), tiny_model_dir(), None)
    lora = build_model(trainer_cfg("lora"), tiny_model_dir(), None)
    n = _matmul_params(full.config)
    assert flop_model(full) == FlopModel(frozen=0, trained=n, layers=2, hidden=64)
    lora_params = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    assert flop_model(lora) == FlopModel(frozen=n, trained=lora_params, layers=2, hidden=64)
    lens = torch.tensor([10, 30])
    assert flop_model(full).batch_flops(lens) == 6 * n * 40 + 12 * 2 * 64 * (100 + 900)
    assert flop_model(lora).batch_flops(lens) == (4 * n + 6 * lora_params) * 40 + 12 * 2 * 64 * 1000


def test_mfu_needs_a_peak():
    assert mfu(1e12, 2.0, None) is None
    assert mfu(1e12, 2.0, 1e12) == 0.5


def test_every_batch_logs_loss_lr_throughput_and_mfu(tmp_path):
    sent: list[dict] = []
    cfg = trainer_cfg("lora", lr=1e-2, max_steps=3, peak_flops=1e12, batching="packed", max_seq_len=128)
    summary = fit(cfg, tiny_model_dir(), arithmetic(), tmp_path, seed=0, log=sent.append)
    rows = list(read_jsonl(tmp_path / "loss_curve.jsonl"))
    assert len(sent) == len(rows) == 6  # 3 steps x accumulation 2
    assert set(sent[0]) == {
        f"train/{k}" for k in ("batch", "step", "epoch", "loss", "lr", "tokens", "tokens_per_s", "mfu")
    }
    for row, metrics in zip(rows, sent, strict=True):
        assert metrics["train/loss"] == row["loss"] and row["tokens_per_s"] > 0
        assert 0 < row["mfu"] < 1
    tokenizer = load_tokenizer(tiny_model_dir())
    lengths = [len(build_feature(tokenizer, ex, 128).input_ids) for ex in arithmetic()]
    assert summary["batches_per_epoch"] == 2  # 24 examples packed into rows of 128 tokens, 4 rows a batch
    assert sum(r["tokens"] for r in rows[:2]) == sum(lengths)  # one epoch = every real token once
    assert summary["mfu"] == pytest.approx(sum(r["mfu"] for r in rows) / 6)


def test_no_peak_no_mfu(tmp_path):
    sent: list[dict] = []
    fit(
        trainer_cfg("full", lr=1e-3, max_steps=1),
        tiny_model_dir(),
        arithmetic(8),
        tmp_path,
        0,
        log=sent.append,
    )
    assert sent and all("train/mfu" not in m for m in sent)
