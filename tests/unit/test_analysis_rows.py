"""Table 2's and the ablation table's rows come from each method's ``display`` node (label, role, parent,
order), saved with every cell's config: a new method, a relabelled one, another "ours" or a new ablation
needs no code edit, a method without a display is shown by its name, and a label is not part of the cell
identity (relabelling reruns nothing)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config

from analysis import render, rows, tables
from analysis.collect import collect_runs
from pada.cli import main
from pada.errors import PadaError
from pada.io import read_json, write_json
from pada.run.naming import cell_name
from pada.run.runner import run_cell

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import make_tree  # noqa: E402


def _rename(root: Path, method: str, new: str, display: dict | None) -> None:
    """The fixture cells of ``method`` become cells of ``new`` that saved ``display`` in their config."""
    for cell in sorted(root.glob(f"*-{method}-s*")):
        moved = cell.with_name(cell.name.replace(f"-{method}-", f"-{new}-"))
        shutil.move(cell, moved)
        if not (moved / "results.json").is_file():
            continue
        results = read_json(moved / "results.json")
        results["cell"].update(method=new, name=moved.name)
        method_cfg = {"name": new, **({"display": display} if display is not None else {})}
        results["provenance"] = {**results["provenance"], "config": {"method": method_cfg}}
        write_json(moved / "results.json", results)


def _tables(root: Path):
    collected = collect_runs(root)
    return tables.table2(collected, np.random.default_rng(0), 200), tables.ablation(
        collected, np.random.default_rng(0), 200
    )


def test_a_new_method_is_a_row_placed_and_labelled_by_its_saved_display(tmp_path):
    root = make_tree(tmp_path, methods=("sft", "pada", "pada_no_qc"))
    _rename(root, "pada_no_qc", "mine", {"label": "My method", "role": "baseline", "order": 25})
    table2, ablation = _tables(root)
    assert table2.rows[:2] == ["sft", "mine"] and table2.rows[-4] == "pada"  # order 25: after SFT
    assert "| My method " in render.to_markdown(table2) and ablation is None
    assert "mine" in set(table2.comparisons["baseline"])  # a baseline: part of PaDA-Agent's † claim


def test_ours_and_its_baselines_come_from_the_same_config(tmp_path):
    root = make_tree(tmp_path, methods=("sft", "llm2llm", "pada"))
    _rename(root, "pada", "hero", {"label": "Hero", "role": "ours"})
    table2, _ = _tables(root)
    assert table2.rows[-4:] == ["hero", tables.REL_ROW, tables.DELTA_ROW, tables.MDE_ROW]
    assert "pada" not in table2.rows
    assert set(table2.comparisons["method"]) == {"hero"}
    assert set(table2.comparisons["baseline"]) == {"sft", "llm2llm"}  # the baselines that ran
    assert "† Hero beats every baseline" in table2.caption and "Δ: Hero minus" in table2.caption


def test_an_ablation_is_compared_with_its_parent_not_in_table2(tmp_path):
    root = make_tree(tmp_path, methods=("sft", "pada", "pada_no_qc"))
    _rename(root, "pada_no_qc", "pada_lite", {"label": "PaDA lite", "role": "ablation", "parent": "pada"})
    table2, ablation = _tables(root)
    assert "pada_lite" not in table2.rows and ablation.rows == ["pada", "pada_lite"]
    assert "| PaDA lite " in render.to_markdown(ablation)


def test_a_method_without_a_display_is_shown_by_its_name(tmp_path):
    root = make_tree(tmp_path, methods=("sft", "pada", "pada_no_qc"))
    _rename(root, "pada_no_qc", "mystery", None)
    table2, _ = _tables(root)
    assert table2.rows.index("mystery") == table2.rows.index(
        "pada"
    ) - 1 and "| mystery " in render.to_markdown(table2)


def test_two_ours_in_the_runs_is_one_error_line(tmp_path, capsys):
    root = make_tree(tmp_path, methods=("sft", "pada", "pada_no_qc"))
    _rename(root, "pada_no_qc", "hero", {"label": "Hero", "role": "ours"})
    with pytest.raises(PadaError, match=r"display.role=ours on several methods \(hero, pada\)"):
        _tables(root)
    assert main(["analyze", str(root), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_every_shipped_method_has_a_display_and_one_is_ours():
    shipped = rows.shipped()
    names = {p.stem for p in rows.CONF_METHODS.glob("*.yaml")}
    assert set(shipped) == names
    assert [n for n, d in shipped.items() if d.role == "ours"] == ["pada"]
    assert all(d.parent == "pada" for d in shipped.values() if d.role == "ablation")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method.display.role=hero", "method.display.role='hero' (method sft); choose one of: ours"),
        ("+method.display.lable=x", "unknown config key 'method.display.lable' (method sft); did you mean"),
        ("method.display.role=ablation", "display.role=ablation needs display.parent"),
    ],
)
def test_a_bad_display_fails_at_run_time_in_one_line(override, message, tiny_cell_overrides, capsys):
    with pytest.raises(SystemExit) as stopped:  # raised inside the Hydra app, before any stage
        main(["run", *tiny_cell_overrides, "method=sft", override])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_label_is_not_identity_and_relabelling_reruns_nothing(tiny_cell_overrides):
    cfg = compose_config([*tiny_cell_overrides, "method=sft"])
    relabelled = compose_config([*tiny_cell_overrides, "method=sft", "method.display.label=Plain SFT"])
    assert cell_name(cfg) == cell_name(relabelled)
    first, again = run_cell(cfg), run_cell(relabelled)
    assert first["cell"]["name"] == again["cell"]["name"]
    assert all(t["cached"] for t in again["timings"].values()), again["timings"]
    assert first["metrics"] == again["metrics"]


def test_an_untrained_method_run_once_pairs_with_every_seed_from_its_config(tmp_path):
    root = make_tree(tmp_path, methods=("base", "pada"))
    for cell in root.glob("*-base-s[12]-*"):
        shutil.rmtree(cell)
    _rename(root, "base", "zero_shot", {"label": "Zero-shot", "role": "baseline"})
    for path in root.glob("*-zero_shot-*/results.json"):  # its YAML said train: false, as method=base
        results = read_json(path)
        results["provenance"]["config"]["method"]["train"] = False
        write_json(path, results)
    collected = collect_runs(root)
    assert collected.untrained == {"zero_shot"}
    table2, _ = _tables(root)
    row = table2.comparisons[(table2.comparisons["baseline"] == "zero_shot")].iloc[0]
    assert row["n_seeds"] == 3  # not 1: the one untrained run is paired with each of PaDA's seeds
