"""SIMULATION world and oracle teacher: parsing, generation, every role's answer for a fixed prompt."""

from __future__ import annotations

import json
import random

from pada.sim.oracle import oracle, read_properties
from pada.sim.world import Problem, find_problems, make_problem, parse
from pada.teacher.prompts import render
from pada.teacher.providers.base import Call
from pada.teacher.schemas import ROLE_SCHEMAS
from pada.types import SamplingParams


def _call(role: str, text: str, sample_index: int = 0) -> Call:
    return Call(role, (("user", text),), SamplingParams(max_new_tokens=256), sample_index)


def _answer(role: str, text: str, sample_index: int = 0) -> dict:
    answer = json.loads(oracle(_call(role, text, sample_index)))
    ROLE_SCHEMAS[role].model_validate(answer)  # every answer fits the role's schema
    return answer


def test_every_phrasing_round_trips_through_the_parser():
    rng = random.Random(0)
    for skill in ("add", "sub", "mul", "max"):
        for phrasing in range(3):
            for magnitude in ("small", "medium", "large"):
                problem = make_problem(rng, skill, phrasing, magnitude)
                parsed = parse(f"noise before. {problem.question} noise after")
                assert parsed.question == problem.question and parsed.answer == problem.answer
                assert (parsed.skill, parsed.phrasing, parsed.magnitude) == (skill, phrasing, magnitude)


def test_problems_are_found_in_order_of_appearance():
    first, second = Problem("mul", 1, "medium", 12, 3), Problem("add", 0, "small", 2, 5)
    assert find_problems(f"{first.question}\n\n{second.question}") == [first, second]
    assert first.answer == 36 and first.solution == "12 * 3 = 36\n#### 36"


def test_oracle_answers_each_role():
    problem = Problem("sub", 2, "large", 530, 120, "Mia", "cards")
    analysis = _answer("error_analysis", f"Problem:\n{problem.question}\n\nThe model's answer:\n#### 7")
    assert (
        analysis["missing_skill"]
        == "subtraction with three-digit numbers, asked as word problems about people"
    )
    summary = _answer("pattern_summary", f"1. {analysis['error']}\n2. {analysis['error']}")
    assert read_properties(summary["description"]) == {"skill": "sub", "phrasing": 2, "magnitude": "large"}
    strategy = _answer("strategy", summary["description"])["strategy"]
    generated = _answer("generation", f"{strategy}\n\nFor format only:\nProblem: What is 2 plus 3?")
    new = parse(generated["question"])
    assert (new.skill, new.phrasing, new.magnitude) == ("sub", 2, "large")  # the strategy wins over examples
    assert generated["solution"].endswith(f"#### {generated['answer']}")
    assert _answer("paraphrase", f"Problem:\n{problem.question}")["question"] == (
        "What is 530 minus 120?"  # same numbers, the next phrasing
    )
    verdict = _answer(
        "verification", f"Problem:\n{problem.question}\n\nProposed solution:\n530 - 120 = 410\n#### 410"
    )
    assert verdict == {"valid": True, "answer": "410", "reason": ""}
    assert not _answer("verification", f"Problem:\n{problem.question}\n\nProposed solution:\n#### 411")[
        "valid"
    ]


def test_generation_without_guidance_follows_the_given_problem_and_is_seeded():
    text = "The student got this wrong: Multiply 7 by 4. Write a similar problem."
    a, b = _answer("generation", text, 0), _answer("generation", text, 0)
    assert a == b and _answer("generation", text, 1) != a
    made = parse(a["question"])
    assert (made.skill, made.phrasing, made.magnitude) == ("mul", 1, "small")


def test_generation_error_rate_is_what_the_world_declares():
    wrong = 0
    for i in range(400):
        answer = _answer("generation", "Add 3 and 4.", sample_index=i)
        wrong += int(answer["answer"]) != parse(answer["question"]).answer
    assert 20 <= wrong <= 60  # GENERATION_ERROR_RATE = 0.1 of 400, binomial 99.9% band


def test_templates_render_into_prompts_the_oracle_reads():
    schema = ROLE_SCHEMAS["verification"]
    prompt = render(
        "verification",
        schema=schema,
        task_description="arithmetic",
        question="What is 4 plus 5?",
        solution="4 + 5 = 9\n#### 9",
    )
    call = Call("verification", prompt.messages, SamplingParams(max_new_tokens=64))
    assert json.loads(oracle(call)) == {"valid": True, "answer": "9", "reason": ""}


def test_sim_task_splits_are_fixed_and_labelled(tmp_path, model_cache):
    from collections import Counter

    from conftest import compose_config

    from pada.run.runner import run_cell
    from pada.tasks import build_task

    task = build_task(compose_config(["task=sim_arith"]).task)
    a, b = task.load(None), task.load(None)
    assert [e.prompt for e in a.test] == [e.prompt for e in b.test]
    assert (len(a.pool), len(a.val), len(a.test)) == (4000, 200, 500)
    skills = Counter(e.meta["skill"] for e in a.pool)
    assert (
        skills.most_common()[0][0] == "add" and skills.most_common()[-1][0] == "max"
    )  # declared frequencies
    for example in a.test[:50]:  # every gold target scores as correct
        assert task.is_correct(task.extract(example.target), example)
    overrides = [
        "task=sim_arith",
        "budget=8",
        "task.test_size=6",
        "task.val_size=4",
        "trainer.max_steps=2",
        "eval.max_new_tokens=4",
        f"paths.runs_dir={tmp_path}",
        f"paths.cache_dir={model_cache}",
        "wandb.mode=disabled",
    ]
    assert (
        run_cell(compose_config(overrides))["simulation"] is True
    )  # from the task, even with simulation=false


def test_concurrent_builders_of_one_model_both_succeed(tmp_path, monkeypatch):
    """Two cells starting at once build the same cached model; the second rename must not fail."""
    from conftest import compose_config

    import pada.models.tiny as tiny

    cfg = compose_config(["model.num_layers=1"]).model
    out = tmp_path / "model"
    real_rename, rivals = type(out).rename, []

    def rename_after_a_rival(self, target):  # a rival process finishes its build just before ours
        if not rivals:
            rivals.append(target)
            tiny.build_tiny_model(target, cfg)
        return real_rename(self, target)

    monkeypatch.setattr(type(out), "rename", rename_after_a_rival)
    assert tiny.build_tiny_model(out, cfg) == out and (out / "config.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary dir left behind


def test_the_oracle_judge_scores_through_the_judge_template():
    schema = ROLE_SCHEMAS["judge"]
    for solution, expected in (("4 + 5 = 9\n#### 9", 9), ("4 + 5 = 10\n#### 10", 2)):
        prompt = render(
            "judge",
            schema=schema,
            task_description="arithmetic",
            question="What is 4 plus 5?",
            solution=solution,
        )
        answer = json.loads(oracle(Call("judge", prompt.messages, SamplingParams(max_new_tokens=64))))
        assert schema.model_validate(answer).score == expected


def test_sim_splits_are_disjoint_and_held_out_questions_distinct():
    from conftest import compose_config

    from pada.tasks import build_task

    splits = build_task(compose_config(["task=sim_arith"]).task).load(None)
    test, val, pool = ({e.prompt for e in s} for s in (splits.test, splits.val, splits.pool))
    assert len(test) == len(splits.test) == 500 and len(val) == len(splits.val) == 200
    assert not test & val and not test & pool and not val & pool


def _rate(role: str, texts: list[str], check) -> float:
    noise = NOISE
    answers = [json.loads(oracle(_call(role, t, i), noise)) for i, t in enumerate(texts)]
    return sum(check(t, a) for t, a in zip(texts, answers, strict=True)) / len(texts)


NOISE = {
    "analysis_wrong": 0.15,
    "analysis_vague": 0.2,
    "generation_drift": 0.15,
    "paraphrase_drift": 0.1,
    "verifier_false_accept": 0.1,
    "verifier_false_reject": 0.05,
}


def test_declared_noise_is_what_the_task_config_declares_and_reaches_the_oracle():
    from conftest import compose_config

    cfg = compose_config(["experiment=sim"])
    assert dict(cfg.task.teacher_noise) == NOISE and dict(cfg.teacher.script_options.noise) == NOISE
    rng = random.Random(0)
    problems = [make_problem(rng, "add", 1, "medium") for _ in range(1000)]
    texts = [f"Problem:\n{p.question}\n\nThe model's answer:\n#### 7" for p in problems]
    vague = _rate("error_analysis", texts, lambda t, a: not read_properties(a["missing_skill"]))
    wrong = _rate(
        "error_analysis",
        texts,
        lambda t, a: (
            read_properties(a["missing_skill"])
            not in ({}, {"skill": "add", "phrasing": 1, "magnitude": "medium"})
        ),
    )
    assert 0.16 <= vague <= 0.24 and 0.11 <= wrong <= 0.19
    gen = [
        f"Generate new problems with addition; two-digit numbers; imperative instructions. #{i}"
        for i in range(1000)
    ]
    drift = _rate(
        "generation",
        gen,
        lambda t, a: (
            (lambda p: (p.skill, p.phrasing, p.magnitude))(parse(a["question"])) != ("add", 1, "medium")
        ),
    )
    assert 0.11 <= drift <= 0.19
    right = [f"Problem:\n{p.question}\n\nProposed solution:\n{p.solution}" for p in problems]
    bad = [f"Problem:\n{p.question}\n\nProposed solution:\nx\n#### {p.answer + 1}" for p in problems]
    assert 0.02 <= _rate("verification", right, lambda t, a: not a["valid"]) <= 0.08
    assert 0.06 <= _rate("verification", bad, lambda t, a: a["valid"]) <= 0.14


def test_noise_joins_the_teacher_cache_identity(tmp_path):
    from conftest import compose_config

    from pada.teacher import build_teacher

    noisy = compose_config(["experiment=sim", f"paths.cache_dir={tmp_path}"])
    clean = compose_config(["experiment=sim", "~task.teacher_noise", f"paths.cache_dir={tmp_path}"])
    with build_teacher(noisy.teacher, tmp_path) as a, build_teacher(clean.teacher, tmp_path) as b:
        assert a.provider.model_id != b.provider.model_id and a.provider.model_id.startswith("sim_oracle+")
