"""A stage's files read back (examples, evaluation records) and the accuracy of a list of records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pada.io import read_jsonl
from pada.types import EvalRecord, Example


def limited(examples: list[Example], limit: int | None) -> list[Example]:
    """The first ``limit`` examples (``task.limits.<split>``); all of them for None or 0."""
    return examples if limit in (None, 0) else examples[:limit]


def load_examples(path: Path) -> list[Example]:
    """The examples of a stage's JSONL file (seed.jsonl, val.jsonl, test.jsonl, new.jsonl)."""
    return [Example.from_dict(r) for r in read_jsonl(path)]


def load_records(path: Path) -> list[EvalRecord]:
    """The evaluation records of an eval stage's split file; [] when the stage did not score that split."""
    return [EvalRecord.from_dict(r) for r in read_jsonl(path)] if path.is_file() else []


def accuracy(records: list[EvalRecord]) -> dict[str, Any]:
    """Accuracy over ``n`` records and ``truncated``: the share of answers cut at max_new_tokens."""
    n = len(records)
    cut = sum(r.finish_reason == "length" for r in records)
    return {
        "accuracy": sum(r.correct for r in records) / n if n else None,
        "n": n,
        "truncated": cut / n if n else None,
    }
