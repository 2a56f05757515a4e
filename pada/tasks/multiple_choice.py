"""Shared multiple-choice machinery: prompts with lettered options, letter extraction, scoring.

Options are always shown as letters A, B, C, ... in file order, whatever the file's labels are (some ARC
items use "1".."4"); the gold answer is the letter at the gold label's position, as lm-eval's
``arc_challenge_chat`` does. The extractor also accepts a digit, which counts when the item's original
labels are digits ("The answer is 2" -> the second option).

Extraction, first rule that matches wins:
1. the last ``answer is X`` / ``answer: X`` (X optionally wrapped: quoted, in backticks, bold, italic, in
   brackets or ``$``, as lm-eval's punctuation-blind exact match reads it; no letter after; cue words such
   as "indeed", "option", "most likely" may stand between, wrapped or not);
2. the whole output is one option letter, optionally with punctuation ("C", "(C)", "C.");
3. the last parenthesised letter "(X)", as lm-eval's ``multi_choice_regex`` flexible filter;
4. the first "X." / "X)" at the start of the output (an answer that starts with its option), also in
   backticks or bold ("**X.** text", "`X` text").
An output that lists two or more different options at line starts echoes the option list: only rule 1 counts.
"""

from __future__ import annotations

import re
import string

from pada.errors import PadaError
from pada.tasks.base import Task
from pada.types import Example

LETTERS = string.ascii_uppercase[:8]  # ARC has up to 5 options, MMLU 4; 8 leaves room for user tasks
_OPTION = r"[A-H1-8]"
# What may wrap a letter or a cue word: markdown (`C`, **C**, __C__, *C*), quotes, brackets, $C$. lm-eval's
# generative ARC/MMLU exact match ignores punctuation, so it reads every one of these as the bare letter.
_OPEN = r"""[\s*_`~"'“‘«(\[{<$]*"""
# Words a model puts between "answer is" and the letter ("the best answer is indeed D"); never a negation.
_CUES = (
    rf"(?:{_OPEN}(?i:indeed|likely|most|probably|definitely|clearly|certainly|actually|obviously|therefore|"
    r"thus|then|still|the|correct|right|best|option|choice|letter)[\s:]+)*"
)
# A lower-case letter counts only at the end of its line: "the answer is a wooden stick" names no option.
_ANSWER_IS = re.compile(
    rf"(?i:answer)(?: is|:)\s*:?\s*{_CUES}{_OPEN}({_OPTION}|[a-h](?=\W*(?:$|\n)))(?![A-Za-z0-9])"
)
_CODE_OR_BOLD = r"(?:\*\*|__|`+)"  # a leading option may be wrapped in these, not in one * or _ (emphasis)
# An option at the start of a line ("B. text", "(B) text", "**B.** text"): two different ones are the
# option list echoed.
_LISTED = re.compile(rf"^\s*{_CODE_OR_BOLD}?\(?({_OPTION})[.)]{_CODE_OR_BOLD}?\s", re.MULTILINE)
_ALONE = re.compile(rf"^\W*({_OPTION})\W*$")
_PARENTHESISED = re.compile(rf"\(({_OPTION})\)")
_LEADING = re.compile(rf"^\s*\(?({_OPTION})[.)]\s")
# "**C.** text", "**C** text", "`C)` text": the same wrapper closes the letter
_LEADING_WRAPPED = re.compile(rf"^\s*(?P<wrap>{_CODE_OR_BOLD})\(?({_OPTION})[.):]?(?P=wrap)(?!\w)")


def extract_letter(output: str) -> str | None:
    """The option an output chose, as written (a letter, upper-cased, or a digit), or None."""
    echoed = len(set(_LISTED.findall(output))) > 1  # then only an explicit "answer is X" names a choice
    rules = ((_ANSWER_IS, -1), (_ALONE, 0), (_PARENTHESISED, -1), (_LEADING, 0), (_LEADING_WRAPPED, 0))
    for pattern, pick in rules:
        if echoed and pattern is not _ANSWER_IS:
            continue
        found = [match.group(pattern.groups) for match in pattern.finditer(output)]  # the last group
        if found:
            return found[pick].upper()
    return None


def to_letter(extracted: str | None, labels: list[str]) -> str | None:
    """A letter for ``extracted``: digits count only when the item's own labels are digits."""
    if extracted is None:
        return None
    if extracted.isdigit():
        return LETTERS[labels.index(extracted)] if extracted in labels else None
    return extracted if extracted in LETTERS[: len(labels)] else None


def render_question(question: str, choices: list[str], template: str) -> str:
    letters = LETTERS[: len(choices)]
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(letters, choices, strict=True))
    listed = ", ".join(letters[:-1]) + f" or {letters[-1]}"
    return template.format(question=question.strip(), options=options, letters=listed)


class MultipleChoiceTask(Task):
    """A task whose items are (question, choices, gold label); subclasses only read files."""

    def make_example(
        self, item_id: str, question: str, choices: list[str], labels: list[str], gold: str, **meta
    ) -> Example:
        if gold not in labels:
            raise PadaError(f"{item_id}: answer label {gold!r} is not one of the choice labels {labels}")
        letter = LETTERS[labels.index(gold)]
        return Example(
            id=item_id,
            prompt=render_question(question, choices, self.cfg.prompt_template),
            target=self.cfg.target_template.format(letter=letter, text=choices[labels.index(gold)]),
            answer=letter,
            meta={"question": question, "choices": choices, "labels": labels, **meta},
        )

    def extract(self, output: str) -> str | None:
        return extract_letter(output)

    def is_correct(self, extracted: str | None, example: Example) -> bool:
        return to_letter(extracted, example.meta["labels"]) == example.answer

    def loglikelihood_request(self, example: Example) -> tuple[str, list[str], int]:
        """(context, continuations, gold index) for log-likelihood scoring, lm-eval's ``multiple_choice``:
        the option with the highest log-probability of " <letter>" after the prompt is the answer."""
        letters = LETTERS[: len(example.meta["choices"])]
        return example.prompt, [f" {letter}" for letter in letters], letters.index(example.answer)

    @staticmethod
    def loglikelihood_correct(logprobs: list[float], gold_index: int) -> bool:
        return max(range(len(logprobs)), key=logprobs.__getitem__) == gold_index
