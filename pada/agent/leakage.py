"""The invariant: no validation or test item's text enters the training data or a generation prompt verbatim.

Texts are compared as token sequences (lower-cased words and punctuation), so "What is 5 plus 3?" is found
inside a longer prompt but not inside "What is 5 plus 35?". Held-out texts are redacted from pattern and
strategy text before that text reaches a generation prompt; ``assert_no_leak`` then guards every generation
prompt and every proposed example, and fails the run if anything slipped through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pada.errors import PadaError
from pada.types import Example

_TOKEN = re.compile(r"\w+|[^\w\s]")
REDACTED = "[held-out item]"
MIN_TOKENS = 4  # shorter held-out texts ("Yes.") match too much by chance to count as a leak


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _joined(text: str) -> str:
    return " " + " ".join(tokens(text)) + " "


class HeldOut:
    """Validation and test texts, indexed for verbatim search."""

    def __init__(self, texts: Iterable[str]):
        unique = {_joined(t) for t in texts if len(tokens(t)) >= MIN_TOKENS}
        self.needles = sorted(unique, key=len, reverse=True)  # longest first: redaction removes whole items

    def __len__(self) -> int:
        return len(self.needles)

    def found_in(self, text: str) -> str | None:
        """The first held-out text that ``text`` contains verbatim (token-wise), or None."""
        haystack = _joined(text)
        return next((n.strip() for n in self.needles if n in haystack), None)

    def redact(self, text: str) -> tuple[str, int]:
        """``text`` with each held-out item replaced by a marker, and how many were replaced."""
        count = 0
        while (needle := self.found_in(text)) is not None:
            pattern = r"(?<!\w)" + r"\s*".join(re.escape(t) for t in needle.split(" ")) + r"(?!\w)"
            text, n = re.subn(pattern, REDACTED, text, flags=re.IGNORECASE)
            if n == 0:  # token-equal but not regex-matchable (odd spacing): drop the whole text, not leak it
                return REDACTED, count + 1
            count += n
        return text, count


class NgramOverlap:
    """The share of a question's word n-grams found in held-out questions (n shrinks to short texts)."""

    def __init__(self, held_out_texts: list[str], n: int = 8, threshold: float = 0.5):
        self.n, self.threshold = n, threshold
        self._texts = [tokens(t) for t in held_out_texts]
        self._grams: dict[int, set[tuple[str, ...]]] = {}

    def _held_out_grams(self, n: int) -> set[tuple[str, ...]]:
        if n not in self._grams:
            self._grams[n] = {tuple(t[i : i + n]) for t in self._texts for i in range(len(t) - n + 1)}
        return self._grams[n]

    def overlap(self, text: str) -> float:
        words = tokens(text)
        n = min(self.n, len(words))
        if n < 4:  # a three-word text cannot say which item it copies
            return 0.0
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        held = self._held_out_grams(n)
        return sum(g in held for g in grams) / len(grams)


def assert_no_leak(held_out: HeldOut, prompts: Iterable[str], examples: Iterable[Example]) -> None:
    """Raise PadaError naming the first generation prompt or example that contains a held-out text."""
    for i, prompt in enumerate(prompts):
        if (hit := held_out.found_in(prompt)) is not None:
            raise PadaError(
                f"leakage: generation prompt {i} contains the held-out text {hit!r}; "
                "validation/test text must never reach generation (only patterns and strategies)"
            )
    for example in examples:
        for text in (example.prompt, example.target):
            if (hit := held_out.found_in(text)) is not None:
                raise PadaError(
                    f"leakage: new training example {example.id} contains the held-out text "
                    f"{hit!r}; decontamination must reject it before it is proposed"
                )
