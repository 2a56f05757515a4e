"""pattern_summary.v4 (issue 27): on multiple-choice tasks the summariser also sees how often each option
letter was the student's answer and the correct one, in the cluster's failures and in all validation
failures, since a letter preference (the demo's 135M student never answered B) is invisible to the
one-failure analyses the clusters are built from."""

from __future__ import annotations

import json

import pytest
from agent_support import empty_correction
from teacher_support import teacher_cfg

from pada.agent.patterns import Analysis, letter_counts, letter_recall, summarise
from pada.agent.report import markdown
from pada.teacher import build_teacher, register_script
from pada.types import EvalRecord

SEEN: list[str] = []


def _failure(i: int, answered: str | None, gold: str) -> EvalRecord:
    return EvalRecord(f"val/{i}", f"Q{i}", f"The best answer is {answered}.", answered, gold, False)


FAILURES = [
    _failure(0, "A", "B"),
    _failure(1, "C", "B"),
    _failure(2, "A", "D"),
    _failure(3, None, "B"),  # no letter found in the answer
    _failure(4, "C", "A"),
    _failure(5, "A", "C"),
]


@register_script("letter_counts_spy")
def spy(call) -> str:
    SEEN.append(call.messages[-1][1])
    return json.dumps({"name": "n", "description": "d"})


def test_letter_counts_count_answers_and_gold_most_frequent_first_ties_by_letter():
    assert letter_counts(FAILURES) == (
        "the model answered A 3, C 2, none 1; the correct answer was B 3, A 1, C 1, D 1"
    )
    assert letter_counts(FAILURES[:1]) == "the model answered A 1; the correct answer was B 1"


def test_no_letter_counts_off_multiple_choice_or_without_records():
    math = EvalRecord("gsm/0", "Q", "#### 41", "41", "42", False)
    assert letter_counts([math]) == "" and letter_counts([]) == ""
    assert letter_counts([*FAILURES, math]) == ""  # one gold that is not a letter: not a choice task


def _summarise(tmp_path, version: str, validation: list[EvalRecord]) -> list[str]:
    SEEN.clear()
    analyses = [Analysis(r.item_id, f"analysis of {r.item_id}") for r in validation[:4]]
    with build_teacher(teacher_cfg("scripted", tmp_path / version, model="letter_counts_spy")) as client:
        summarise(
            client, analyses, [[0, 1, 2], [3]], "science multiple-choice", 20, version, None, validation
        )
    return list(SEEN)


def test_a_v4_summary_shows_its_clusters_letters_and_all_failures_letters(tmp_path):
    first, second = _summarise(tmp_path, "v4", FAILURES)
    assert (
        "Option letters in the failures above: the model answered A 2, C 1; the correct answer was B 2, D 1.\n"
        "In all 6 failures on validation problems: the model answered A 3, C 2, none 1; the correct answer "
        "was B 3, A 1, C 1, D 1.\n"
    ) in first
    assert (
        "Option letters in the failures above: the model answered none 1; the correct answer was B 1."
        in second
    )


def test_v2_and_non_choice_tasks_show_no_letters(tmp_path):
    (v2_first, _) = _summarise(tmp_path, "v2", FAILURES)
    assert "Option letters" not in v2_first and "analysis of val/0" in v2_first
    math = [EvalRecord(f"gsm/{i}", "Q", "#### 1", "1", "2", False) for i in range(4)]
    (math_first, _) = _summarise(tmp_path, "v4", math)
    assert "Option letters" not in math_first and "In all" not in math_first


def _report(letters: str = "", letter_recall: str = "") -> dict:
    """A patterns.json report with no patterns, only the letter lines' inputs."""
    failures = {"val": 6, "sent": 6, "analysed": 6, "train": 0, "letters": letters}
    return {
        "iteration": 0,
        "failures": {**failures, "letter_recall": letter_recall},
        "grouping": {"how": "single", "k": 1},
        "patterns": [],
        "error_correction": empty_correction(),
    }


def test_patterns_md_states_the_validation_failures_letters_on_multiple_choice_only():
    text = markdown(_report(letters=letter_counts(FAILURES)))
    assert (
        "Validation failures: 6 (analysed 6); wrong seed examples: 0.\n"
        "Option letters in the validation failures: the model answered A 3, C 2, none 1; the correct answer "
        "was B 3, A 1, C 1, D 1.\n"
    ) in text
    assert "Option letters" not in markdown(_report())


def test_a_v4_member_missing_from_validation_is_an_error_not_a_prompt_without_counts(tmp_path):
    analyses = [Analysis("val/0", "analysis of val/0")]
    with (
        build_teacher(teacher_cfg("scripted", tmp_path, model="letter_counts_spy")) as client,
        pytest.raises(KeyError, match="val/0"),
    ):
        summarise(client, analyses, [[0]], "science multiple-choice", 20, "v4", None, FAILURES[4:])


def _scored(i: int, answered: str | None, gold: str) -> EvalRecord:
    return EvalRecord(
        f"val/{i}", f"Q{i}", f"The best answer is {answered}.", answered, gold, answered == gold
    )


VALIDATION = [*FAILURES, _scored(6, "A", "A"), _scored(7, "C", "C"), _scored(8, "D", "D")]


def test_letter_recall_is_over_every_validation_item_and_empty_off_multiple_choice():
    # A: 1 of 2 (val/4 answered C), B: 0 of 3, C: 1 of 2, D: 1 of 2; recalls 0.5, 0, 0.5, 0.5 -> sd 0.2165
    assert letter_recall(VALIDATION) == "A 1/2, B 0/3, C 1/2, D 1/2 (RStd 21.7 points)"
    assert letter_recall([EvalRecord("gsm/0", "Q", "#### 41", "41", "42", False)]) == ""
    assert letter_recall([]) == ""


def test_patterns_md_states_the_measured_letter_recall_when_there_is_one():
    text = markdown(_report(letter_recall=letter_recall(VALIDATION)))
    assert (
        "Recall per correct letter over the validation items (measured, not the teacher's): A 1/2, B 0/3, "
        "C 1/2, D 1/2 (RStd 21.7 points).\n"
    ) in text
    assert "Recall per correct letter" not in markdown(_report())
