"""LLM2LLM and LLMs-as-Instructors on multiple-choice (ARC-shaped) and code (MBPP-shaped) tasks: the teacher
is asked for items in the task's own format, each fault is rejected and counted, and every kept item is a
training example that scores correct under the task's own scorer. A scripted teacher plants one fault per
sample index."""

from __future__ import annotations

import json
import random
import re

import pytest
from conftest import CONF_DIR, compose_config
from omegaconf import OmegaConf
from teacher_support import teacher_cfg

from baselines.formats import Items
from baselines.llm2llm import problem_list
from pada.errors import PadaError
from pada.io import read_json
from pada.methods.base import IterationState, build_method
from pada.tasks.base import build_task
from pada.tasks.synthetic import ChoiceItem
from pada.teacher import Call, Teacher, register_script
from pada.types import EvalRecord

PLANETS = ["Mars", "Jupiter", "Venus", "Earth"]
GASES = ["Oxygen", "Carbon dioxide", "Helium"]
RIGHT = ("Jupiter", "Carbon dioxide")  # what the scripted verifier knows to be true
SQUARE = "def square(x):\n    return x * x"
ADD = "def add(a, b):\n    return a + b"
OPTION = re.compile(r"(?m)^[A-D]\. ")


def _shown_item(text: str) -> dict:
    """The wrong item as the v2 generation prompts show it: one JSON line."""
    return json.loads(next(line for line in text.splitlines() if line.startswith('{"question"')))


def _written(seed: dict, i: int) -> dict:
    """Sample i: 0 a wrong answer (bad key / failing test), 1 malformed, 2 and 10 a copy of the seed question,
    else a new item (in multiple choice, a 'gas' item keeps a wrong key that only verification can catch)."""
    question = seed["question"] if i in (2, 10) else f"{seed['question']} Variant {i}."
    if "choices" in seed:
        key = "A" if "gas" in question else seed["answer"]
        item = {"question": question, "choices": seed["choices"], "answer": key, "explanation": "because"}
        return {**item, "answer": "E"} if i == 0 else {**item, "choices": ["x"]} if i == 1 else item
    item = {"question": question, "code": seed["code"], "tests": seed["tests"]}
    if i == 0:
        return {**item, "tests": [f"{t} and False" for t in seed["tests"]]}
    return {**item, "tests": ["print(1)"]} if i == 1 else item


CALLS: list[Call] = []


@register_script("baselines_formats")
def script(call: Call) -> str:
    CALLS.append(call)
    text = call.messages[-1][1]
    if call.prompt_version == "llm2llm_generation.v3":  # one answer for n items: item j as sample index + j
        n = int(re.search(r"with exactly (\d+) problem", text)[1])
        items = [_written(_shown_item(text), call.sample_index + j) for j in range(n)]
        return json.dumps({"problems": items})
    if call.role == "generation":
        return json.dumps(_written(_shown_item(text), call.sample_index))
    if (
        call.role == "error_analysis"
    ):  # the analysis must see the options and the tests, not the bare question
        seen = f"{len(OPTION.findall(text))} options, {text.count('assert ')} asserts"
        return json.dumps({"error": "wrong", "missing_skill": f"{seen}, {text.count('got RIGHT')} contrasts"})
    if call.role == "verification":  # names the letter of the true option, so it must be shown the options
        letter = re.search(rf"(?m)^([A-D])\. ({'|'.join(RIGHT)})$", text)[1]
        return json.dumps({"valid": True, "answer": letter})
    if call.role == "paraphrase":
        question = text.split("Problem:\n")[1].split("\n\n")[0]
        return json.dumps({"question": f"Reworded ({call.sample_index}): {question}"})
    raise AssertionError(call.role)


@pytest.fixture(scope="module")
def arc():
    return build_task(compose_config(["task=arc_challenge"]).task)


@pytest.fixture(scope="module")
def mbpp():
    cfg = compose_config(["task=mbpp", "allow_code_execution=true", "task.sandbox.workers=2"])
    return build_task(cfg.task)


@pytest.fixture
def teacher(tmp_path):
    CALLS.clear()
    with Teacher(teacher_cfg("scripted", tmp_path, model="baselines_formats"), tmp_path / "t.sqlite") as t:
        yield t


def arc_seeds(arc):
    return [
        arc.make_example("a0", "Which planet is the largest?", PLANETS, list("ABCD"), "B"),
        arc.make_example("a1", "Which gas do plants take in?", GASES, list("ABC"), "B"),
        arc.make_example("a2", "What melts ice fastest?", ["Salt", "Sand"], list("AB"), "A"),
    ]


def mbpp_seeds(mbpp):
    return [
        mbpp.make_example(
            "m0", "Write a function square(x) that squares x.", SQUARE, ["assert square(3) == 9"]
        ),
        mbpp.make_example(
            "m1",
            "Write a function add(a, b) that adds two numbers.",
            ADD,
            ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"],
        ),
        mbpp.make_example(
            "m2", "Write a function one() that returns 1.", "def one():\n    return 1", ["assert one() == 1"]
        ),
    ]


def state(task, teacher, tmp_path, seeds) -> IterationState:
    """Every seed but the last one answered wrongly."""
    records = [EvalRecord(ex.id, ex.prompt, "no", None, ex.answer, ex is seeds[-1]) for ex in seeds]
    return IterationState(0, task, seeds, seeds, records, [], teacher, random.Random(0), tmp_path)


def method(name: str, **overrides):
    cfg = OmegaConf.load(CONF_DIR / "method" / f"{name}.yaml")
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return build_method(cfg)


def report(tmp_path) -> dict:
    return read_json(tmp_path / "baseline_report.json")


@pytest.mark.parametrize(("form", "requests"), [("json", 6), ("auto", 4), ("json_list", 4)])
def test_llm2llm_writes_choice_items_and_rejects_a_bad_key(arc, teacher, tmp_path, form, requests):
    new = method("llm2llm", response_format=form).propose(state(arc, teacher, tmp_path, arc_seeds(arc)))
    # attempt 0: problem 0 names option E; attempt 1: problem 10 copies the seed (ROUGE-L), problem 11 is kept;
    # json asks one problem per request (2 + 2 x 2 requests), json_list (auto's choice here) an attempt's in one
    assert [(ex.id, ex.meta["question"], ex.answer) for ex in new] == [
        ("a0/llm2llm/it0/a1/1", "Which planet is the largest? Variant 11.", "B"),
        ("a1/llm2llm/it0/a1/1", "Which gas do plants take in? Variant 11.", "A"),
    ]
    assert new[0].prompt.splitlines()[1:6] == [
        "Question: Which planet is the largest? Variant 11.",
        "A. Mars",
        "B. Jupiter",
        "C. Venus",
        "D. Earth",
    ]
    assert (new[0].target, new[0].source, new[0].meta["parent"]) == (
        "The best answer is B.",
        "synthetic:llm2llm",
        "a0",
    )
    assert all(arc.record(ex, ex.target).correct for ex in new)
    assert report(tmp_path) == {
        "iteration": 0,
        "wrong_train": 2,
        "wrong_used": 2,
        "requests": requests,
        "problems_requested": 6,
        "bad_answer": 2,
        "too_similar": 2,
        "seeds_unfilled": 0,
        "kept": 2,
        "wrong_ids": ["a0", "a1"],
    }
    generation = next(c for c in CALLS if c.role == "generation")
    version = "llm2llm_generation.v2" if form == "json" else "llm2llm_generation.v3"
    assert generation.prompt_version == version and "numeric" not in str(generation.messages)
    assert (
        '{"question": "Which planet is the largest?", "choices": ["Mars", "Jupiter", "Venus", "Earth"], '
        '"answer": "B"}' in generation.messages[-1][1]
    )


def test_llm2llm_verification_sees_the_options_and_rejects_a_wrong_key(arc, teacher, tmp_path):
    new = method("llm2llm", verify=True).propose(state(arc, teacher, tmp_path, arc_seeds(arc)))
    assert [ex.id for ex in new] == ["a0/llm2llm/it0/a1/1"]
    assert (report(tmp_path)["verify_rejected"], report(tmp_path)["kept"]) == (1, 1)
    verification = next(c for c in CALLS if c.role == "verification").messages[-1][1]
    assert "B. Jupiter" in verification and "The answer is B." in verification


def test_llm2llm_runs_generated_code_against_its_tests(mbpp, teacher, tmp_path):
    seeds = mbpp_seeds(mbpp)
    new = method("llm2llm", verify=True).propose(state(mbpp, teacher, tmp_path, seeds))
    assert [(ex.id, ex.answer, ex.meta["tests"]) for ex in new] == [
        ("m0/llm2llm/it0/a1/1", SQUARE, "assert square(3) == 9"),
        ("m1/llm2llm/it0/a1/1", ADD, "assert add(1, 2) == 3\nassert add(-1, 1) == 0"),
    ]
    statement = "Write a function square(x) that squares x. Variant 11."
    assert new[0].prompt == mbpp.make_example("x", statement, SQUARE, ["assert square(3) == 9"]).prompt
    assert [r.correct for r in mbpp.score(new, [ex.target for ex in new])] == [True, True]
    rep = report(tmp_path)
    assert (rep["tests_failed"], rep["too_similar"], rep["kept"], "bad_answer" in rep) == (2, 2, 2, False)
    assert {c.role for c in CALLS} == {"generation"}  # code is checked by its tests, not a teacher solve


def test_llm2llm_asks_an_attempts_problems_in_one_request_of_exactly_n(arc, teacher, tmp_path):
    cell = state(arc, teacher, tmp_path, arc_seeds(arc))
    method("llm2llm", per_seed=3, max_attempts=2, response_format="json_list").propose(cell)
    asked = [(c.sample_index, re.search(r"Please generate (\d+) new", c.messages[-1][1])[1]) for c in CALLS]
    # attempt 0: 3 per seed (sample 0), attempt 1: 4 per seed (sample 10; official min(per_seed + a, 10))
    assert asked == [(0, "3"), (0, "3"), (10, "4"), (10, "4")]
    rep = report(tmp_path)  # attempt 0 keeps none of problems 0-2; attempt 1 keeps 11-13 of 10-13
    assert {k: rep[k] for k in ("requests", "problems_requested", "too_similar", "kept")} == {
        "requests": 4,
        "problems_requested": 14,
        "too_similar": 4,
        "kept": 6,
    }
    schema = problem_list(ChoiceItem, 4)
    field = schema.model_json_schema()["properties"]["problems"]
    assert (field["minItems"], field["maxItems"], schema.__name__) == (4, 4, "ChoiceItemList4")
    assert (
        problem_list(ChoiceItem, 4) is schema
    )  # one class per n: the same native fields, the same cache key
    with pytest.raises(ValueError):
        schema.model_validate({"problems": [{"question": "q", "choices": ["a", "b"], "answer": "A"}] * 3})


def test_llm2llm_json_list_is_for_item_formats_and_unknown_forms_are_refused(teacher, tmp_path):
    gsm8k = build_task(compose_config(["task=gsm8k"]).task)
    with pytest.raises(PadaError, match="json_list asks items .* math task 'gsm8k' needs"):
        method("llm2llm", response_format="json_list").check_task(gsm8k)
    auto = method("llm2llm", response_format="auto")
    assert auto.response_format(Items(gsm8k, "llm2llm")) == "json"  # v1 asks one per sample
    assert (
        auto.response_format(Items(build_task(compose_config(["task=arc_challenge"]).task), "x"))
        == "json_list"
    )
    with pytest.raises(
        PadaError, match="response_format='list'; choose one of auto, json, json_list, numbered"
    ):
        method("llm2llm", response_format="list").check_task(gsm8k)


def test_llm2llm_numbered_replies_are_math_only(arc, teacher, tmp_path):
    with pytest.raises(PadaError, match="response_format=numbered .* task 'arc_challenge' needs"):
        method("llm2llm", response_format="numbered").propose(state(arc, teacher, tmp_path, arc_seeds(arc)))


@pytest.mark.parametrize("name", ["llm2llm", "llms_as_instructors"])
def test_evaluation_only_tasks_are_one_clear_error(name, teacher, tmp_path):
    humaneval = build_task(compose_config(["task=humaneval"]).task)
    with pytest.raises(PadaError, match="task 'humaneval' is evaluation-only"):
        method(name).propose(
            IterationState(0, humaneval, [], [], [], [], teacher, random.Random(0), tmp_path)
        )


def test_llms_as_instructors_on_multiple_choice(arc, teacher, tmp_path):
    new = method("llms_as_instructors", similarity="rouge", per_error=4).propose(
        state(arc, teacher, tmp_path, arc_seeds(arc))
    )
    # samples 0 (key E) and 1 (one option) are bad answers, 2 repeats the seed question, 3 is kept
    assert [(ex.id, ex.meta["question"], ex.meta["parent"]) for ex in new] == [
        ("a0/llms_as_instructors/it0/3", "Which planet is the largest? Variant 3.", "a0"),
        ("a1/llms_as_instructors/it0/3", "Which gas do plants take in? Variant 3.", "a1"),
    ]
    assert all(arc.record(ex, ex.target).correct for ex in new)
    rep = report(tmp_path)
    # a0's 4 options and a1's 3, each with the 2 of its contrast a2
    assert {k: a["missing_skill"] for k, a in rep["analyses"].items()} == {
        "a0": "6 options, 0 asserts, 1 contrasts",
        "a1": "5 options, 0 asserts, 1 contrasts",
    }
    assert {k: rep[k] for k in ("requested", "bad_answer", "duplicate", "kept")} == {
        "requested": 8,
        "bad_answer": 4,
        "duplicate": 2,
        "kept": 2,
    }
    generation = next(c for c in CALLS if c.role == "generation")
    assert (
        generation.prompt_version == "lai_generation.v2"
        and '"choices": ["Mars"' in generation.messages[-1][1]
    )


def test_llms_as_instructors_on_code(mbpp, teacher, tmp_path):
    new = method("llms_as_instructors", similarity="rouge", per_error=4).propose(
        state(mbpp, teacher, tmp_path, mbpp_seeds(mbpp))
    )
    assert [ex.id for ex in new] == ["m0/llms_as_instructors/it0/3", "m1/llms_as_instructors/it0/3"]
    assert new[1].meta["question"] == "Write a function add(a, b) that adds two numbers. Variant 3."
    assert [r.correct for r in mbpp.score(new, [ex.target for ex in new])] == [True, True]
    rep = report(tmp_path)
    assert (
        rep["analyses"]["m1"]["missing_skill"] == "0 options, 3 asserts, 1 contrasts"
    )  # m1 has 2, its contrast m2 1
    assert {k: rep[k] for k in ("requested", "tests_failed", "bad_answer", "duplicate", "kept")} == {
        "requested": 8,
        "tests_failed": 2,
        "bad_answer": 2,
        "duplicate": 2,
        "kept": 2,
    }


def test_auggpt_verifies_multiple_choice_with_the_options_shown(arc, teacher, tmp_path):
    new = method("auggpt", k=2).propose(state(arc, teacher, tmp_path, arc_seeds(arc)[:2]))
    assert [ex.meta["question"] for ex in new[:2]] == [
        f"Reworded ({i}): Which planet is the largest?" for i in (0, 1)
    ]
    assert (len(new), report(tmp_path)["kept"], "answer_disagrees" in report(tmp_path)) == (4, 4, False)
    assert "B. Jupiter" in next(c for c in CALLS if c.role == "verification").messages[-1][1]


def test_auggpt_cannot_be_told_to_re_solve_code(mbpp, teacher, tmp_path):
    with pytest.raises(PadaError, match="method.verify=true: a teacher re-solve cannot check task 'mbpp'"):
        method("auggpt", verify=True).propose(state(mbpp, teacher, tmp_path, mbpp_seeds(mbpp)))
    assert CALLS == []  # refused before any teacher call
    new = method("auggpt", k=1).propose(state(mbpp, teacher, tmp_path, mbpp_seeds(mbpp)))  # auto: no re-solve
    assert len(new) == 3 and {c.role for c in CALLS} == {"paraphrase"}


def test_preflight_counts_one_llm2llm_call_per_seed_and_attempt_on_items(tmp_path):
    """The expected-calls bound follows the request form: json_list (and auto on ARC) asks one call per seed
    and attempt, json min(need + a, 10) calls (budget 16, 16 synthetic, 5 attempts: need 1)."""
    from pada.preflight import expected_calls
    from pada.preflight.compose import compose_cell as _compose

    base = ["task=arc_challenge", "method=llm2llm", "budget=16", "synthetic_budget=16", "budget_match=true"]
    base += ["method.loop.iterations=1", f"paths.runs_dir={tmp_path}"]
    first = [*base, "budget_match_rounds=0"]  # the first proposal alone
    for form in ("auto", "json_list"):  # auto: the default
        listed = expected_calls(_compose([*first, f"method.response_format={form}"]))
        assert listed == {"augment_0": {"generation": 16 * 5}}, form
    single = expected_calls(_compose([*first, "method.response_format=json"]))
    assert single == {"augment_0": {"generation": 16 * (1 + 2 + 3 + 4 + 5)}}
    # each of budget_match's top-ups (default 3) may ask the first proposal's calls again
    assert expected_calls(_compose(base)) == {"augment_0": {"generation": 16 * 5 * (1 + 3)}}
