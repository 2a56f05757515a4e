"""Each pattern's validation accuracy before and after the next iteration: scoring, files, runner hook."""

from __future__ import annotations

import sys
import types

import hook_probe_method
from conftest import compose_config

from pada.agent.report import SCORE_COLUMNS, TABLE_COLUMNS, complete_report, write_report
from pada.io import read_json, read_jsonl
from pada.run.results import pattern_totals
from pada.run.runner import run_cell
from pada.types import EvalRecord


def _records(correct: dict[str, bool]) -> list[EvalRecord]:
    return [EvalRecord(i, "p", "o", "x", "g", ok) for i, ok in correct.items()]


# v/1-v/4 are the failures of "carrying"; "ghost" was mined from items no longer in the validation set.
BEFORE = _records({"v/1": False, "v/2": False, "v/3": False, "v/4": False, "v/5": True, "v/6": True})
AFTER = _records({"v/1": True, "v/2": True, "v/3": True, "v/4": False, "v/5": True, "v/6": False})


def _report() -> dict:
    def row(name, ids):
        return {
            "name": name,
            "size": len(ids),
            "item_ids": ids,
            "representative_ids": ids[:1],
            "description": "d",
            "strategy": "s",
            "requested": 4,
            "generated": 4,
            "accepted": 3,
            "rejected": {"format": 1},
        }

    return {
        "iteration": 0,
        "failures": {"val": 4, "analysed": 4, "train": 1},
        "grouping": {"how": "single", "k": 2, "chosen_by": None},
        "patterns": [row("carrying", ["v/1", "v/2", "v/3", "v/4"]), row("ghost", ["w/9"])],
        "error_correction": {
            "name": "error_correction",
            "requested": 2,
            "generated": 2,
            "accepted": 2,
            "rejected": {},
        },
        "accepted": 8,
    }


def test_patterns_are_scored_before_and_after_exactly(tmp_path, monkeypatch):
    logged = {}
    fake = types.SimpleNamespace(
        Table=lambda columns, data: (columns, data), run=types.SimpleNamespace(log=logged.update)
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    write_report(tmp_path, _report())
    complete_report(tmp_path, BEFORE, AFTER)
    report = read_json(tmp_path / "patterns.json")
    carrying, ghost = report["patterns"]
    assert (carrying["val_items"], carrying["val_accuracy_before"], carrying["val_accuracy_after"]) == (
        4,
        0.0,
        0.75,
    )
    assert (ghost["val_items"], ghost["val_accuracy_before"], ghost["val_accuracy_after"]) == (0, None, None)
    assert report["val_set"] == {"val_items": 6, "val_accuracy_before": 2 / 6, "val_accuracy_after": 4 / 6}
    assert "val_accuracy_after" not in report["error_correction"]  # from training errors: nothing to score
    markdown = (tmp_path / "patterns.md").read_text()
    assert "| carrying | 4 | 4 | 3 | format 1 | 0.000 → 0.750 |" in markdown
    assert "| ghost | 1 | 4 | 3 | format 1 | - |" in markdown
    assert "| error_correction | - | 2 | 2 | - | - |" in markdown
    assert "0.333 → 0.667 over 6 items" in markdown
    assert logged["pada/patterns_0"] == (
        TABLE_COLUMNS + SCORE_COLUMNS,
        [
            [0, "carrying", 4, 4, 4, 3, "format=1", "s", 0.0, 0.75],
            [0, "ghost", 1, 4, 4, 3, "format=1", "s", None, None],
            [0, "error_correction", None, 2, 2, 2, "", "", None, None],
            [0, "(validation set)", 6, None, None, None, "", "", 2 / 6, 4 / 6],
        ],
    )


def test_scoring_twice_gives_byte_identical_files(tmp_path):
    write_report(tmp_path, _report())
    complete_report(tmp_path, BEFORE, AFTER)
    first = [(tmp_path / n).read_bytes() for n in ("patterns.json", "patterns.md")]
    complete_report(tmp_path, BEFORE, AFTER)
    assert [(tmp_path / n).read_bytes() for n in ("patterns.json", "patterns.md")] == first


def test_runner_calls_the_hook_after_each_next_eval_on_every_invocation(tiny_cell_overrides):
    overrides = [
        *tiny_cell_overrides,
        "method=base",
        "method.name=hook_probe",
        "method._target_=hook_probe_method.HookProbe",
        "method.loop.iterations=2",
    ]  # # base: no training, so three evaluations are the cost
    calls = hook_probe_method.CALLS
    calls.clear()
    results = run_cell(compose_config(overrides))
    run_dir = f"{compose_config(overrides).paths.runs_dir}/{results['cell']['name']}"
    val = [
        [(r["item_id"], r["correct"]) for r in read_jsonl(f"{run_dir}/eval_{i}/val.jsonl")] for i in (0, 1, 2)
    ]
    expected = [("augment_0", val[0], val[1]), ("augment_1", val[1], val[2])]
    assert calls == expected and len(val[0]) == 10
    run_cell(compose_config(overrides))  # fully cached: the hook still runs, so a killed cell is completed
    assert calls == expected * 2
    calls.clear()
    run_cell(compose_config([*overrides, "run.eval_val=false"]))
    assert calls == []  # no validation records: nothing to score


def test_truncations_and_fewer_clusters_reach_the_report_and_results(tmp_path, caplog):
    stages = {}
    for i, (note, cut) in enumerate([("the 9 analyses embed to 1 distinct vector(s)", 0), ("", 3)]):
        report = _report()
        report["iteration"] = i
        report["grouping"].update({"note": note, "embedding_truncated": cut})
        write_report(tmp_path / f"augment_{i}", report)
        stages[f"augment_{i}"] = types.SimpleNamespace(path=tmp_path / f"augment_{i}")
    stages["eval_0"] = types.SimpleNamespace(path=tmp_path / "eval_0")
    assert (
        "Note: the 9 analyses embed to 1 distinct vector(s)."
        in (tmp_path / "augment_0" / "patterns.md").read_text()
    )
    assert "Warning: 3 analyses were cut" in (tmp_path / "augment_1" / "patterns.md").read_text()
    with caplog.at_level("WARNING"):
        totals = pattern_totals(stages)
    assert totals == {
        "patterns": {
            "embedding_truncated": 3,
            "notes": ["iteration 0: the 9 analyses embed to 1 distinct vector(s)"],
        }
    }
    assert "3 error analyses were cut" in caplog.text
    assert pattern_totals({"eval_0": stages["eval_0"]}) == {}  # methods without reports add nothing
