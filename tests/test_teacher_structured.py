"""Structured answers: JSON found in prose or fences, re-asks as new cache entries, failures counted."""

from __future__ import annotations

import json

import pytest
import teacher_support  # noqa: F401 - registers the test scripts
from teacher_support import teacher_cfg

from pada import dependencies
from pada.io import sha256_file
from pada.teacher import Request, StructuredOutputError, Teacher, parse_structured, render
from pada.teacher.schemas import GeneratedExample, Verdict

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
