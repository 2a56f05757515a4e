"""The runner's semantic decontamination (pada/run/semantic.py): the same held-out problem in other words is
rejected whatever the method writes into meta; fresh problems pass (classifier numbers: docs/baselines.md)."""

from __future__ import annotations

from collections import Counter

import pytest

from pada.run.fairness import Decontaminator
from pada.run.semantic import Item, Paraphrases, Rule, numbers_of, pair_reason, words_to_digits
from pada.types import Example


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("Add forty-two and twenty-five.", "Add 42 and 25."),
        ("One hundred and five apples and three pears", "105 apples and 3 pears"),
        ("twenty one pies, two thousand three hundred and twelve", "21 pies, 2312"),
        ("Which is larger, six or nine?", "Which is larger, 6 or 9?"),
        (
            "How many does the one with more have? Someone knows.",
            "How many does the one with more have? Someone knows.",
        ),
    ],
)
def test_number_words_become_digits(text, digits):
    assert words_to_digits(text) == digits


def test_numbers_are_canonical():
    assert numbers_of("$1,200.50 and 3.50 and 2") == Counter({"1200.5": 1, "3.5": 1, "2": 1})


def _item(text: str, answer: float | None) -> Item:
    from pada.run.semantic import content_words, significant_digits

    numbers = numbers_of(words_to_digits(text))
    specific = sum(significant_digits(n) for n in numbers)  # no held-out set here: no number is common
    return Item(text, numbers, content_words(text), answer, numbers, specific)


@pytest.mark.parametrize(
    ("candidate", "answer", "cosine", "reason"),
    [
        ("Sum 42 and 25.", 67, 0.8, "paraphrase_numbers"),  # specific numbers, same topic
        ("Compute the sum of forty-two and twenty-five.", 67, 0.6, "paraphrase_numbers"),
        ("What is 42 minus 25?", 17, 0.95, None),  # same numbers, another answer: another problem
        ("Add 42 and 26.", 68, 0.97, None),  # a number changed: the surface near-copy test owns it
        ("Sum 3 and 5.", 8, 0.8, "paraphrase_answer"),  # small numbers, all of them, the same answer
        ("Sum 3 and 5.", 8, 0.3, None),  # ...but another topic
        ("Multiply 3 by 5.", 15, 0.9, None),  # small numbers, another answer: another problem
    ],
)
def test_the_rule(candidate, answer, cosine, reason):
    held = "Add 42 and 25." if "42" in candidate or "forty" in candidate else "Add 3 and 5."
    held_answer = 67 if "42" in held else 8
    got = pair_reason(_item(candidate, answer), _item(held, held_answer), cosine, Rule())
    assert got == reason


HELD = [
    ("Add 42 and 25.", "67"),
    ("Mia has 318 stamps and gives away 45. How many stamps are left?", "273"),
    ("Which gas do plants take in from the air to make their food?", "B"),
    ("What is 7 times 8?", "56"),
]


def _example(item_id: str, question: str, answer: str, meta_question: str | None = None) -> Example:
    meta = {"question": meta_question if meta_question is not None else question}
    return Example(item_id, question, f"It is {answer}.\n#### {answer}", answer, "synthetic:probe", meta)


def test_common_numbers_are_not_specific():
    """MBPP's small test lists ([1, 2, 3, 4, 5]) recur across held-out items: they do not make a problem
    specific, so a fresh item that shares them is not taken for a restatement on numbers alone."""
    own = [f"{417 + 2 * i}" for i in range(30)]  # one 3-significant-digit number per item
    lists = [f"Write a function of a list. Tests: f([1, 2, 3, 4, 5, {n}])" for n in own]
    held = [_example(f"test/{i}", q, "x") for i, q in enumerate(lists)]
    assert [item.specific for item in Paraphrases(held).items] == [3] * 30  # 1-5 are in every item
    one = Paraphrases(held[:1]).items[0]
    assert one.specific == 8  # alone, every number counts: 1+1+1+1+1+3


@pytest.fixture(scope="module")
def decontaminator() -> Decontaminator:
    held = [_example(f"test/{i}", q, a) for i, (q, a) in enumerate(HELD)]
    return Decontaminator(held, semantic=Paraphrases(held))


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Sum 42 and 25.", "67"),  # the synonym swap
        ("What is 42 plus 25?", "67"),  # the world's other phrasing
        ("Compute the sum of 42 and 25.", "67"),  # free paraphrase
        ("Add forty-two and twenty-five.", "67"),  # digits as words
        (
            "Ingrid owns 318 stamps and hands 45 to a friend. How many stamps remain?",
            "273",
        ),  # renamed, reworded
        (
            "It is a rainy Sunday at the post office. Mia has 318 stamps and gives away 45. How many are left?",
            "273",
        ),
        ("Plants take in which gas from the air to make their food?", "B"),  # no numbers: the wording decides
    ],
)
def test_paraphrases_are_rejected_whatever_meta_says(decontaminator, question, answer):
    stub = _example("p/0", question, answer, meta_question="stub")  # meta is never read by the semantic check
    assert decontaminator.reasons([stub]) != [None]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is 42 minus 25?", "17"),  # same numbers, another problem
        ("Add 44 and 29.", "73"),
        ("Ben has 512 coins and gets 87 more. How many coins does Ben have now?", "599"),
        ("What is 7 plus 8?", "15"),
        ("Which part of a plant takes in water from the soil?", "A"),
    ],
)
def test_fresh_problems_pass(decontaminator, question, answer):
    assert decontaminator.reasons([_example("f/0", question, answer)]) == [None]


def test_an_unknown_semantic_key_is_an_error_and_enabled_false_turns_it_off():
    from conftest import compose_config

    from pada.errors import PadaError
    from pada.run.fairness import build_paraphrases

    with pytest.raises(PadaError, match=r"unknown key\(s\) \['cosine'\]"):
        build_paraphrases(compose_config(["+decontamination.semantic.cosine=0.5"]), [])
    assert build_paraphrases(compose_config(["decontamination.semantic.enabled=false"]), []) is None
    built = build_paraphrases(compose_config(["decontamination.semantic.wording_cosine=0.95"]), [])
    assert built.rule == Rule(wording_cosine=0.95)


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("7 * 8 = 56\n#### 56", 56.0),
        ("#### 1,234", 1234.0),
        ("#### -3.50", -3.5),
        ("####5", None),  # no space: GSM8K's strict match (lm-eval's) reads no answer
        ("#### 8\nthen #### 9", 8.0),  # the first '#### N', as the task scores it
        ("#### 1.5.2", None),  # not one number
        ("It is 56.", None),  # no '#### N' line: the flexible last number is a scoring fallback only
    ],
)
def test_a_target_answer_is_read_as_the_gsm8k_task_scores_it(target, value):
    """The semantic check reads a candidate's answer with the task's own strict '#### N' rule (one definition,
    pada/tasks/gsm8k.py), so the answer it compares is the one the student is scored on (issue 28)."""
    from conftest import compose_config

    from pada.run.semantic import answer_value, target_answer
    from pada.tasks import build_task

    task = build_task(compose_config(["task.extraction=strict"]).task)
    scored = task.extract(target)
    assert target_answer(target) == value
    assert target_answer(target) == (answer_value(scored) if scored is not None else None)
