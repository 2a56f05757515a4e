"""experiments/letter_prior.py: a finished SFT cell's seed letters, test answers and recall per letter."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script


def _rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_one_cells_letters_recall_and_accuracy(tmp_path):
    cell = tmp_path / "arc_challenge-b16-sft-s17-abc"
    _rows(cell / "seed" / "seed.jsonl", [{"answer": a} for a in "BBAC"])
    answers, gold = ["B", "B", None, "A"], ["B", "A", "C", "A"]
    rows = [{"extracted": x, "gold": g, "correct": x == g} for x, g in zip(answers, gold, strict=True)]
    _rows(cell / "test" / "test.jsonl", rows)
    row = load_script("experiments/letter_prior.py").letters(cell)
    assert row["seed_letters"] == {"A": 1, "B": 2, "C": 1}
    assert row["test_answers"] == {"A": 1, "B": 2, "None": 1} and row["accuracy"] == 50.0
    # recalls A 1/2, B 1/1, C 0/1: mean 0.5, population sd sqrt(1/6) = 40.8 points
    assert row["recall"] == "A 1/2, B 1/1, C 0/1 (RStd 40.8 points)" and row["rstd"] == 40.8
