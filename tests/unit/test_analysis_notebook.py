"""analysis/notebooks/table2.ipynb executes on the fixture tree and reproduces `pada analyze`'s table."""

import os
import sys
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient

from analysis import render, tables
from analysis.collect import collect_runs

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import make_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "analysis" / "notebooks" / "table2.ipynb"


def test_notebook_executes_on_fixture_tree(tmp_path, monkeypatch):
    runs = make_tree(tmp_path / "runs", methods=("sft", "llm2llm", "pada", "pada_no_qc"))
    monkeypatch.setenv("PADA_RUNS_DIR", str(runs))
    monkeypatch.setenv("PADA_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PADA_RESAMPLES", "300")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    table_md = "".join(o.get("data", {}).get("text/markdown", "") for o in nb.cells[5].outputs)
    expected = render.to_markdown(tables.table2(collect_runs(runs), np.random.default_rng(0), 300))
    assert table_md == expected and "SIMULATION" in table_md
    assert (tmp_path / "out" / "plots" / "accuracy_vs_budget_gsm8k.pdf").is_file()
    images = [o for c in nb.cells[-1:] for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == len(list((tmp_path / "out" / "plots").glob("*.png")))
