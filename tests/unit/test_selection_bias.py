"""RStd, the selection bias of Zheng et al. 2024 (pada.selection_bias): hand-computed recalls per correct
letter and their population standard deviation, in points."""

from __future__ import annotations

import math

import pytest

from pada.selection_bias import is_multiple_choice, selection_bias


def test_answering_one_letter_recalls_only_that_letter():
    bias = selection_bias(["A"] * 8, list("AABBCCDD"))
    assert bias.hits == {"A": 2, "B": 0, "C": 0, "D": 0} and bias.totals == dict.fromkeys("ABCD", 2)
    # recalls 1, 0, 0, 0: mean 0.25, variance (0.75² + 3 · 0.25²) / 4 = 0.1875
    assert bias.rstd == pytest.approx(100 * math.sqrt(0.1875))
    assert bias.text() == "A 2/2, B 0/2, C 0/2, D 0/2 (RStd 43.3 points)"


def test_equal_recall_for_every_letter_is_no_bias_whatever_the_accuracy():
    bias = selection_bias(["A", None, "A", "B"], ["A", "A", "B", "B"])
    assert (bias.hits, bias.rstd) == ({"A": 1, "B": 1}, 0.0)


def test_answers_that_are_not_one_letter_recall_nothing_and_letters_never_correct_are_left_out():
    bias = selection_bias(["E", "a", "The best answer is C.", "C"], ["C", "A", "C", "C"])
    assert (bias.hits, bias.totals) == ({"A": 0, "C": 1}, {"A": 1, "C": 3})
    assert bias.rstd == pytest.approx(100 * 1 / 6)  # recalls 0 and 1/3
    assert selection_bias([float("nan"), "", None], ["A", "A", "A"]).hits == {
        "A": 0
    }  # pandas' missing values


def test_unequal_lengths_and_gold_that_is_not_a_letter_are_errors():
    with pytest.raises(ValueError, match="3 answers for 2 gold"):
        selection_bias(["A", "B", "C"], ["A", "B"])
    with pytest.raises(ValueError, match="one capital letter"):
        selection_bias(["42"], ["42"])
    assert not is_multiple_choice([]) and not is_multiple_choice(["A", "42"]) and is_multiple_choice([" B "])


def test_the_documented_example():
    gold = ["A"] * 10 + ["B"] * 9 + ["C"] * 7 + ["D"] * 6
    answers = ["A"] * 4 + ["C"] * 6 + ["A"] * 9 + ["C"] * 5 + ["D"] * 2 + ["D"] * 3 + ["A"] * 3
    # recalls 0.4, 0, 5/7, 0.5: mean 0.4036, population sd 0.2592
    assert selection_bias(answers, gold).text() == "A 4/10, B 0/9, C 5/7, D 3/6 (RStd 25.9 points)"
