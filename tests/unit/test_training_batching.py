"""Batch plans: seeded, every example once per epoch, resumable; length grouping and packing cut padding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from training_support import CONF, arithmetic, tiny_model_dir

from pada.models.loading import load_tokenizer
from pada.tasks.base import build_task
from pada.training.batching import BatchPlan, pack_rows
from pada.training.data import PlannedBatches, build_feature, padding_fraction

LENGTHS = [5, 40, 7, 33, 12, 28, 9, 50, 3, 21, 18, 44, 6, 37, 15, 25, 11, 48, 8, 30]


def _flat(batches) -> list[int]:
    return sorted(i for batch in batches for row in batch for i in row)


@pytest.mark.parametrize("strategy", ["random", "length_grouped", "packed"])
def test_every_example_once_per_epoch_and_seeded(strategy):
    plan = BatchPlan(LENGTHS, 4, seed=7, strategy=strategy, megabatch=2, capacity=64)
    for epoch in range(3):
        assert _flat(plan.batches(epoch)) == list(range(len(LENGTHS)))
        assert len(plan.batches(epoch)) == len(plan)  # Lightning sizes the epoch once
    assert plan.batches(0) == BatchPlan(LENGTHS, 4, 7, strategy, 2, 64).batches(0)
    assert plan.batches(0) != plan.batches(1)
    assert plan.batches(0) != BatchPlan(LENGTHS, 4, 8, strategy, 2, 64).batches(0)


def test_length_grouping_sorts_within_megabatches():
    plan = BatchPlan(LENGTHS, 4, seed=0, strategy="length_grouped", megabatch=2, capacity=64)
    for batch in plan.batches(0):
        lengths = [LENGTHS[row[0]] for row in batch]
        assert lengths == sorted(lengths, reverse=True)
    width = sum(max(LENGTHS[r[0]] for r in b) * len(b) for b in plan.batches(0))
    random = BatchPlan(LENGTHS, 4, seed=0, strategy="random", megabatch=2, capacity=64)
    assert width < sum(max(LENGTHS[r[0]] for r in b) * len(b) for b in random.batches(0))


def test_pack_rows_first_fit_decreasing():
    rows = pack_rows(LENGTHS, capacity=64)
    assert all(sum(LENGTHS[i] for i in row) <= 64 for row in rows)
    assert sorted(i for row in rows for i in row) == list(range(len(LENGTHS)))
    assert len(rows) == 8  # sum 450 / 64 -> at least 8 rows: first-fit decreasing is optimal here
    assert rows[0][0] == 7  # the longest example opens the first row


def test_resume_skips_trained_batches_once():
    plan = BatchPlan(LENGTHS, 4, seed=1, strategy="length_grouped", megabatch=2, capacity=64)
    plan.skip = (1, 2)
    plan.set_epoch(1)
    assert list(plan) == plan.batches(1)[2:]
    assert list(plan) == plan.batches(1)  # the skip applies to the resumed epoch only


def test_padding_fraction_on_synthetic_chat_data():
    tokenizer = load_tokenizer(tiny_model_dir())
    features = [build_feature(tokenizer, ex, 512) for ex in arithmetic(48)]
    fractions = {}
    for strategy in ("random", "length_grouped", "packed"):
        plan = BatchPlan([len(f.input_ids) for f in features], 4, 0, strategy, 4, capacity=128)
        data = PlannedBatches(features, tokenizer.pad_token_id, packed=strategy == "packed")
        fractions[strategy] = padding_fraction([data[b] for b in plan.batches(0)])
    print("synthetic padding fraction", {k: round(v, 4) for k, v in fractions.items()})
    assert fractions["length_grouped"] < fractions["random"]
    assert fractions["packed"] < fractions["random"]


@pytest.mark.data
def test_padding_fraction_on_gsm8k():
    """GSM8K train (tiny tokenizer), batch 8: the numbers quoted in docs/training.md."""
    data_dir = os.environ.get("PADA_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "gsm8k" / "train.jsonl").is_file():
        pytest.skip("set PADA_DATA_DIR to the benchmark files")
    task = build_task(OmegaConf.load(CONF / "task" / "gsm8k.yaml"))
    pool = task.load(Path(data_dir)).pool[:1000]
    tokenizer = load_tokenizer(tiny_model_dir())
    features = [build_feature(tokenizer, ex, 1024) for ex in pool]
    fractions = {}
    for strategy in ("random", "length_grouped", "packed"):
        plan = BatchPlan([len(f.input_ids) for f in features], 8, 0, strategy, 8, capacity=1024)
        data = PlannedBatches(features, tokenizer.pad_token_id, packed=strategy == "packed")
        fractions[strategy] = padding_fraction([data[b] for b in plan.batches(0)])
    print("padding fraction", {k: round(v, 4) for k, v in fractions.items()})
    assert {k: round(v, 4) for k, v in fractions.items()} == {
        "random": 0.3615,
        "length_grouped": 0.0972,
        "packed": 0.0229,
    }
