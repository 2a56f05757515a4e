"""SIMULATION: the oracle teacher answers PaDA-Agent's ``error_analysis.v5`` and ``pattern_summary.v3`` in
their schemas (RootCauseAnalysis, SharedCause) with the information it gives the older versions: the same
properties of the failed item, the same declared noise, nothing more."""

from __future__ import annotations

import json
import random
import re

import pytest
from conftest import compose_config

from pada.agent.patterns import _analysis
from pada.sim.oracle import oracle, read_properties
from pada.sim.world import MAGNITUDES, NAMES, SKILLS, THINGS, Problem, make_problem
from pada.teacher import render
from pada.teacher.providers.base import Call, SamplingParams
from pada.teacher.schemas import PatternSummary, RootCauseAnalysis, SharedCause, schema_for

PARAMS = SamplingParams(max_new_tokens=256)


def _noise() -> dict:
    return dict(compose_config(["experiment=sim"]).task.teacher_noise)  # the world's declared noise


def _prompt(problem: Problem):
    """The error_analysis.v5 prompt of ``problem`` answered wrongly."""
    return render(
        "error_analysis",
        "v5",
        schema=RootCauseAnalysis,
        task_description="arithmetic",
        question=problem.question,
        student_output="#### 7",
        extracted="7",
        gold=str(problem.answer),
        extracted_option="",
        gold_option="",
        verdict="incorrect",
    )


def _failure(i: int):
    rng = random.Random(i)
    return _prompt(
        make_problem(rng, rng.choice(list(SKILLS)), rng.randrange(3), rng.choice(list(MAGNITUDES)))
    )


def _answer(role: str, messages, version: str, **options) -> dict:
    return json.loads(oracle(Call(role, messages, PARAMS, prompt_version=version), **options))


@pytest.mark.parametrize("fidelity", [1.0, 0.5])
def test_v5_analyses_name_exactly_what_the_older_answer_names(fidelity):
    """Same messages, same draws: the v5 answer's fields together name the same skill, phrasing and
    magnitude as the v3 schema's answer (or none when that one is vague); its root cause carries no number,
    name or object of the problem."""
    noise, named, vague = _noise(), 0, 0
    for i in range(120):
        messages = _failure(i).messages
        old = _answer(
            "error_analysis", messages, "error_analysis.v3", noise=noise, analysis_fidelity=fidelity
        )
        new = _answer(
            "error_analysis", messages, "error_analysis.v5", noise=noise, analysis_fidelity=fidelity
        )
        RootCauseAnalysis.model_validate(new)
        assert read_properties(" ".join(new.values())) == read_properties(" ".join(old.values())), (old, new)
        words = set(re.findall(r"\w+", new["root_cause"].lower()))
        assert not re.search(r"\d", new["root_cause"]) and not words & {w.lower() for w in NAMES + THINGS}
        named += bool(read_properties(new["root_cause"]))
        vague += not read_properties(" ".join(new.values()))
    assert named and vague  # both kinds occur: the declared noise (and fidelity) reach v5 too


def _summary(analyses: list[str]):
    return render(
        "pattern_summary",
        "v3",
        schema=SharedCause,
        task_description="arithmetic",
        analyses=analyses,
        shared_words=[],
    ).messages


def _v5_text(skill: str, magnitude: str, phrasing: int) -> str:
    """The oracle's noiseless v5 analysis of such a failure as the summariser is shown it (PaDA-Agent's own
    formatting: pada.agent.patterns._analysis)."""
    messages = _prompt(make_problem(random.Random(0), skill, phrasing, magnitude)).messages
    answer = RootCauseAnalysis(**_answer("error_analysis", messages, "error_analysis.v5"))
    return _analysis("val/0", answer).text


def test_v3_summaries_list_the_members_whose_analyses_name_the_summarised_cause():
    shared = [_v5_text("mul", "medium", 2)] * 3
    messages = _summary(
        [shared[0], "The model made a mistake somewhere. (vague)", *shared[1:], _v5_text("sub", "small", 0)]
    )
    answer = _answer("pattern_summary", messages, "pattern_summary.v3")
    SharedCause.model_validate(answer)
    assert answer["members"] == [1, 3, 4]  # the vague one and the subtraction are not members
    old = _answer("pattern_summary", messages, "pattern_summary.v2")
    PatternSummary.model_validate(old)
    assert (answer["name"], answer["description"]) == (old["name"], old["description"])
    assert answer["name"] == "multiplication / two-digit numbers / word problems about people"


def test_a_v3_cluster_with_no_shared_cause_lists_one_member():
    messages = _summary([_v5_text("mul", "medium", 2), _v5_text("sub", "small", 0), "A vague mistake."])
    answer = _answer("pattern_summary", messages, "pattern_summary.v3")
    assert len(answer["members"]) == 1


def test_every_versioned_schema_has_an_oracle_answer():
    """A new prompt version with its own schema (pada.teacher.schemas.VERSIONED_SCHEMAS) must get one here."""
    from pada.sim.oracle import VERSIONED
    from pada.teacher.schemas import VERSIONED_SCHEMAS

    assert set(VERSIONED) == set(VERSIONED_SCHEMAS)
    assert schema_for("error_analysis", "v5") is RootCauseAnalysis
