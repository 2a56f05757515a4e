"""The pada method end to end on one iteration (no student training): report, budget, leakage guard."""

from __future__ import annotations

import json
import random

import pytest
from agent_support import HELD_OUT_QUESTION, agent_test
from conftest import compose_config
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.io import read_json
from pada.methods.base import IterationState, build_method
from pada.run.fairness import Decontaminator
from pada.tasks.base import build_task
from pada.teacher import build_teacher, register_script
from pada.types import EvalRecord, Example

TOM = "Tom has {} apples and buys {} more. How many apples?"
VAL = [(3, 4), (15, 9), (2, 5), (18, 7), (1, 1), (12, 19)]  # three need a carry past 20, three do not
SEEDS = [(6, 6), (7, 8), (9, 2), (4, 13)]


@register_script("agent_quoting")
def quoting(call):
    """Like agent_test, but analyses quote the failed validation question and summaries quote analyses."""
    text = call.messages[-1][1]
    if call.role == "error_analysis":
        question = text.split("Problem:\n", 1)[1].split("\n\n", 1)[0]
        return json.dumps({"error": f"Misread '{question}'", "missing_skill": "reading"})
    if call.role == "pattern_summary":
        return json.dumps({"name": "misreading", "description": text.split("1. ", 1)[1].split("\n", 1)[0]})
    return agent_test(call)


def _example(split: str, i: int, a: int, b: int, task) -> Example:
    question = TOM.format(a, b)
    return Example(
        f"{split}/{i}",
        task.user_prompt(question),
        f"{a} + {b} = {a + b}\n#### {a + b}",
        str(a + b),
        meta={"question": question},
    )


def _state(tmp_path, teacher, task, seed_pairs=SEEDS) -> IterationState:
    val = [_example("val", i, a, b, task) for i, (a, b) in enumerate(VAL)]
    seeds = [_example("seed", i, a, b, task) for i, (a, b) in enumerate(seed_pairs)]
    return IterationState(
        iteration=0,
        task=task,
        seed_data=seeds,
        train_data=seeds,
        train_records=[
            EvalRecord(s.id, s.prompt, "0", "0", s.answer, i % 2 == 0) for i, s in enumerate(seeds)
        ],
        val_records=[EvalRecord(v.id, v.meta["question"], "1", "1", v.answer, False) for v in val],
        teacher=teacher,
        rng=random.Random(0),
        workdir=tmp_path,
    )


def _method(*overrides: str):
    cfg = compose_config(
        [
            "method=pada",
            "budget=4",
            "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
            "method.patterns.min_per_cluster=2",
            *overrides,
        ]
    )
    return build_method(cfg.method)


@pytest.fixture
def task():
    return build_task(compose_config(["task=gsm8k"]).task)


def test_one_iteration_writes_the_patterns_report(tmp_path, task):
    method = _method()
    assert (method.needs_val_eval, method.needs_train_eval) == (True, True)
    with build_teacher(teacher_cfg("scripted", tmp_path, model="agent_test")) as teacher:
        new = method.propose(_state(tmp_path, teacher, task))
    assert len(new) == 6 and {e.source for e in new} == {"synthetic:pada"}
    assert (
        sorted(e.meta["pattern"] for e in new)
        == ["carrying"] * 2 + ["error_correction"] * 2 + ["multi-step"] * 2
    )
    assert sorted(e.meta["seed_id"] for e in new if "seed_id" in e.meta) == ["seed/1", "seed/3"]
    report = read_json(tmp_path / "patterns.json")
    assert report["failures"] == {
        "val": 6,
        "sent": 6,
        "analysed": 6,
        "train": 2,
        "letters": "",
        "letter_recall": "",
    }
    assert (report["grouping"]["how"], report["grouping"]["k"], report["grouping"]["ks"]) == (
        "kmeans",
        2,
        [2, 3],
    )
    assert report["budget"] == {"strategy_examples": 4, "error_correction_examples": 2}
    rows = {p["name"]: p for p in report["patterns"]}
    assert (
        sorted(rows["carrying"]["item_ids"]) == ["val/1", "val/3", "val/5"] and rows["carrying"]["size"] == 3
    )
    assert rows["carrying"]["strategy"] == "STRATEGY[carrying]: vary the ones digits so sums cross ten."
    # slots 0-1 are the first pattern's, 2-3 the second's: samples 1 (format), 3 (duplicate) and 7 (sample
    # 1's regeneration, wrong answer) are rejected and regenerated. Sample 2 copies a TEST item, which pada
    # never sees: its own QC cannot know it; the runner's check (pada/run/fairness.py) rejects it.
    first, second = report["patterns"]
    assert first["rejected"] == {"format": 1, "verification": 1} and first["requested"] == 4
    assert second["rejected"] == {"duplicate": 1} and second["requested"] == 3
    test_item = Example("test/0", HELD_OUT_QUESTION, "#### 2", "2", meta={"question": HELD_OUT_QUESTION})
    kept, rejected, executed = Decontaminator([test_item]).filter(new)
    assert len(kept) == 5 and rejected == {"verbatim": 1} and executed is None  # not a code task
    assert report["error_correction"] | {"rejected": {}} == {
        "name": "error_correction",
        "requested": 2,
        "generated": 2,
        "accepted": 2,
        "rejected": {},
    }
    markdown = (tmp_path / "patterns.md").read_text()
    assert "## carrying (3 failures)" in markdown and "| error_correction | - | 2 | 2 | - |" in markdown


def test_quoted_validation_text_is_redacted_before_generation(tmp_path, task):
    method = _method("method.patterns.grouping=single")
    with build_teacher(teacher_cfg("scripted", tmp_path, model="agent_quoting")) as teacher:
        method.propose(_state(tmp_path, teacher, task))
    description = read_json(tmp_path / "patterns.json")["patterns"][0]["description"]
    assert description == "Misread '[held-out item]' Missing skill: reading"


def test_a_planted_leak_fails_the_run(tmp_path, task, monkeypatch):
    # the defence (redaction) removed: the guard must still stop the run
    monkeypatch.setattr("pada.agent.method._redact", lambda *args: None)
    method = _method("method.patterns.grouping=single")
    leak = r"^leakage: generation prompt 0 contains the held-out text 'tom has 3"
    with (
        build_teacher(teacher_cfg("scripted", tmp_path, model="agent_quoting")) as teacher,
        pytest.raises(PadaError, match=leak),
    ):
        method.propose(_state(tmp_path, teacher, task))
    assert not (tmp_path / "patterns.json").exists()


def test_ablations_switch_sources_off(tmp_path, task):
    with build_teacher(teacher_cfg("scripted", tmp_path, model="agent_test")) as teacher:
        no_val = _method("method=pada_no_val")
        assert (no_val.needs_val_eval, no_val.needs_train_eval) == (False, True)
        new = no_val.propose(_state(tmp_path / "a", teacher, task))
        assert [e.meta["pattern"] for e in new] == ["error_correction"] * 2
        no_train = _method("method=pada_no_train", "method.patterns.grouping=per_failure")
        new = no_train.propose(_state(tmp_path / "b", teacher, task))
        report = read_json(tmp_path / "b" / "patterns.json")
        assert len(report["patterns"]) == 6 and report["budget"]["error_correction_examples"] == 0
        assert [p["requested"] for p in report["patterns"]] == [1, 2, 1, 3, 0, 0] and len(
            new
        ) == 4  # with regenerations
    with pytest.raises(PadaError, match="grouping='hdbscan'"):
        _method("method.patterns.grouping=hdbscan")


def test_a_seed_that_is_also_a_held_out_item_is_never_shown(tmp_path, task):
    overlapping = [SEEDS[0], VAL[0], *SEEDS[2:]]  # seed/1 (answered wrong) is also validation item val/0
    with build_teacher(teacher_cfg("scripted", tmp_path, model="agent_test")) as teacher:
        new = _method("method=pada_no_val").propose(_state(tmp_path, teacher, task, overlapping))
    assert [e.meta["seed_id"] for e in new] == ["seed/3"]  # no error-correcting example from seed/1
