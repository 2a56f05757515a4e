"""Generated items for multiple-choice and coding tasks: schemas, per-task checks, the sandbox run of generated
tests, the optional judge, and the round trip (a generated item, built as a training example, scores correct
under the task's own scorer)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import compose_config
from teacher_support import teacher_cfg

from pada.agent.generation import QualityControl, Slot, generate, shots_from_seeds
from pada.agent.leakage import HeldOut
from pada.agent.quality import Decontaminator, Deduplicator
from pada.errors import PadaError
from pada.tasks.base import build_task
from pada.tasks.synthetic import ChoiceFormat, ChoiceItem, CodeFormat, CodeItem, MathFormat, synthetic_format
from pada.teacher import Call, build_teacher, register_script
from pada.teacher.schemas import GeneratedExample

HELD_OUT = "Which gas do green plants take in from the air to make their food?"
SQUARE = "def square(x):\n    return x * x"


def _choice(s: int) -> dict:
    """Sample s of the multiple-choice generator; faults planted at 1 (bad key), 2 (repeated option), 3 (leak)."""
    item = {
        "question": f"Q{s}: which planet is largest?",
        "choices": ["Mars", "Jupiter", "Venus", "Earth"],
        "answer": "B",
        "explanation": "Jupiter is the largest planet.",
    }
    if s == 1:
        item["answer"] = "E"
    if s == 2:
        item["choices"] = ["Mars", " Mars ", "Venus", "Earth"]
    if s == 3:
        item["question"] = HELD_OUT
    return item


def _code(s: int) -> dict:
    """Sample s of the code generator; faults at 1 (fails its own test), 2 (no asserts), 3 (syntax error)."""
    item = {
        "question": f"Write a function square{s} that squares a number.",
        "code": SQUARE,
        "tests": ["assert square(3) == 9", "assert square(-2) == 4"],
    }
    if s == 1:
        item["tests"] = ["assert square(3) == 10"]
    if s == 2:
        item["tests"] = ["print(square(3))"]
    if s == 3:
        item["code"] = "def square(x) return x"
    return item


CALLS: list[Call] = []


@register_script("formats_test")
def formats_test(call: Call) -> str:
    CALLS.append(call)
    text = call.messages[-1][1]
    if call.role == "generation":
        writer = _code if "Python programming" in call.messages[0][1] else _choice
        return json.dumps(writer(call.sample_index))
    if call.role == "verification":  # the verifier sees the options and names Jupiter's letter
        letter = re.search(r"([A-D])\. Jupiter", text)[1]
        return json.dumps({"valid": True, "answer": letter})
    if call.role == "judge":  # low scores for questions mentioning sample 4 and up
        number = int(re.search(r"Q(\d+)", text)[1]) if "Q" in text else 0
        return json.dumps({"score": 3 if number >= 4 else 8, "reason": "clear"})
    raise AssertionError(call.role)


@pytest.fixture
def teacher(tmp_path):
    CALLS.clear()
    with build_teacher(teacher_cfg("scripted", tmp_path, model="formats_test")) as client:
        yield client


@pytest.fixture
def arc():
    return build_task(compose_config(["task=arc_challenge"]).task)


@pytest.fixture
def mbpp():
    return build_task(
        compose_config(["task=mbpp", "allow_code_execution=true", "task.sandbox.workers=1"]).task
    )


def _qc(fmt, teacher, description, **kwargs):
    return QualityControl(fmt, teacher, description, Decontaminator([HELD_OUT]), Deduplicator([]), **kwargs)


def test_formats_follow_the_task_kind(arc, mbpp):
    gsm8k = build_task(compose_config(["task=gsm8k"]).task)
    assert [type(synthetic_format(t)) for t in (gsm8k, arc, mbpp)] == [MathFormat, ChoiceFormat, CodeFormat]
    humaneval = build_task(compose_config(["task=humaneval"]).task)
    with pytest.raises(PadaError, match="evaluation-only"):
        synthetic_format(humaneval)


def test_multiple_choice_checks_name_each_fault(arc):
    fmt = synthetic_format(arc)
    assert [fmt.problem(ChoiceItem(**_choice(s))) for s in range(3)] == [None, "answer_key", "format"]
    assert fmt.problem(ChoiceItem(question="Q?", choices=["only one"], answer="A")) == "format"
    assert fmt.answer(ChoiceItem(**{**_choice(0), "answer": "(B)"})) == "B"


def test_a_generated_choice_item_is_a_seed_shaped_example_that_scores_correct(arc):
    fmt = synthetic_format(arc)
    example = fmt.to_example(ChoiceItem(**_choice(0)), "pada/i0/0", "synthetic:pada", {"pattern": "p"})
    assert example.prompt.splitlines()[1:6] == [
        "Question: Q0: which planet is largest?",
        "A. Mars",
        "B. Jupiter",
        "C. Venus",
        "D. Earth",
    ]
    assert (example.target, example.answer, example.source) == (
        "The best answer is B.",
        "B",
        "synthetic:pada",
    )
    assert example.meta == {
        "question": "Q0: which planet is largest?",
        "choices": ["Mars", "Jupiter", "Venus", "Earth"],
        "labels": ["A", "B", "C", "D"],
        "pattern": "p",
    }
    assert arc.record(example, example.target).correct
    assert fmt.shot(example) == {
        "question": "Q0: which planet is largest?",
        "choices": ["Mars", "Jupiter", "Venus", "Earth"],
        "answer": "B",
    }


def test_code_checks_run_the_generated_tests_in_the_sandbox(mbpp):
    fmt = synthetic_format(mbpp)
    items = [CodeItem(**_code(s)) for s in range(4)]
    assert [fmt.problem(i) for i in items] == [None, None, "format", "format"]
    assert fmt.run_checks(items[:2]) == [None, "tests_failed"]
    example = fmt.to_example(items[0], "pada/i0/0", "synthetic:pada", {"pattern": "p"})
    assert example.target == f"```python\n{SQUARE}\n```" and example.meta["tests"].count("assert") == 2
    assert example.prompt.startswith(
        "You are an expert Python programmer, and here is your task: Write a function"
    )
    assert mbpp.score([example], [example.target])[0].correct
    assert fmt.shot(example) == {"question": _code(0)["question"], "code": SQUARE, "tests": _code(0)["tests"]}


def test_code_checks_refuse_to_run_without_the_opt_in():
    task = build_task(compose_config(["task=mbpp"]).task)
    with pytest.raises(PadaError, match="confirm_run_unsafe_code"):
        synthetic_format(task).run_checks([CodeItem(**_code(0))])


def test_choice_generation_counts_every_rejection_and_verifies_with_the_options(teacher, arc):
    fmt = synthetic_format(arc)
    seed = fmt.to_example(ChoiceItem(**_choice(9)), "seed/9", "seed", {})
    shots = shots_from_seeds(fmt, [seed], 1, __import__("random").Random(0))
    slots = [Slot(i, "p", "guidance", shots) for i in range(4)]
    examples, counts = generate(
        teacher, _qc(fmt, teacher, "science multiple-choice"), slots, HeldOut([HELD_OUT]), 1, iteration=0
    )
    # attempt 0: samples 0-3 (1 bad key, 2 repeated option, 3 leak); attempt 1: samples 5-7 for slots 1-3
    assert [e.meta["question"] for e in examples] == [f"Q{s}: which planet is largest?" for s in (0, 5, 6, 7)]
    assert counts["p"]["rejected"] == {"answer_key": 1, "contamination": 1, "format": 1}
    generation = next(c for c in CALLS if c.role == "generation").messages[-1][1]
    assert '"choices": ["Mars", "Jupiter", "Venus", "Earth"]' in generation and "Q9:" in generation
    verification = next(c for c in CALLS if c.role == "verification").messages[-1][1]
    assert "B. Jupiter" in verification  # the verifier sees the options, so its letter is comparable


def test_code_generation_runs_tests_instead_of_asking_the_teacher(teacher, mbpp):
    fmt = synthetic_format(mbpp)
    slots = [Slot(i, "p", "guidance", []) for i in range(4)]
    examples, counts = generate(
        teacher, _qc(fmt, teacher, "Python programming"), slots, HeldOut([HELD_OUT]), 0, iteration=0
    )
    assert [e.id for e in examples] == ["pada/i0/0"]
    assert counts["p"] == {
        "requested": 4,
        "generated": 4,
        "accepted": 1,
        "rejected": {"format": 2, "tests_failed": 1},
    }
    assert {c.role for c in CALLS} == {"generation"}


def test_the_optional_judge_rejects_low_scores(teacher, arc):
    fmt = synthetic_format(arc)
    slots = [Slot(i, "p", "g", []) for i in (0, 4, 5)]
    examples, counts = generate(
        teacher, _qc(fmt, teacher, "science", judge_min_score=7), slots, HeldOut([HELD_OUT]), 0, iteration=0
    )
    assert [e.id for e in examples] == ["pada/i0/0"] and counts["p"]["rejected"] == {"judge": 2}
    assert (counts["p"]["judged"], counts["p"]["judge_mean"]) == (3, round((8 + 3 + 3) / 3, 2))
    examples, counts = generate(
        teacher, _qc(fmt, teacher, "science"), slots, HeldOut([HELD_OUT]), 0, iteration=0
    )
    assert len(examples) == 3 and "judged" not in counts["p"]  # without the judge the same items pass


def test_math_items_keep_the_worked_solution_format():
    gsm8k = build_task(compose_config(["task=gsm8k"]).task)
    fmt = synthetic_format(gsm8k)
    item = GeneratedExample(
        question="Sam has 2 pens and buys 3. How many?", solution="2 + 3 = 5\n#### 5", answer="5"
    )
    assert fmt.problem(item) is None and fmt.problem(item.model_copy(update={"answer": "6"})) == "format"
    example = fmt.to_example(item, "x", "synthetic:pada", {})
    assert gsm8k.record(example, example.target).correct


DATA = __import__("os").environ.get("PADA_DATA_DIR")


@pytest.mark.data
@pytest.mark.skipif(
    not DATA or not __import__("os").path.isdir(f"{DATA}/arc"), reason="PADA_DATA_DIR not set"
)
def test_every_real_arc_item_written_as_a_generated_item_passes_and_rebuilds_itself(arc):
    from pathlib import Path

    fmt = synthetic_format(arc)
    splits = arc.load(Path(DATA))
    items = splits.pool + splits.val + splits.test
    reasons, rebuilt = {}, 0
    for ex in items:
        item = ChoiceItem(question=ex.meta["question"], choices=ex.meta["choices"], answer=ex.answer)
        reason = fmt.problem(item)
        reasons[reason] = reasons.get(reason, 0) + 1
        copy = fmt.to_example(item, ex.id, "seed", {})
        rebuilt += (copy.prompt, copy.target, copy.answer) == (ex.prompt, ex.target, ex.answer)
    assert len(items) == 2590 and rebuilt == 2590
    assert reasons == {None: 2590}  # no real item has repeated options or a key outside its options


@pytest.mark.data
@pytest.mark.skipif(
    not DATA or not __import__("os").path.isdir(f"{DATA}/mbpp"), reason="PADA_DATA_DIR not set"
)
def test_every_real_mbpp_pool_item_written_as_a_generated_item_passes_its_tests(mbpp):
    from pathlib import Path

    fmt = synthetic_format(mbpp)
    pool = mbpp.load(Path(DATA)).pool
    items = [
        CodeItem(question=ex.meta["text"], code=ex.answer, tests=ex.meta["tests"].splitlines()) for ex in pool
    ]
    format_reasons = [fmt.problem(i) for i in items]
    run_reasons = fmt.run_checks(items)
    rebuilt = (
        sum(  # generated asserts are stripped: 20 real items have trailing spaces, mbpp/847 an empty test
            _lines(fmt.to_example(i, ex.id, "seed", {}).prompt) == _lines(ex.prompt)
            for i, ex in zip(items, pool, strict=True)
        )
    )
    failed = [ex.id for ex, r in zip(pool, run_reasons, strict=True) if r]
    assert (len(pool), format_reasons.count(None), rebuilt) == (374, 374, 374)
    assert failed == [ex.id for ex in pool if ex.meta["setup"]]  # only items whose tests need setup code fail


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]
