"""Prompts show a filled-in example answer, not the JSON Schema document (issue 26): a small teacher copies
the document (patterns named "PatternSummary", field descriptions as values)."""

from __future__ import annotations

import json

import pytest
from conftest import compose_config

from pada.teacher import render
from pada.teacher.examples import EXAMPLES, example_json, field_lines
from pada.teacher.schemas import (
    ROLE_SCHEMAS,
    VERSIONED_SCHEMAS,
    ErrorAnalysis,
    JudgeScore,
    Paraphrase,
    PatternSummary,
    RootCauseAnalysis,
    SharedCause,
    Strategy,
    Verdict,
)

COMMON = {"task_description": "grade-school math", "question": "Q?", "solution": "S #### 3", "reference": "R"}
NEW_VERSIONS = [
    (
        "error_analysis",
        "v3",
        ErrorAnalysis,
        {"student_output": "o", "extracted": "1", "gold": "3", "verdict": "incorrect"},
    ),
    ("error_analysis", "v4", ErrorAnalysis, {"student_output": "o"}),
    (
        "error_analysis",
        "v5",
        RootCauseAnalysis,
        {
            "student_output": "o",
            "extracted": "1",
            "gold": "3",
            "verdict": "incorrect",
            "extracted_option": "",
            "gold_option": "",
        },
    ),
    ("pattern_summary", "v3", SharedCause, {"analyses": ["a", "b"], "shared_words": ["w"]}),
    ("lai_contrast_analysis", "v2", ErrorAnalysis, {"student_output": "o", "contrasts": []}),
    ("pattern_summary", "v2", PatternSummary, {"analyses": ["a", "b"]}),
    ("strategy", "v2", Strategy, {"pattern_name": "n", "pattern_description": "d"}),
    ("verification", "v3", Verdict, {}),
    ("paraphrase", "v2", Paraphrase, {}),
    ("judge", "v2", JudgeScore, {}),
]


def test_every_example_is_a_valid_answer_of_its_schema():
    schemas = {s.__name__: s for s in [*ROLE_SCHEMAS.values(), *VERSIONED_SCHEMAS.values()]}
    assert set(EXAMPLES) <= set(schemas)
    for name in EXAMPLES:
        assert schemas[name].model_validate_json(example_json(schemas[name])) == schemas[name](
            **EXAMPLES[name]
        )
    assert field_lines(Verdict).splitlines() == [
        "- valid (bool): true if the problem is well-posed and the solution correct",
        "- answer (str): your own final answer",
        "- reason (str)",
    ]


@pytest.mark.parametrize(("role", "version", "schema", "variables"), NEW_VERSIONS)
def test_the_new_versions_show_an_example_answer_and_no_schema_document(role, version, schema, variables):
    prompt = render(role, version, schema=schema, **{**COMMON, **variables})
    text = "\n".join(content for _, content in prompt.messages)
    assert example_json(schema) in text and field_lines(schema) in text
    assert '"properties"' not in text and '"title"' not in text  # no JSON Schema document
    assert prompt.version == f"{role}.{version}"
    json.loads(example_json(schema))


def test_the_shipped_methods_ask_with_the_example_answer_versions():
    pada = compose_config(["method=pada"]).method
    assert (pada.analysis_prompt, pada.qc.verification_prompt, pada.qc.judge.prompt) == ("v3", "v3", "v2")
    assert compose_config(["method=auggpt"]).method.prompt_version == "v2"


def test_an_answer_that_copies_the_example_is_not_kept():
    """Seen with the 0.5B llama.cpp teacher: strategy.v2 answered with the example's strategy word for word."""
    from pada.teacher.structured import parse_answer

    copied = "{\"strategy\": \"VARY the relation phrase ('less than', 'off', 'fewer than', 'twice as many') and  the order in which the quantities appear; every solution first restates the relation as an equation, then computes.\"}"
    with pytest.raises(ValueError, match=r"copies the prompt's example answer \(strategy\)"):
        parse_answer(copied, "stop", Strategy, 200)
    own = {
        "valid": False,
        "answer": "30",
        "reason": "3 + 4 is 7, not 12.",
    }  # a short value may match by chance
    assert parse_answer(json.dumps(own), "stop", Verdict, 200) == (Verdict(**own), False)


@pytest.mark.parametrize(("role", "version", "schema", "variables"), NEW_VERSIONS)
def test_each_example_version_also_renders_without_its_example(role, version, schema, variables):
    """``Prompt.without_example`` is the same text minus the two example lines (issue 27: a grammar-bound
    0.5B teacher copied the example); ``messages`` keep the example, byte for byte as before."""
    prompt = render(role, version, schema=schema, **{**COMMON, **variables})
    shown = "\n".join(content for _, content in prompt.messages)
    bare = "\n".join(content for _, content in prompt.without_example)
    example = "\nFor example (the form only; write your own content):\n" + example_json(schema)
    assert shown.endswith(field_lines(schema) + example)
    assert bare == shown.removesuffix(example)
    assert example_json(schema) not in bare


def test_a_prompt_without_an_example_has_no_second_text():
    prompt = render("generation", "v1", schema=Strategy, **COMMON, guidance="g", examples=[])
    assert prompt.without_example is None
