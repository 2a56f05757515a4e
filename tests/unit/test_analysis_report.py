"""`pada analyze` end to end on the fixture tree, its errors, and the plots."""

import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis import plots
from analysis.collect import collect_runs
from analysis.report import analyze
from pada.cli import main

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import make_tree  # noqa: E402

METHODS = ("sft", "llm2llm", "pada", "pada_no_qc")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("runs"), methods=METHODS)


def test_pada_analyze_writes_every_output(tree, tmp_path, capsys):
    assert main(["analyze", str(tree), "--out", str(tmp_path), "--resamples", "500", "--seed", "3"]) == 0
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    tables = {
        f"{t}{s}" for t in ("table2", "ablation") for s in (".md", ".tex", ".csv", ".txt", "_comparisons.csv")
    }
    assert tables | {f"data/{n}.parquet" for n in ("cells", "items", "iterations", "patterns")} <= names
    assert {
        "plots/accuracy_vs_budget_gsm8k.png",
        "plots/accuracy_vs_budget_gsm8k.pdf",
        "plots/iterations_gsm8k_b64.pdf",
        "plots/patterns_gsm8k_b64_pada.png",
    } <= names
    assert not any(n.endswith(".tmp") for n in names)
    comparisons = pd.read_csv(tmp_path / "table2_comparisons.csv")
    assert set(comparisons["baseline"]) == {"sft", "llm2llm"} and set(comparisons["n_resamples"]) == {500}
    out = capsys.readouterr().out
    # the main table on screen, plain (no Markdown markup), then where everything is
    assert (tmp_path / "table2.txt").read_text().rstrip() in out and "<ins>" not in out and "**" not in out
    assert "| PaDA-Agent" not in out and re.search(r"^PaDA-Agent +\d", out, re.M)
    assert f"written under {tmp_path}/: table2.{{md,tex,csv,txt}}, table2_comparisons.csv" in out
    assert "  and plots/ (" in out and "data/ (4 files: parquet)" in out


def test_analyze_is_deterministic_for_a_seed(tree, tmp_path):
    for out in ("a", "b"):
        analyze(tree, tmp_path / out, n_resamples=300, with_plots=False)
    assert (tmp_path / "a/table2.tex").read_text() == (tmp_path / "b/table2.tex").read_text()
    assert (tmp_path / "a/table2_comparisons.csv").read_text() == (
        tmp_path / "b/table2_comparisons.csv"
    ).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["analyze", "/nonexistent/runs", "--out", "x"],
            "pada: error: runs dir /nonexistent/runs does not exist",
        ),
        (["analyze", "--out", "x"], "pada: error: nothing to analyze: pass a runs dir or --wandb-project"),
        (["analyze", "RUNS", "--out", "x", "--resamples", "10"], "pada: error: --resamples 10 is too few"),
    ],
)
def test_analyze_errors_are_one_line(args, message, tree, tmp_path, capsys):
    args = [str(tree) if a == "RUNS" else str(tmp_path / a) if a == "x" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_plots_carry_the_label_and_skip_missing_patterns(tmp_path, monkeypatch):
    collected = collect_runs(make_tree(tmp_path / "runs", methods=("sft",)))
    titles = []
    monkeypatch.setattr(
        plots,
        "_save",
        lambda fig, out, stem: titles.append(fig.axes[0].get_title()) or plt.close(fig) or [stem],
    )
    assert plots.all_plots(collected, tmp_path / "plots") == [
        "accuracy_vs_budget_arc_challenge",
        "accuracy_vs_budget_gsm8k",
        "iterations_arc_challenge_b64",
        "iterations_gsm8k_b64",
        "iterations_gsm8k_b128",
    ]
    assert titles[0] == "SIMULATION FIXTURE arc_challenge: mean ± std (ddof=1) over seeds"
