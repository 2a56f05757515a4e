"""A cell that augmented but added no synthetic example is flagged in every table (issue 18)."""

import sys
from pathlib import Path

import numpy as np

from analysis import render, tables
from analysis.collect import collect_runs
from pada.io import read_json, write_json

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import make_tree  # noqa: E402


def _no_synthetic(cell: Path) -> None:
    results = read_json(cell / "results.json")
    results["timings"] = {"augment_0": {"seconds": 1.0, "cached": False}}
    results["data"]["synthetic"] = 0
    write_json(cell / "results.json", results)


def test_zero_synthetic_cells_are_flagged_in_table2_and_the_ablation(tmp_path):
    root = make_tree(tmp_path, methods=("sft", "auggpt", "pada", "pada_no_qc"))
    for name in ("gsm8k-b64-auggpt-s1-*", "gsm8k-b64-pada_no_qc-s0-*"):
        _no_synthetic(next(root.glob(name)))
    collected = collect_runs(root)
    table2 = tables.table2(collected, np.random.default_rng(0), 200)
    ablation = tables.ablation(collected, np.random.default_rng(0), 200)
    assert table2.notes[table2.cells[("auggpt", "gsm8k b64")].notes[0]] == (
        "AugGPT, gsm8k b64: seed(s) 1 added zero synthetic examples (trained on the seed set only)"
    )
    assert "added zero synthetic" in render.to_markdown(ablation)
    flagged = [
        key
        for table in (table2, ablation)
        for key, cell in table.cells.items()
        if any("zero synthetic" in table.notes[n] for n in cell.notes)
    ]
    assert sorted(flagged) == [("auggpt", "gsm8k b64"), ("pada_no_qc", "gsm8k b64")]
