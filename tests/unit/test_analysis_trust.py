"""What the tables may claim: configurations are never pooled as seeds, † needs every baseline beaten, the
paired t's degenerate case, cost without the cache, and every left-out cell listed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import columns, report, stats, tables
from analysis.collect import CELL_COLUMNS, ITEM_COLUMNS, Collected, collect_runs
from pada.errors import PadaError
from pada.io import write_json, write_jsonl

N_ITEMS = 200
COL = "t b8"


def _collected(correct: dict[str, list[int]], usage: dict[str, dict] | None = None) -> Collected:
    """One column (task t, budget 8): ``correct[method][s]`` = how many of the first items seed s gets right."""
    cells, items = [], []
    for method, per_seed in correct.items():
        for seed, k in enumerate(per_seed):
            base = {"task": "t", "budget": 8, "method": method, "seed": seed}
            cell = f"t-b8-{method}-s{seed}-000000000{seed}"
            cells.append(
                {
                    **base,
                    "cell": cell,
                    "metric": "test/accuracy",
                    "value": k / N_ITEMS,
                    "n": N_ITEMS,
                    "status": "ok",
                    "reason": "",
                    "simulation": True,
                    "fixture": True,
                    "config": None,
                }
            )
            for metric, value in (usage or {}).get(method, {}).items():
                cells.append({**cells[-1], "metric": metric, "value": value, "n": None})
            items += [{**base, "split": "test", "item_id": f"q{i}", "correct": i < k} for i in range(N_ITEMS)]
    return Collected(
        cells=pd.DataFrame(cells, columns=CELL_COLUMNS), items=pd.DataFrame(items, columns=ITEM_COLUMNS)
    )


def test_no_dagger_when_pada_does_not_beat_the_runner_up():
    best = [100, 101, 102, 103, 104]  # llm2llm: the highest mean, PaDA beats it on every seed by ~10 points
    pada = [b + extra for b, extra in zip(best, [16, 20, 24, 18, 22], strict=True)]
    runner_up = [60, 144, 66, 140, 88]  # auggpt: a lower mean, but PaDA loses to it on two seeds
    collected = _collected({"pada": pada, "llm2llm": best, "auggpt": runner_up})
    table = tables.table2(collected, np.random.default_rng(0), 2000)
    assert not table.cells[("pada", COL)].marker
    by_baseline = table.comparisons.set_index("baseline")
    assert by_baseline.loc["llm2llm", "p_combined"] < 0.01  # the best baseline alone would give †
    assert by_baseline.loc["auggpt", "p_combined"] > 0.2
    assert by_baseline.loc["auggpt", "p_claim"] == by_baseline.loc["auggpt", "p_combined"]  # the largest p


def test_dagger_when_pada_beats_every_baseline():
    best = [100, 101, 102, 103, 104]
    pada = [b + extra for b, extra in zip(best, [16, 20, 24, 18, 22], strict=True)]
    collected = _collected({"pada": pada, "llm2llm": best, "auggpt": [90, 92, 91, 95, 93]})
    table = tables.table2(collected, np.random.default_rng(0), 2000)
    assert table.cells[("pada", COL)].marker
    assert table.comparisons["p_claim_holm"].iloc[0] == pytest.approx(table.comparisons["p_claim"].iloc[0])


def test_one_seed_makes_no_claim():
    """A 25-point lead on one seed: the item-level bootstrap rejects, but seed noise is unobserved: no †."""
    table = tables.table2(_collected({"pada": [150], "sft": [100]}), np.random.default_rng(0), 500)
    row = table.comparisons.iloc[0]
    assert row["n_seeds"] == 1 and row["p_bootstrap"] < 0.05
    assert row["p_combined"] == 1.0 and not table.cells[("pada", COL)].marker


def test_identical_per_seed_differences_make_the_paired_t_undefined():
    a, b = np.array([0.5, 0.6, 0.7]), np.array([0.4, 0.5, 0.6])  # +0.1 on every seed (up to float noise)
    t, p = stats.paired_t(a, b)
    assert math.isnan(t) and math.isnan(p)  # not p ≈ 1e-32 from a float-noise variance
    assert stats.t_degenerate(a, b)
    collected = _collected({"pada": [110, 120, 130], "sft": [100, 110, 120]})
    row = tables.table2(collected, np.random.default_rng(0), 500).comparisons.iloc[0]
    assert row["t_degenerate"] and math.isnan(row["paired_t_p"]) and row["p_combined"] == row["p_bootstrap"]


def test_cost_column_uses_the_uncached_figure_and_marks_the_fallback():
    usage = {
        "pada": {"teacher/dollars": 0.10, "teacher/dollars_uncached": 0.50},
        "auggpt": {"teacher/dollars": 0.2},
        "sft": {"teacher/dollars": 0.0},  # every finished cell records a spend (0 without a teacher)
    }
    collected = _collected({"pada": [120, 121], "auggpt": [100, 101], "sft": [90, 91]}, usage)
    costs = columns.costs(collected, ["pada", "auggpt", "sft", "base"])
    assert costs == {"pada": "$0.50", "auggpt": "$0.20*", "sft": "$0.00", "base": "—"}


def _cell(root, name: str, seed: int, max_steps: int, accuracy_items: int) -> None:
    config = {
        "task": {"name": "gsm8k"},
        "budget": 16,
        "seed": seed,
        "method": {"name": "sft"},
        "trainer": {"max_steps": max_steps},
        "paths": {"runs_dir": str(root)},
    }
    cell = root / name
    records = [{"item_id": f"q{i}", "correct": i < accuracy_items} for i in range(10)]
    write_jsonl(cell / "test" / "test.jsonl", records)
    write_json(
        cell / "results.json",
        {
            "cell": {"task": "gsm8k", "budget": 16, "method": "sft", "seed": seed, "name": name},
            "metrics": {"test": {"accuracy": accuracy_items / 10, "n": 10}},
            "versions": {"task": "1.0", "method": "1.0"},
            "provenance": {"config": config, "data_files_sha256": {"gsm8k/test.jsonl": "ab" * 32}},
        },
    )


def test_two_configurations_of_one_seed_are_not_pooled(tmp_path):
    _cell(tmp_path, "gsm8k-b16-sft-s0-aaaaaaaaaa", 0, 4, 3)
    _cell(tmp_path, "gsm8k-b16-sft-s0-bbbbbbbbbb", 0, 5, 6)
    _cell(tmp_path, "gsm8k-b16-sft-s1-cccccccccc", 1, 5, 7)
    collected = collect_runs(tmp_path)
    summary = tables.summarize(collected).set_index("method")
    assert summary["n_seeds"].to_dict() == {"sft [trainer.max_steps=4]": 1, "sft [trainer.max_steps=5]": 2}
    table = tables.table2(collected, np.random.default_rng(0), 200)
    assert "sft [trainer.max_steps=4]" in table.rows and "sft [trainer.max_steps=5]" in table.rows
    assert "sft" not in table.rows
    assert tables.row_label("sft [trainer.max_steps=4]") == "SFT [trainer.max_steps=4]"


def test_a_seed_twice_in_one_configuration_is_an_error(tmp_path):
    _cell(tmp_path, "gsm8k-b16-sft-s0-aaaaaaaaaa", 0, 5, 3)
    _cell(tmp_path, "gsm8k-b16-sft-s0-bbbbbbbbbb", 0, 5, 6)  # a copy under another name
    with pytest.raises(
        PadaError, match="seed 0 appears twice .* gsm8k-b16-sft-s0-aaaaaaaaaa and gsm8k-b16-sft-s0-bbbbbbbbbb"
    ):
        collect_runs(tmp_path)


def test_analyze_lists_every_left_out_cell(tmp_path, capsys):
    runs = tmp_path / "runs"
    _cell(runs, "gsm8k-b16-sft-s0-aaaaaaaaaa", 0, 5, 3)
    (runs / "gsm8k-b16-sft-s1-dddddddddd" / ".train_0.partial-x1y2").mkdir(parents=True)
    _cell(runs, "gsm8k-b16-sft-s2-eeeeeeeeee", 2, 5, 3)
    (runs / "gsm8k-b16-sft-s2-eeeeeeeeee" / "results.json").write_text("{not json")
    report.analyze(runs, tmp_path / "out", n_resamples=200, with_plots=False)
    lines = (tmp_path / "out" / "left_out.txt").read_text().splitlines()
    assert lines == [
        "gsm8k-b16-sft-s1-dddddddddd: incomplete: no results.json; stage train_0 did not finish; no stage finished",
        lines[1],
    ] and lines[1].startswith("gsm8k-b16-sft-s2-eeeeeeeeee: failed: unreadable results.json")
    assert capsys.readouterr().out.count("left out: ") == 2


def test_relative_improvement_over_a_zero_baseline_is_not_a_number():
    table = tables.table2(_collected({"pada": [10, 12], "sft": [0, 0]}), np.random.default_rng(0), 200)
    assert table.cells[(tables.REL_ROW, COL)].text == "n/a (best baseline 0%)"  # was '+nan%'
