"""Selection bias of a multiple-choice model: its recall per correct option letter and their spread, RStd.

Zheng et al. 2024 ("Large Language Models Are Not Robust Multiple Choice Selectors", ICLR 2024, §2) measure
a model's preference for some option IDs whatever the question as RStd, the standard deviation of its
recalls over the option IDs: the recall of letter L is the fraction of the items whose correct answer is L
that the model answers L. RStd is 0 when every letter is recalled equally often. The paper's released code
(chujiezheng/LLM-MCQ-Bias) does not include the computation; here the deviation is the population one
(numpy's default, ddof 0) over the letters that are correct at least once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LETTER = re.compile(r"[A-Z]")  # a multiple-choice gold answer (ARC, MMLU): one capital letter
NO_LETTER = "none"  # the label of an answer that is not one letter: it recalls no letter


@dataclass(frozen=True)
class SelectionBias:
    """Per correct letter (sorted) how many of its items the model answered with it, and RStd in points."""

    hits: dict[str, int]  # letter -> items with that gold answer the model answered with it
    totals: dict[str, int]  # letter -> items with that gold answer
    rstd: float  # points (0-100): the population sd of the recalls hits/totals

    def text(self) -> str:
        """e.g. "A 4/10, B 0/9, C 5/7, D 3/6 (RStd 25.9 points)"."""
        recalls = ", ".join(f"{k} {self.hits[k]}/{self.totals[k]}" for k in self.totals)
        return f"{recalls} (RStd {self.rstd:.1f} points)"


def is_multiple_choice(gold: Sequence[str]) -> bool:
    """Whether there are gold answers and every one is a single capital letter."""
    return bool(gold) and all(LETTER.fullmatch(g.strip()) for g in gold)


def answer_letter(answer: object) -> str:
    """``answer`` stripped when it is one capital letter, else ``NO_LETTER`` (None, NaN, "", any other text)."""
    return answer.strip() if isinstance(answer, str) and LETTER.fullmatch(answer.strip()) else NO_LETTER


def selection_bias(answers: Sequence[object], gold: Sequence[str]) -> SelectionBias:
    """RStd (Zheng et al. 2024) of ``answers`` (the extracted answers, read by ``answer_letter``) against
    ``gold`` (single letters), both of length n. Raises ValueError when the lengths differ or a gold answer
    is not one capital letter (``is_multiple_choice``)."""
    if len(answers) != len(gold):
        raise ValueError(f"selection_bias: {len(answers)} answers for {len(gold)} gold answers")
    if not is_multiple_choice(gold):
        raise ValueError("selection_bias: every gold answer must be one capital letter")
    pairs = [(g.strip(), answer_letter(a)) for a, g in zip(answers, gold, strict=True)]
    totals = dict(sorted(Counter(g for g, _ in pairs).items()))
    hits = {k: sum(g == a == k for g, a in pairs) for k in totals}
    recalls = [hits[k] / totals[k] for k in totals]
    return SelectionBias(hits, totals, float(np.std(recalls)) * 100)
