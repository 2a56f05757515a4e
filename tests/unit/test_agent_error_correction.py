"""PaDA-Agent's LLM2LLM-style error-correcting examples on a multiple-choice task (issue 27).

The fault, seen on the real Qwen2.5-Coder-0.5B teacher (quick demo-real at ff72b7f, seed 0): asked one item
per request with the wrong question as guidance (generation.v2), the teacher copied the question back:
error_correction generated 24, accepted 5, duplicate 19, and every regeneration re-asked the same form.
``copycat`` below is a scripted teacher of that kind: the first problem of any answer is the wrong question
it was shown, and in a list (LLM2LLM's request, llm2llm_generation.v3) the later problems are new. It pins
the mechanism, not the real teacher's rates: on main at 1b6052c it kept none of the error-correcting examples
in 3 requests per wrong seed; the list request asks a wrong seed for min(pending + attempt, 10) problems in
one request (LLM2LLM's official rule), so its second attempt has a second problem to keep. What the real
0.5B does with each form is measured by ``experiments/bench/teacher_speed.py pada`` (docs/real_cpu.md).
"""

from __future__ import annotations

import json
import random
import re

import pytest
from conftest import compose_config
from sim_support import PLANETS, planet_item
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.io import read_json
from pada.methods.base import IterationState, build_method
from pada.tasks.base import build_task
from pada.tasks.synthetic import ChoiceItem, synthetic_format
from pada.teacher import Call, build_teacher, register_script
from pada.types import EvalRecord, Example, Quota

STEMS = [f"Seed {i}: which planet of these four is the largest, case {i}?" for i in range(6)]
CALLS: list[Call] = []


def _shown_question(text: str) -> str:
    """The wrong question a generation prompt shows: the own form's guidance, or the list form's item."""
    if "answered this training problem incorrectly:\n" in text:
        return text.split("answered this training problem incorrectly:\n", 1)[1].split("\n", 1)[0]
    shown = text.split("shown with its correct answer:\n\n", 1)[1].split("\n", 1)[0]
    return json.loads(shown)["question"]


@register_script("copycat")
def copycat(call: Call) -> str:
    CALLS.append(call)
    text = call.messages[-1][1]
    if call.role == "generation":
        copy = _shown_question(text)
        if call.prompt_version == "llm2llm_generation.v3":
            n = int(re.search(r"with exactly (\d+) problem", text)[1])
            new = [
                f"New {call.sample_index}.{j}: which of these planets has rings of ice?" for j in range(1, n)
            ]
            return json.dumps({"problems": [planet_item(q) for q in [copy, *new]]})
        return json.dumps(planet_item(copy))
    if call.role == "verification":
        return json.dumps({"valid": True, "answer": re.search(r"([A-D])\. Jupiter", text)[1]})
    raise AssertionError(call.role)


@pytest.fixture
def arc():
    return build_task(compose_config(["task=arc_challenge"]).task)


def _seed(arc, i: int) -> Example:
    fmt = synthetic_format(arc)
    example = fmt.to_example(ChoiceItem(**planet_item(STEMS[i])), f"seed/{i}", "seed", {})
    return Example(example.id, example.prompt, example.target, example.answer, "seed", example.meta)


def _state(tmp_path, teacher, arc, wrong: int, quota: Quota | None = None) -> IterationState:
    seeds = [_seed(arc, i) for i in range(len(STEMS))]
    records = [EvalRecord(s.id, s.prompt, "A", "A", s.answer, i >= wrong) for i, s in enumerate(seeds)]
    return IterationState(
        iteration=0,
        task=arc,
        seed_data=seeds,
        train_data=seeds,
        train_records=records,
        val_records=[],
        teacher=teacher,
        rng=random.Random(0),
        workdir=tmp_path,
        quota=quota or Quota(),
    )


def _method(*overrides: str):
    cfg = compose_config(
        ["method=pada", "task=arc_challenge", "budget=6", "method.use_validation=false", *overrides]
    )
    return build_method(cfg.method)


def _propose(tmp_path, arc, *overrides: str, wrong: int = 3):
    CALLS.clear()
    with build_teacher(teacher_cfg("scripted", tmp_path, model="copycat")) as teacher:
        new = _method(*overrides).propose(_state(tmp_path, teacher, arc, wrong))
    return new, read_json(tmp_path / "patterns.json")["error_correction"]


def test_a_teacher_that_copies_the_shown_question_still_yields_error_correcting_examples(tmp_path, arc):
    new, row = _propose(tmp_path, arc)
    generations = [c for c in CALLS if c.role == "generation"]
    assert sorted(e.meta["seed_id"] for e in new) == ["seed/0", "seed/1", "seed/2"]
    assert {e.meta["pattern"] for e in new} == {"error_correction"}
    # attempt 0: one problem per wrong seed (a copy); attempt 1: two problems, the second new
    assert len(generations) == 6
    assert row | {"name": None} == {
        "name": None,
        "requested": 9,
        "generated": 9,
        "accepted": 3,
        "rejected": {"duplicate": 6},
    }


def test_the_old_form_is_the_fault_it_fixes(tmp_path, arc):
    new, row = _propose(tmp_path, arc, "method.generation.correction_format=json")
    assert new == [] and len([c for c in CALLS if c.role == "generation"]) == 9  # 3 attempts x 3 seeds
    assert row["rejected"] == {"duplicate": 9} and row["accepted"] == 0
    assert {c.prompt_version for c in CALLS} == {"generation.v2"}


def test_each_wrong_seed_is_one_list_request_per_attempt(tmp_path, arc):
    _propose(tmp_path, arc, "method.generation.per_wrong_seed=2", "method.qc.max_regenerations=0", wrong=2)
    generations = [c for c in CALLS if c.role == "generation"]
    assert [c.prompt_version for c in generations] == ["llm2llm_generation.v3"] * 2
    # one request per wrong seed asks its two slots' problems, at its first slot's sample index, with
    # room for two items of the role's own length (scripted: sampling.max_tokens 1024)
    assert [c.sample_index for c in generations] == [0, 2]
    assert {c.params.max_new_tokens for c in generations} == {2048}
    text = generations[0].messages[-1][1]
    shown = json.loads(text.split("answer:\n\n")[1].split("\n")[0])  # the wrong seed, answer included
    assert "with exactly 2 problems" in text and shown == {
        "question": STEMS[0],
        "choices": PLANETS,
        "answer": "B",
    }
    assert "Students got the science multiple-choice problems" in generations[0].messages[0][1]


def test_a_list_answer_fills_the_seed_slots_in_order_and_counts_the_rest(tmp_path, arc):
    # two slots per seed, first attempt asks 2: copy (duplicate) + one new; the second attempt asks 1 + 1 = 2
    # for the open slot: copy (duplicate) + new (kept)
    new, row = _propose(
        tmp_path, arc, "method.generation.per_wrong_seed=2", "method.qc.max_regenerations=1", wrong=1
    )
    assert len(new) == 2 and row["requested"] == 4 and row["rejected"] == {"duplicate": 2}


def test_the_format_follows_the_task_kind(arc):
    method = _method()
    gsm8k = build_task(compose_config(["task=gsm8k"]).task)
    mbpp = build_task(compose_config(["task=mbpp"]).task)
    assert [method.correction_format(synthetic_format(t)) for t in (gsm8k, arc, mbpp)] == [
        "json",
        "json_list",
        "json_list",
    ]
    with pytest.raises(PadaError, match="correction_format=json_list asks items"):
        _method("method.generation.correction_format=json_list").check_task(gsm8k)
    with pytest.raises(PadaError, match="choose one of auto, json, json_list"):
        _method("method.generation.correction_format=list").check_task(arc)
