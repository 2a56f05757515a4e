"""run.eval_val=needed: validation is scored only in the rounds whose records something reads
(pada/run/loop.py ``scores_validation``), and skipping what nothing reads never changes a cell's result."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import compose_config
from sim_support import sim_overrides

from pada.errors import PadaError
from pada.io import read_jsonl
from pada.run.loop import LoopConfig, cell_loop, eval_val_setting, scores_validation
from pada.run.runner import run_cell
from pada.validate import check_override_types

PLAIN = SimpleNamespace(needs_val_eval=False, scores_reports_on_validation=False)  # sft, AugGPT, LLM2LLM
READS_FAILURES = SimpleNamespace(needs_val_eval=True, scores_reports_on_validation=False)
SCORES_REPORTS = SimpleNamespace(needs_val_eval=False, scores_reports_on_validation=True)
PADA = SimpleNamespace(needs_val_eval=True, scores_reports_on_validation=True)


def _rounds(loop: LoopConfig, method, eval_val="needed") -> list[bool]:
    return [scores_validation(i, loop, method, eval_val) for i in range(loop.iterations + 1)]


@pytest.mark.parametrize(
    ("loop", "method", "expected"),
    [
        (LoopConfig(0), PLAIN, [False]),  # sft, sft_val: nothing reads validation
        (LoopConfig(1), PLAIN, [False, False]),  # AugGPT, LLM2LLM (train records only)
        (LoopConfig(2), READS_FAILURES, [True, True, False]),  # the last round has no augment after it
        (LoopConfig(0), READS_FAILURES, [False]),
        (LoopConfig(1), SCORES_REPORTS, [True, True]),  # the report's before and after
        (LoopConfig(0), SCORES_REPORTS, [False]),  # no augment round: no report
        (LoopConfig(1), PADA, [True, True]),
        (LoopConfig(3), PADA, [True, True, True, True]),
        (LoopConfig(2, "best_val"), PLAIN, [True, True, True]),  # selected() compares every round
        (LoopConfig(0, "best_val"), PLAIN, [True]),
        (LoopConfig(3, "last", 1), PLAIN, [True, True, True, False]),  # stalled() before each augment
    ],
)
def test_needed_scores_validation_only_where_something_reads_it(loop, method, expected):
    assert _rounds(loop, method) == expected


@pytest.mark.parametrize("method", [PLAIN, READS_FAILURES, SCORES_REPORTS, PADA])
@pytest.mark.parametrize("loop", [LoopConfig(0), LoopConfig(2), LoopConfig(2, "best_val", 1)])
def test_true_and_false_keep_their_meaning(loop, method):
    assert _rounds(loop, method, True) == [True] * (loop.iterations + 1)
    assert _rounds(loop, method, False) == [False] * (loop.iterations + 1)


def test_needed_is_a_valid_value_and_other_words_are_one_error():
    reference = compose_config([])
    for value in ("needed", "true", "false"):
        cfg = compose_config([f"run.eval_val={value}"])
        check_override_types(cfg, reference, ["run.eval_val"])  # the CLI's check: no error
        assert eval_val_setting(cfg) == {"needed": "needed", "true": True, "false": False}[value]
    cfg = compose_config(["run.eval_val=maybe"])
    with pytest.raises(PadaError, match=r"run.eval_val='maybe' must be true, false or needed"):
        check_override_types(cfg, reference, ["run.eval_val"])
    with pytest.raises(PadaError, match=r"run.eval_val='maybe' must be true, false or needed"):
        cell_loop(cfg)  # a value set in a YAML (no CLI check) fails in the runner, before any stage


def test_best_val_and_pada_accept_needed():
    cfg = compose_config(["method=pada", "++method.loop.select=best_val", "run.eval_val=needed"])
    assert cell_loop(cfg).select == "best_val"
    from pada.methods.base import build_method
    from pada.run.fairness import check_config

    method = build_method(cfg.method)
    assert method.needs_val_eval and method.scores_reports_on_validation
    check_config(cfg, method)  # no "reads validation failures" error


# One augmentation round per method in the simulated world at a few seconds a cell.
SIM = sim_overrides(val=24)
METHODS = {
    "sft": ["method=sft", "teacher=none"],
    "sft_val": ["method=sft_val", "teacher=none"],
    "auggpt": ["method=auggpt"],
    "llm2llm": ["method=llm2llm", "method.loop.iterations=1"],
    "pada": ["method=pada", "method.loop.iterations=1"],
}
# Which eval stages score validation under run.eval_val=needed, and which score the training set.
EXPECTED = {
    "sft": {"eval_0": []},
    "sft_val": {"eval_0": []},
    "auggpt": {"eval_0": [], "eval_1": []},
    "llm2llm": {"eval_0": ["train.jsonl"], "eval_1": []},
    "pada": {"eval_0": ["train.jsonl", "val.jsonl"], "eval_1": ["val.jsonl"]},
}


def _cell(tmp_path: Path, cache: Path, name: str, eval_val: str) -> tuple[dict, Path]:
    runs = tmp_path / f"runs_{eval_val}"  # its own runs dir: run.* is not part of the cell's name
    cfg = compose_config(
        [
            *SIM,
            *METHODS[name],
            f"run.eval_val={eval_val}",
            f"paths.runs_dir={runs}",
            f"paths.cache_dir={cache}",
        ]
    )
    results = run_cell(cfg)
    return results, runs / results["cell"]["name"]


def _scored(run_dir: Path) -> dict[str, list[str]]:
    return {
        d.name: sorted(p.name for p in d.glob("*.jsonl"))
        for d in sorted(run_dir.glob("eval_*"))
        if d.is_dir()
    }


@pytest.mark.parametrize("name", list(METHODS))
def test_needed_skips_unread_validation_and_changes_no_result(name, tmp_path, own_cache):
    needed, needed_dir = _cell(tmp_path, own_cache, name, "needed")
    assert _scored(needed_dir) == EXPECTED[name]
    every, every_dir = _cell(tmp_path, own_cache, name, "true")
    assert all("val.jsonl" in files for files in _scored(every_dir).values())  # the default: every round
    # The fairness point: the same test records, accuracy, data and training as with every round scored.
    assert needed["metrics"]["test"] == every["metrics"]["test"]
    assert read_jsonl(needed_dir / "test" / "test.jsonl") == read_jsonl(every_dir / "test" / "test.jsonl")
    assert needed["data"] == every["data"] and needed["training"] == every["training"]
    # results.json lacks validation where it was not scored (never a 0)
    scored_last = "val.jsonl" in EXPECTED[name][f"eval_{len(needed['iterations']) - 1}"]
    assert ("val" in needed["metrics"]) is scored_last
    for row, (stage, files) in zip(needed["iterations"], EXPECTED[name].items(), strict=True):
        assert ("val_accuracy" in row) is ("val.jsonl" in files), stage
    if name == "pada":  # its report was scored on the round before and after, as with every round scored
        report = needed_dir / "augment_0" / "patterns.json"
        assert report.read_text() == (every_dir / "augment_0" / "patterns.json").read_text()
