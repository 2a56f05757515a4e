"""Patterns that name a shared cause (issue 27): the kind of mistake apart from the topic (error_analysis.v5),
clustering on it (patterns.embed_fields), and summaries that say which members share the cause
(pattern_summary.v3), with a cluster that shares none reported as such."""

from __future__ import annotations

import json
import re

import pytest
from agent_support import empty_correction
from conftest import compose_config
from teacher_support import teacher_cfg

from pada.agent.patterns import Analysis, analyse, group, shared_words, summarise
from pada.agent.report import markdown, pattern_rows
from pada.errors import PadaError
from pada.methods.base import build_method
from pada.teacher import build_teacher, register_script
from pada.types import EvalRecord

# Two kinds of mistake crossed with two topics: embedded whole, the topic words dominate; embedded as the
# kind of mistake alone, the failures group by what went wrong.
CAUSES = {
    "negation": "ignored the word NOT in the question and chose a true statement",
    "variable": "treated the measured outcome as the variable the experimenter changes",
}
TOPICS = {
    "weather": "about high-pressure systems, rain clouds and the weather over a long dry summer",
    "plants": "about plants, garlic, fungus cultures growing on agar and their growth in sunlight",
}
ITEMS = [(cause, topic) for cause in ("negation", "variable", "negation") for topic in ("weather", "plants")]


def _record(i: int) -> EvalRecord:
    cause, topic = ITEMS[i]
    return EvalRecord(f"val/{i}", f"Q{i} [{cause}|{topic}]", "The best answer is A.", "A", "C", False)


@register_script("shared_cause_test")
def shared_cause_script(call) -> str:
    text = call.messages[-1][1]
    if call.role == "error_analysis":
        cause, topic = re.search(r"\[(\w+)\|(\w+)\]", text).groups()
        return json.dumps(
            {
                "error": f"On a question {TOPICS[topic]} it failed.",
                "root_cause": CAUSES[cause],
                "scenario": topic,
            }
        )
    assert call.role == "pattern_summary", call.role
    members = [1, 2] if "NOT" in text else [2]  # the variable cluster: the summariser finds nothing shared
    return json.dumps(
        {"description": "d", "members": [*members, 9], "name": "NOT ignored" if "NOT" in text else "x"}
    )


@pytest.fixture
def client(tmp_path):
    with build_teacher(teacher_cfg("scripted", tmp_path, model="shared_cause_test")) as teacher:
        yield teacher


def _patterns_cfg(embed_fields):
    cfg = compose_config(
        [
            "method=pada",
            "method.patterns.embedder=bundled:all-MiniLM-L6-v2",
            "method.patterns.min_per_cluster=2",
        ]
    ).method.patterns
    cfg.embed_fields = embed_fields
    return cfg


def test_v5_analyses_keep_the_kind_of_mistake_apart_from_the_problem(client):
    analyses = analyse(client, [_record(0)], "science multiple-choice", "v5")
    assert analyses[0].parts == {
        "error": f"On a question {TOPICS['weather']} it failed.",
        "root_cause": CAUSES["negation"],
        "scenario": "weather",
    }
    assert (
        analyses[0].text
        == f"{CAUSES['negation']} (on its problem: On a question {TOPICS['weather']} it failed.)"
    )
    assert analyses[0].fields == (
        CAUSES["negation"],
        "weather",
        f"On a question {TOPICS['weather']} it failed.",
    )


def test_embedding_the_root_cause_groups_failures_by_the_kind_of_mistake_not_the_topic(client):
    analyses = analyse(client, [_record(i) for i in range(len(ITEMS))], "science multiple-choice", "v5")
    by_cause, _ = group(analyses, _patterns_cfg(["root_cause"]), seed=0)
    assert sorted(map(sorted, by_cause)) == [[0, 1, 4, 5], [2, 3]]
    whole, _ = group(
        analyses, _patterns_cfg(None), seed=0
    )  # the whole analysis: topic words split the causes
    assert sorted(map(sorted, whole)) != [[0, 1, 4, 5], [2, 3]]


def test_shared_words_are_content_words_in_two_or_more_texts_most_shared_first():
    texts = [
        "ignored the word NOT",
        "the model ignored a negation word",
        "chose the word it saw",
        "unrelated",
    ]
    assert shared_words(texts) == ["word", "ignored"]
    assert shared_words(["one text only"]) == [] and shared_words([]) == []


def test_a_v3_summary_lists_who_shares_the_cause_and_a_cluster_without_one_is_reported(client, tmp_path):
    analyses = analyse(client, [_record(i) for i in range(len(ITEMS))], "science multiple-choice", "v5")
    seen = []

    @register_script("shared_cause_spy")
    def spy(call):
        seen.append(call.messages[-1][1])
        return shared_cause_script(call)

    groups = [[0, 1, 4], [2, 3], [5]]
    with build_teacher(teacher_cfg("scripted", tmp_path / "spy", model="shared_cause_spy")) as spy_client:
        patterns = summarise(
            spy_client, analyses, groups, "science multiple-choice", 20, "v3", ["root_cause"]
        )
    assert (
        "Words that several of these kinds of mistake share: ignored, word, question, chose, true, statement."
        in seen[0]
    )
    assert [(p.name, p.supported_by, p.shared_cause) for p in patterns] == [
        ("NOT ignored", ["val/0", "val/1"], True),  # 9 is not a member's number: dropped
        ("x", ["val/3"], False),
        ("NOT ignored", ["val/5"], None),  # one failure: nothing to share
    ]
    rows = pattern_rows(patterns, {}, representatives=5)
    assert [(r["supported_by"], r["shared_cause"]) for r in rows] == [
        (["val/0", "val/1"], True),
        (["val/3"], False),
        (["val/5"], None),
    ]
    report = {
        "iteration": 0,
        "failures": {"val": 6, "sent": 6, "analysed": 6, "train": 0},
        "grouping": {"how": "kmeans", "k": 3, "chosen_by": "elbow"},
        "patterns": rows,
        "error_correction": empty_correction(),
    }
    text = markdown(report)
    assert "| x (no shared cause) | 2 |" in text and "| NOT ignored | 3 |" in text
    assert "Shared by 2 of 3: val/0, val/1." in text
    assert (
        "**No shared cause.** The summariser found no mistake that two of these failures share (it named 1)"
        in text
    )


def test_a_v2_summary_reports_no_support_as_before(tmp_path):
    analyses = [Analysis("v0", "a"), Analysis("v1", "b")]

    @register_script("v2_summary_test")
    def v2(call):
        return json.dumps({"name": "n", "description": "d"})

    with build_teacher(teacher_cfg("scripted", tmp_path / "v2", model="v2_summary_test")) as v2_client:
        (pattern,) = summarise(v2_client, analyses, [[0, 1]], "science", 20)
    assert (pattern.name, pattern.supported_by, pattern.shared_cause) == ("n", [], None)


def test_embed_fields_the_analysis_prompt_does_not_ask_for_is_one_clear_error():
    cfg = compose_config(["method=pada", "method.patterns.embed_fields=[root_cause]"]).method
    with pytest.raises(PadaError, match=r"error_analysis.v3 answers have no field \['root_cause'\]"):
        build_method(cfg)
    cfg.analysis_prompt = "v5"
    assert build_method(cfg).cfg.patterns.embed_fields == ["root_cause"]


def test_the_v5_prompt_shows_the_chosen_and_the_gold_option_text(tmp_path):
    seen = []

    @register_script("option_spy")
    def spy(call):
        seen.append(call.messages[-1][1])
        return json.dumps({"error": "e", "root_cause": "r", "scenario": "s"})

    question = "Question: What results?\nA. fog\nB. rain\nC. drought\nD. tornado\nEnd with the letter."
    record = EvalRecord("val/0", question, "The best answer is D.", "D", "C", False)
    with build_teacher(teacher_cfg("scripted", tmp_path, model="option_spy")) as spy_client:
        analyse(spy_client, [record, EvalRecord("val/1", "2 + 2?", "5", "5", "4", False)], "science", "v5")
    assert 'Answer extracted from the response: D ("tornado")\nGold answer: C ("drought")' in seen[0]
    assert "Answer extracted from the response: 5\nGold answer: 4\n" in seen[1]  # no lettered options
