"""Table 2's Cohen's κ and RStd columns: exact values on hand-computed cases, the identity with the accuracy,
and the rule that only multiple-choice (single-letter gold) columns get them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.collect import CELL_COLUMNS, ITEM_COLUMNS, Collected
from analysis.columns import KAPPA_LABEL, RSTD_LABEL, agreement_columns, chance_agreement


@pytest.mark.parametrize(
    ("answers", "gold", "kappa", "p_e"),
    [
        ("AAAA", "ABCD", 0.0, 0.25),  # one letter whatever the question: chance, however often it is right
        ("ABCD", "ABCD", 1.0, 0.25),
        ("AABB", "ABBB", 0.5, 0.5),  # p_o 3/4, p_e = 1/2·1/4 + 1/2·3/4
        ("BBAA", "ABBB", -0.5, 0.5),  # p_o 1/4: worse than the letter frequencies alone
    ],
)
def test_chance_agreement_on_hand_computed_cases(answers, gold, kappa, p_e):
    got_kappa, got_p_e = chance_agreement(pd.Series(list(answers)), pd.Series(list(gold)))
    assert got_kappa == pytest.approx(kappa) and got_p_e == pytest.approx(p_e)


def test_kappa_is_the_accuracy_above_chance_scaled():
    rng = np.random.default_rng(0)
    gold = pd.Series(rng.choice(list("ABCD"), 500))
    answers = pd.Series(np.where(rng.random(500) < 0.3, gold, rng.choice(["A", "C", ""], 500)))
    kappa, p_e = chance_agreement(answers, gold)
    accuracy = float((answers == gold).mean())
    assert kappa == pytest.approx((accuracy - p_e) / (1 - p_e))


def _collected(gold: dict[int, str], answers: dict[int, str]) -> Collected:
    items = [
        {
            "task": "t",
            "budget": 8,
            "method": "sft",
            "seed": seed,
            "split": "test",
            "item_id": f"i{i}",
            "correct": answers[seed][i] == g,
            "answer": answers[seed][i],
            "gold": g,
        }
        for seed in answers
        for i, g in enumerate(gold)
    ]
    return Collected(
        cells=pd.DataFrame([], columns=CELL_COLUMNS), items=pd.DataFrame(items, columns=ITEM_COLUMNS)
    )


def test_agreement_column_for_multiple_choice_gold_only():
    lettered = _collected("ABCD", {0: "AAAA", 1: "ABCD"})
    # RStd: seed 0 recalls A 1, B C D 0 (sd 43.30), seed 1 all 1 (sd 0); mean recall B = C = D = 0.5
    assert agreement_columns(lettered, ["sft"]) == {
        f"t b8 [{KAPPA_LABEL}]": {"sft": "0.50 ± 0.71 (25.0)"},
        f"t b8 [{RSTD_LABEL}]": {"sft": "21.7 ± 30.6 (B 50.0)"},
    }
    numeric = _collected(["12", "7", "3", "9"], {0: ["12", "7", "", "1"]})
    assert agreement_columns(numeric, ["sft"]) == {}


def test_rstd_column_names_the_least_recalled_letter_per_method():
    collected = _collected("ABBC", {0: "AACC", 1: "ACCC"})
    # seed 0: A 1/1, B 0/2, C 1/1 -> sd 47.14; seed 1: the same recalls; B is never recalled
    assert agreement_columns(collected, ["sft"])[f"t b8 [{RSTD_LABEL}]"] == {"sft": "47.1 ± 0.0 (B 0.0)"}


def test_runs_with_different_gold_letters_each_get_their_own_recalls():
    # seed 0's items have no D, seed 1's no A: a letter's mean recall is over the runs where it is gold
    collected = _collected("ABCD", {0: "ABCA", 1: "BBCD"})
    collected.items.loc[(collected.items["seed"] == 0) & (collected.items["item_id"] == "i3"), "gold"] = "A"
    collected.items.loc[(collected.items["seed"] == 1) & (collected.items["item_id"] == "i0"), "gold"] = "B"
    # seed 0: gold ABCA, answers ABCA: recalls A 1, B 1, C 1 (sd 0); seed 1: gold BBCD, answers BBCD: all 1
    columns = agreement_columns(collected, ["sft"])
    assert columns[f"t b8 [{RSTD_LABEL}]"] == {"sft": "0.0 ± 0.0 (A 100.0)"}


def test_a_letter_gold_only_in_another_column_is_not_the_lowest():
    arc, mmlu = _collected("ABCD", {0: "ABCA"}), _collected("ABC", {0: "AAA"})
    mmlu.items["task"] = "u"
    both = Collected(cells=arc.cells, items=pd.concat([arc.items, mmlu.items], ignore_index=True))
    columns = agreement_columns(both, ["sft"])
    assert columns[f"t b8 [{RSTD_LABEL}]"]["sft"].endswith("(D 0.0)")
    assert columns[f"u b8 [{RSTD_LABEL}]"]["sft"] == "47.1 (B 0.0)"  # no "recall D" NaN picked
