"""Structured answers: JSON found in prose or fences, re-asks as new cache entries, failures counted."""

from __future__ import annotations

import json

import pytest
import teacher_support  # noqa: F401 - registers the test scripts
from teacher_support import teacher_cfg

from pada import dependencies
from pada.io import sha256_file
from pada.teacher import Request, StructuredOutputError, Teacher, parse_structured, render
from pada.teacher.schemas import GeneratedExample, JudgeScore, Verdict
from pada.teacher.structured import parse_structured_coerced

GOOD = {"question": "q", "solution": "s so 42", "answer": "42"}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(GOOD),
        f"```json\n{json.dumps(GOOD)}\n```",
        f"Here it is:\n```\n{json.dumps(GOOD, indent=2)}\n```\nHope that helps.",
        f"Sure. {json.dumps(GOOD)} Anything else?",
    ],
)
def test_parse_tolerates_fences_and_prose(text):
    assert parse_structured(text, GeneratedExample) == GeneratedExample(**GOOD)


@pytest.mark.parametrize(
    "text",
    [
        f"{json.dumps(GOOD)}\n\nNote: in the template {{answer}} stands for the number.",  # braces after
        f"Format: {{question, solution, answer}}. Here: {json.dumps(GOOD)} Done {{ok}}.",  # before and after
        f"```json\n{json.dumps(GOOD)}\n```\nThe set {{1, 2}} is small.",
        f"{json.dumps(GOOD)} and a second try {json.dumps(GOOD | {'answer': '43'})}",  # the first object
    ],
)
def test_parse_decodes_the_json_object_not_first_to_last_brace(text):
    assert parse_structured(text, GeneratedExample) == GeneratedExample(**GOOD)


@pytest.mark.parametrize(
    ("text", "expected", "coerced"),
    [
        ('{"valid": true, "answer": "18"}', Verdict(valid=True, answer="18"), False),
        ('{"valid": true, "answer": 18}', Verdict(valid=True, answer="18"), True),  # dspy#7809
        ('{"valid": true, "answer": -2.5}', Verdict(valid=True, answer="-2.5"), True),
        ('{"valid": "true", "answer": "18"}', Verdict(valid=True, answer="18"), True),
        ('{"valid": "no", "answer": "18"}', Verdict(valid=False, answer="18"), True),
        ('{"score": 7.0}', JudgeScore(score=7), True),
        ('{"score": "7"}', JudgeScore(score=7), True),
    ],
)
def test_unambiguous_lax_types_are_coerced_and_reported(text, expected, coerced):
    assert parse_structured_coerced(text, type(expected)) == (expected, coerced)
    assert parse_structured(text, type(expected)) == expected


@pytest.mark.parametrize(
    ("text", "schema"),
    [
        ('{"valid": true, "answer": true}', Verdict),  # "true", "True" or "yes": the task decides, not pada
        ('{"valid": "maybe", "answer": "18"}', Verdict),
        ('{"score": 7.5}', JudgeScore),
        ('{"valid": true, "answer": [18]}', Verdict),
    ],
)
def test_ambiguous_types_are_not_coerced(text, schema):
    with pytest.raises(ValueError):
        parse_structured(text, schema)


def test_a_number_for_a_string_costs_no_reask_and_is_counted(tmp_path):
    chat = [{"role": "user", "content": "Check this"}]
    with _teacher(tmp_path, "test_number_answer") as teacher:
        assert teacher.complete("verification", chat, schema=Verdict) == Verdict(
            valid=True, answer="18", reason="checked"
        )
        row = teacher.usage()["roles"]["verification"]
    assert (row["requests"], row["reasks"], row["parse_failures"], row["coerced"]) == (1, 0, 0, 1)


def test_parse_rejects_wrong_fields_and_no_json():
    with pytest.raises(ValueError, match="Field required"):
        parse_structured('{"question": "q"}', GeneratedExample)
    with pytest.raises(ValueError):
        parse_structured("no json here", Verdict)


def _teacher(tmp_path, script: str) -> Teacher:
    cfg = teacher_cfg("scripted", tmp_path, model=script)
    return Teacher(cfg, cfg.client.cache.path)


def test_reask_fixes_a_malformed_answer_and_replays_from_cache(tmp_path):
    chat = [{"role": "user", "content": "Make one example"}]
    with _teacher(tmp_path, "test_json_after_one_bad") as teacher:
        assert teacher.complete("generation", chat, schema=GeneratedExample) == GeneratedExample(**GOOD)
        row = teacher.usage()["roles"]["generation"]
        assert (row["requests"], row["calls"], row["reasks"], row["parse_failures"]) == (2, 2, 1, 0)
    with _teacher(tmp_path, "test_json_after_one_bad") as teacher:
        assert teacher.complete("generation", chat, schema=GeneratedExample) == GeneratedExample(**GOOD)
        assert teacher.provider.calls == 0  # both the bad answer and the re-ask came from the cache


def test_persistent_failures_are_counted_per_role_never_dropped(tmp_path):
    chat = [{"role": "user", "content": "Judge this"}]
    with _teacher(tmp_path, "test_never_json") as teacher:
        with pytest.raises(StructuredOutputError, match="role 'verification'"):
            teacher.complete("verification", chat, schema=Verdict)
        many = teacher.complete_many([Request("verification", chat, i, Verdict) for i in range(1, 4)])
        usage = teacher.usage()
    assert many == [None, None, None]
    row = usage["roles"]["verification"]
    assert (row["parse_failures"], row["reasks"], row["calls"]) == (4, 8, 12)  # 2 re-asks each, all counted
    assert usage["total"]["parse_failures"] == 4


def test_prompt_version_separates_cache_entries(tmp_path, monkeypatch):
    v1 = render("paraphrase", schema=None, question="How many apples?", json_schema="{}")
    v2 = type(v1)(role=v1.role, version="paraphrase.v2", messages=v1.messages)  # same text, new version
    with _teacher(tmp_path, "test_counter") as teacher:
        assert teacher.complete("paraphrase", v1) == teacher.complete("paraphrase", v2)
        assert teacher.provider.calls == 2


def test_fixture_table_script(tmp_path):
    table = tmp_path / "answers.json"
    table.write_text(json.dumps({"paraphrase": ["first", "second"]}))
    cfg = teacher_cfg("scripted", tmp_path, model="fixture", fixture=str(table))
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        answers = teacher.samples("paraphrase", [{"role": "user", "content": "x"}], 3)
    assert answers == ["first", "second", "first"]


def test_an_edited_fixture_table_is_answered_from_its_new_text_not_the_cache(tmp_path):
    table = tmp_path / "answers.json"
    table.write_text(json.dumps({"paraphrase": ["first"]}))
    cfg = teacher_cfg("scripted", tmp_path, model="fixture", fixture=str(table))
    chat = [{"role": "user", "content": "x"}]
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.samples("paraphrase", chat, 1) == ["first"]
    table.write_text(json.dumps({"paraphrase": ["edited"]}))  # the table decides the answers: part of the key
    with Teacher(cfg, cfg.client.cache.path) as teacher, dependencies.recording() as used:
        assert teacher.samples("paraphrase", chat, 1) == ["edited"]
    assert used == {str(table): sha256_file(table)}  # a stage that asked it re-runs when the table changes


def test_every_role_template_renders_with_its_schema():
    from pada.teacher import ROLES
    from pada.teacher.schemas import ROLE_SCHEMAS

    variables = {
        "task_description": "math",
        "question": "Q?",
        "reference": "R",
        "student_output": "S",
        "analyses": ["a1", "a2"],
        "pattern_name": "P",
        "pattern_description": "D",
        "guidance": "G",
        "examples": [{"question": "eq", "solution": "es"}],
        "solution": "sol",
    }
    for role in ROLES:
        prompt = render(role, schema=ROLE_SCHEMAS[role], **variables)
        assert [r for r, _ in prompt.messages] == ["system", "user"]
        assert prompt.version == f"{role}.v1"
        assert '"title"' in prompt.messages[1][1]  # the schema is in the user turn


def test_usage_delta_isolates_one_stage(tmp_path):
    from pada.teacher import usage_delta

    chat = [{"role": "user", "content": "x"}]
    with _teacher(tmp_path, "test_counter") as teacher:
        teacher.complete("strategy", chat)
        before = teacher.usage()
        teacher.samples("generation", chat, 2)
        teacher.complete("strategy", chat)  # a cache hit
        delta = usage_delta(teacher.usage(), before)
    assert sorted(delta["roles"]) == ["generation", "strategy"]
    assert (delta["roles"]["strategy"]["calls"], delta["roles"]["strategy"]["cache_hits"]) == (0, 1)
    assert (delta["total"]["calls"], delta["total"]["requests"]) == (2, 3)


def test_usage_sum_adds_stages_and_prices_cached_tokens(tmp_path):
    from pada.teacher import usage_delta, usage_sum

    chat = [{"role": "user", "content": "a b c"}]
    cfg = teacher_cfg("scripted", tmp_path, model="test_counter", **{"pricing.input_per_mtok": 1e6})
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        start = teacher.usage()
        teacher.complete("strategy", chat)  # 3 prompt tokens, by the script's word count
        middle = teacher.usage()
        teacher.complete("strategy", chat)  # a hit: no spend, but the same intrinsic cost
        stages = [usage_delta(middle, start), usage_delta(teacher.usage(), middle)]
    total = usage_sum(stages)["roles"]["strategy"]
    assert (total["calls"], total["cache_hits"], total["tokens_in"], total["cached_tokens_in"]) == (
        1,
        1,
        3,
        3,
    )
    assert (total["dollars"], total["dollars_uncached"]) == (3.0, 6.0)
