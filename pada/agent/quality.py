"""Quality control of generated examples: format and answer key, decontamination, deduplication, execution,
answer verification and an optional judge score.

Each check returns the rejection reason (a short string counted in the patterns report) or None. The
checks run cheapest first; those that run code or ask the teacher run last, on the survivors. The per-task
checks (format, answer key, running code against its tests) live in ``pada.tasks.synthetic``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from pada.agent.leakage import HeldOut, NgramOverlap
from pada.tasks.synthetic import SyntheticFormat
from pada.teacher.schemas import JudgeScore, Verdict
from pada.text import rouge_l, rouge_tokens


def verification_problem(fmt: SyntheticFormat, item: Any, verdict: Verdict | None) -> str | None:
    """An independent solve by the teacher must call the problem valid and reach the same answer."""
    if verdict is None or not verdict.valid:
        return "verification"
    return None if fmt.read_answer(verdict.answer) == fmt.answer(item) else "verification"


def judge_problem(score: JudgeScore | None, min_score: int) -> str | None:
    """The optional LLM judge: an unparsed or low score rejects the item."""
    return "judge" if score is None or score.score < min_score else None


class Decontaminator:
    """Rejects texts that contain a held-out item verbatim or share many word n-grams with one."""

    def __init__(self, held_out_texts: list[str], n: int = 8, threshold: float = 0.5):
        self.verbatim = HeldOut(held_out_texts)
        self.ngrams = NgramOverlap(held_out_texts, n, threshold)
        self.threshold = threshold

    def overlap(self, text: str) -> float:
        """Share of the text's n-grams found in held-out items (n shrinks to the text's length)."""
        return self.ngrams.overlap(text)

    def problem(self, question: str) -> str | None:
        if self.verbatim.found_in(question) is not None or self.overlap(question) >= self.threshold:
            return "contamination"
        return None


@dataclass
class _Entry:
    text: str
    bag: Counter
    size: int
    words: list[str]


class Deduplicator:
    """ROUGE-L F against every kept question (LLM2LLM keeps a question when it is below 0.95).

    A bag-of-words bound (LCS <= shared tokens, so F <= 2*shared/(m+n)) skips most exact LCS computations;
    ``most_similar`` therefore reports only scores that could reach the threshold (others read as 0).
    """

    def __init__(self, texts: list[str], threshold: float = 0.95):
        self.threshold = threshold
        self.entries: list[_Entry] = []
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        words = rouge_tokens(text)
        self.entries.append(_Entry(text, Counter(words), len(words), words))

    def most_similar(self, text: str) -> float:
        words = rouge_tokens(text)
        bag, size, best = Counter(words), len(words), 0.0
        for entry in self.entries:
            if size + entry.size == 0:
                return 1.0
            bound = 2 * sum((bag & entry.bag).values()) / (size + entry.size)
            if bound >= max(best, self.threshold):
                best = max(best, rouge_l(entry.words, words))
        return best

    def problem(self, question: str) -> str | None:
        return "duplicate" if self.most_similar(question) >= self.threshold else None
