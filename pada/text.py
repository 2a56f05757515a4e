"""Text similarity shared by every method's deduplication (LLM2LLM's ROUGE-L rule, PaDA's QC)."""

from __future__ import annotations

# rouge_score's tokenizer, not its scorer: rouge_scorer imports absl, whose logging handler keeps the
# sys.stderr of import time and breaks output capture later in a long-lived process (pytest, notebooks).
from rouge_score.tokenize import tokenize


def rouge_tokens(text: str) -> list[str]:
    """rouge_score's default tokens: lower-cased alphanumeric words, no stemming."""
    return tokenize(text, None)


def rouge_l(reference: list[str], candidate: list[str]) -> float:
    """ROUGE-L F-measure of two token lists, exactly as rouge_score computes it (LCS precision and recall)."""
    if not reference or not candidate:
        return 0.0
    previous = [0] * (len(candidate) + 1)
    for ref_word in reference:
        current = [0]
        for j, cand_word in enumerate(candidate):
            current.append(previous[j] + 1 if ref_word == cand_word else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    return 0.0 if lcs == 0 else 2 * lcs / (len(reference) + len(candidate))
