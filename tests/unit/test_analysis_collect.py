"""collect: a runs tree (and a fake wandb API) into tidy tables; unfinished cells are kept and explained."""

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.collect import collect_runs, parse_cell_dir, teacher_dollars
from analysis.wandb_source import collect_wandb
from pada.errors import PadaError
from pada.io import write_json

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from analysis_tree import N_TEST, SEEDS, make_tree  # noqa: E402


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    return collect_runs(make_tree(tmp_path_factory.mktemp("runs"), methods=("sft", "llm2llm", "pada")))


def test_parse_cell_dir_names():
    assert parse_cell_dir("gsm8k-b64-sft-s0-5cdbe96762") == {
        "task": "gsm8k",
        "budget": 64,
        "method": "sft",
        "seed": 0,
    }
    assert parse_cell_dir("arc-easy-b128-pada_no_qc-s12-0123456789")["task"] == "arc-easy"
    assert parse_cell_dir("multirun.yaml") is None and parse_cell_dir("gsm8k-b64-sft-s0-XYZ") is None


def test_cells_are_tidy_with_every_cell_present(collected):
    acc = collected.cells[collected.cells["metric"] == "test/accuracy"]
    assert len(acc) == 3 * 3 * len(SEEDS)  # columns × methods × seeds: the failed cell is not dropped
    assert set(collected.cells["metric"]) == {
        "test/accuracy",
        "val/accuracy",
        "teacher/dollars",
        "lm_eval/gsm8k/exact_match,strict-match",
    }
    assert (acc[acc["status"] == "ok"]["n"] == N_TEST).all()


def test_unfinished_cell_is_marked_with_reason(collected):
    bad = collected.cells[collected.cells["status"] != "ok"]
    assert bad[["task", "budget", "method", "seed", "status"]].values.tolist() == [
        ["gsm8k", 64, "llm2llm", 2, "incomplete"]
    ]
    assert math.isnan(bad["value"].iloc[0])
    assert bad["reason"].iloc[0] == (
        "no results.json; stage eval_0 did not finish; last finished stage train_0"
    )


def test_items_match_the_accuracy_in_results(collected):
    acc = collected.cells[
        (collected.cells["metric"] == "test/accuracy") & (collected.cells["status"] == "ok")
    ]
    per_cell = collected.items.groupby(["task", "budget", "method", "seed"])["correct"].mean()
    joined = acc.set_index(["task", "budget", "method", "seed"])["value"]
    assert per_cell.reindex(joined.index).tolist() == pytest.approx(joined.tolist())
    assert set(collected.items["split"]) == {"test"}


def test_iterations_and_patterns(collected):
    pada = collected.iterations[
        (collected.iterations["method"] == "pada") & (collected.iterations["seed"] == 0)
    ]
    assert pada.groupby(["task", "budget"]).size().tolist() == [3, 3, 3]
    assert set(collected.patterns["method"]) == {"pada"}
    assert set(collected.patterns["pattern"]) == {"arithmetic slip", "misread question"}
    assert collected.patterns["accuracy"].between(0, 1).all()


def test_flags_and_parquet_round_trip(collected, tmp_path):
    assert collected.simulation and collected.fixture
    collected.save(tmp_path)
    back = pd.read_parquet(tmp_path / "items.parquet")
    assert len(back) == len(collected.items) and back["correct"].dtype == bool
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cells.parquet",
        "items.parquet",
        "iterations.parquet",
        "patterns.parquet",
    ]


def test_unreadable_results_is_failed(tmp_path):
    cell = tmp_path / "gsm8k-b64-sft-s0-0123456789"
    cell.mkdir()
    (cell / "results.json").write_text("{not json")
    row = collect_runs(tmp_path).cells.iloc[0]
    assert row["status"] == "failed" and row["reason"].startswith("unreadable results.json")


def test_unplaceable_results_are_reported(tmp_path, caplog):
    make_tree(tmp_path, methods=("sft",))
    write_json(tmp_path / "renamed-cell" / "results.json", {})
    collect_runs(tmp_path)
    assert "skipping" in caplog.text and "renamed-cell" in caplog.text


def test_missing_or_empty_runs_dir_is_one_error(tmp_path):
    with pytest.raises(PadaError, match="does not exist"):
        collect_runs(tmp_path / "nope")
    with pytest.raises(PadaError, match="no cell dirs"):
        collect_runs(tmp_path)


def test_teacher_dollars_total_or_sum():
    assert teacher_dollars({}) == 0.0
    assert teacher_dollars({"a": {"dollars": 0.5}, "b": {"dollars": 0.25}}) == 0.75
    assert teacher_dollars({"a": {"dollars": 0.5}, "total": {"dollars": 0.6}}) == 0.6


def test_real_results_json_shape(tmp_path):
    # The shape pada/run/runner.py writes (abridged from a smoke run): no lm_eval, empty teacher usage.
    cell = tmp_path / "gsm8k-b64-sft-s0-5cdbe96762"
    write_json(
        cell / "results.json",
        {
            "cell": {"budget": 64, "method": "sft", "name": cell.name, "seed": 0, "task": "gsm8k"},
            "metrics": {"test": {"accuracy": 0.25, "n": 64}, "val": {"accuracy": 0.0, "n": 32}},
            "iterations": [{"iteration": 0, "train_examples": 64, "val_accuracy": 0.0}],
            "simulation": False,
            "teacher_usage": {},
        },
    )
    got = collect_runs(tmp_path)
    assert got.cells.set_index("metric")["value"].to_dict() == {
        "test/accuracy": 0.25,
        "val/accuracy": 0.0,
        "teacher/dollars": 0.0,
    }
    assert not got.simulation and got.items.empty and len(got.iterations) == 1


class _FakeApi:
    """Stands in for wandb.Api: records the path asked for and returns run-like objects."""

    def __init__(self, runs):
        self._runs, self.asked = runs, []

    def runs(self, path):
        self.asked.append(path)
        return self._runs


def _run(name, state, acc, method="pada", seed=0):
    config = {"task": {"name": "gsm8k"}, "budget": 64, "method": {"name": method}, "seed": seed}
    return SimpleNamespace(
        name=name, state=state, config=config, summary={"test/accuracy": acc} if acc is not None else {}
    )


def test_wandb_source_through_the_api_boundary():
    api = _FakeApi(
        [
            _run("a", "finished", 0.5),
            _run("b", "crashed", None, seed=1),
            SimpleNamespace(name="x", state="finished", config={"other": 1}, summary={}),
        ]
    )
    got = collect_wandb("team/pada", api=api)
    assert api.asked == ["team/pada"]
    assert got.cells[["cell", "status", "value"]].fillna(-1).values.tolist() == [
        ["a", "ok", 0.5],
        ["b", "failed", -1],
    ]
    assert "crashed" in got.cells["reason"].iloc[1]


def test_wandb_source_errors_are_one_line():
    class Broken:
        def runs(self, path):
            raise ValueError("Could not find project")

    with pytest.raises(PadaError, match="cannot list wandb runs of 'team/x'"):
        collect_wandb("team/x", api=Broken())
    with pytest.raises(PadaError, match="has no pada cells"):
        collect_wandb("team/x", api=_FakeApi([]))


def test_pattern_accuracy_prefers_the_methods_own_score(tmp_path):
    cell = tmp_path / "gsm8k-b64-pada-s0-0123456789"
    write_json(cell / "results.json", {"metrics": {"test": {"accuracy": 0.5, "n": 2}}, "iterations": []})
    (cell / "eval_1").mkdir()
    (cell / "eval_1" / "val.jsonl").write_text(
        '{"item_id": "v/1", "correct": true}\n{"item_id": "v/2", "correct": false}\n'
    )
    write_json(
        cell / "augment_0" / "patterns.json",
        {
            "patterns": [
                {"name": "scored", "item_ids": ["v/1", "v/2"], "val_items": 3, "val_accuracy_after": 0.25},
                {"name": "unfound", "item_ids": ["v/9"], "val_items": 0, "val_accuracy_after": None},
                {"name": "older", "item_ids": ["v/1", "v/2"]},
            ]
        },
    )
    rows = collect_runs(tmp_path).patterns[["pattern", "n", "accuracy"]].to_dict("records")
    assert rows[0] == {"pattern": "scored", "n": 3, "accuracy": 0.25}  # not 0.5 from item_ids: the field wins
    assert rows[1]["pattern"] == "unfound" and math.isnan(rows[1]["accuracy"])
    assert rows[2] == {"pattern": "older", "n": 2, "accuracy": 0.5}  # older run dirs: scored from item_ids


def _cell_run(name, seed, acc, max_steps=5, task_version="1.0"):
    """A finished cell as the runner leaves it in wandb: the resolved config plus the cell's components."""
    run = _run(name, "finished", acc, method="sft", seed=seed)
    run.config = {
        **run.config,
        "trainer": {"max_steps": max_steps},
        "paths": {"runs_dir": f"/scratch/{name}"},  # where a cell ran is not what it is
        "cell_components": {"versions": {"task": task_version, "method": "1.0"}, "data": {"train": "ab12"}},
    }
    return run


def test_wandb_cells_are_grouped_by_configuration_as_the_local_analysis():
    """Two trainer settings of one method are two rows, never four seeds of one; a seed repeated within one
    configuration is an error, as for a runs dir."""
    runs = [
        _cell_run("sft-s0-a", 0, 0.5),
        _cell_run("sft-s1-a", 1, 0.6),
        _cell_run("sft-s0-b", 0, 0.1, max_steps=50),
        _cell_run("sft-s1-b", 1, 0.2, max_steps=50),
        _cell_run("sft-s2-c", 2, 0.3, task_version="2.0"),  # other code: never a seed of the others
    ]
    cells = collect_wandb("team/pada", api=_FakeApi(runs)).cells.set_index("cell")
    labels = cells["method"].to_dict()
    assert labels["sft-s0-a"] == labels["sft-s1-a"] != labels["sft-s0-b"] == labels["sft-s1-b"]
    assert "trainer.max_steps=5" in labels["sft-s0-a"] and "trainer.max_steps=50" in labels["sft-s0-b"]
    assert "versions.task=2.0" in labels["sft-s2-c"]
    assert cells["config"].nunique() == 3 and cells["config"].notna().all()
    with pytest.raises(PadaError, match="seed 0 appears twice in one configuration"):
        collect_wandb("team/pada", api=_FakeApi([*runs, _cell_run("sft-s0-again", 0, 0.9)]))


def test_a_wandb_run_without_its_components_is_grouped_by_its_config_alone():
    old = _cell_run("sft-s0-old", 0, 0.5)
    del old.config["cell_components"]  # logged before the runner recorded versions and data hashes
    cells = collect_wandb("team/pada", api=_FakeApi([old, _cell_run("sft-s1-new", 1, 0.6)])).cells
    assert cells["config"].nunique() == 2  # unknown versions are not pooled with known ones


def test_several_wandb_runs_of_one_resumed_cell_count_once():
    crashed = _cell_run("sft-s0-a", 0, None)
    crashed.state = "crashed"  # the first invocation of the cell, resumed by the second
    runs = [crashed, _cell_run("sft-s0-a", 0, 0.5), _cell_run("sft-s1-a", 1, 0.6)]
    cells = collect_wandb("team/pada", api=_FakeApi(runs)).cells
    assert sorted(cells["cell"]) == ["sft-s0-a", "sft-s1-a"] and cells["status"].eq("ok").all()
    with pytest.raises(PadaError, match="wandb runs of cell sft-s0-a report different test/accuracy"):
        collect_wandb("team/pada", api=_FakeApi([*runs, _cell_run("sft-s0-a", 0, 0.7)]))
