"""experiments/compare_runs.py: two runs of the same cells, matched by (method, seed), and two teacher caches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import load_script


def _script():
    return load_script("experiments/compare_runs.py")


def _cell(runs: Path, name: str, accuracy: float, extracted: list[str], synthetic: str) -> None:
    cell = runs / name
    (cell / "test").mkdir(parents=True)
    (cell / "augment_0").mkdir()
    results = {
        "cell": {"method": "pada", "seed": 0},
        "metrics": {"test": {"accuracy": accuracy}},
        "teacher_usage": {"total": {"calls": 7}},
    }
    (cell / "results.json").write_text(json.dumps(results))
    rows = [{"item_id": f"i{i}", "extracted": x} for i, x in enumerate(extracted)]
    (cell / "test" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (cell / "augment_0" / "new.jsonl").write_text(synthetic)


def _cache(path: Path, answers: dict[str, str]) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE completions (key TEXT PRIMARY KEY, text TEXT)")
    db.executemany("INSERT INTO completions VALUES (?, ?)", answers.items())
    db.commit()
    return path


def test_cells_match_by_method_and_seed_not_by_directory_name(tmp_path):
    compare = _script()
    _cell(tmp_path / "a", "cell-1", 0.5, ["A", "B", "C"], '{"q": 1}\n')
    _cell(tmp_path / "b", "cell-2", 0.25, ["A", "D", "C"], '{"q": 2}\n')
    a, b = compare.cells(tmp_path / "a"), compare.cells(tmp_path / "b")
    assert list(a) == list(b) == [("pada", 0)]
    row = compare.compare_cell(a[("pada", 0)], b[("pada", 0)])
    assert row == "| 50.0 / 25.0 | 1 of 3 | differ | 7 / 7 |"


def test_only_requests_both_runs_sent_are_compared(tmp_path):
    compare = _script()
    one = _cache(tmp_path / "a.sqlite", {"k1": "x", "k2": "y", "k3": "only in A"})
    two = _cache(tmp_path / "b.sqlite", {"k1": "x", "k2": "z", "k4": "only in B"})
    assert compare.compare_caches(one, two) == (
        "teacher requests: 3 in A, 3 in B, 2 sent by both; 1 of those 2 answered differently"
    )
