"""Semantic decontamination: the same held-out problem in other words, found in what the student trains on.

The surface checks of ``pada.run.fairness`` stop copies that keep the wording. This one stops rewordings
(synonyms, another phrasing, numbers written as words, renamed persons, reordered premises, added context),
following Yang et al. 2023, "Rethinking Benchmark and Contamination for Language Models with Rephrased
Samples" (arXiv 2311.04850): embedding nearest neighbours among the held-out items, then a decision on each
pair. Their decision is an LLM judge; here it is a rule on signals any paraphrase keeps, so the default needs
no teacher:

- **embedding cosine** of the two prompts' question slots (``Template``: the text in the task template's
  ``{question}`` / ``{text}`` placeholder, or the prompt less the template's text when it was not rendered
  from the template; all-MiniLM-L6-v2, 384-dim, unit-normalised), number words turned into digits;
- **numbers**: the held-out prompt's numbers (digits and number words, word2number) against those the
  candidate's prompt states (its target's too when the prompt states none: a question moved into the target
  still counts), and how *specific* the held-out numbers are: the significant digits (``42`` and ``25`` give
  4, ``3`` and ``5`` give 2) of those found in at most ``common_share`` of the held-out items (a document-
  frequency cut, as IDF weighting does: MBPP's ``[1, 2, 3, 4, 5]`` recur in half its tests);
- **answers**: the candidate's from its target's ``#### <number>`` line, the held-out item's gold; two
  numeric answers that differ mean two problems (``42 plus 25`` vs ``42 minus 25``);
- **content words** (lower-cased words of 3+ letters outside scikit-learn's English stop words, which keeps
  names and identifiers): the share of the held-out prompt's content words found in the candidate.

Compared pairs: the ``neighbours`` nearest held-out items by cosine, every held-out item filed under its
rarest specific number when the candidate contains it, and every held-out item with at most ``FEW`` distinct
numbers whose set of numbers the candidate contains (small problems have no specific number).

A candidate (one proposed Example; ``meta`` and ``Example.answer`` are never read) restates a held-out item
when no held-out number is missing (one may be, from four numbers up), at least half of the numbers the
candidate states are the held-out item's, the numeric answers do not contradict, and

- ``paraphrase_numbers``: the held-out numbers have at least ``min_digits`` specific significant digits and
  cosine >= ``numbers_cosine`` (same topic): specific numbers are the strongest trace a rewording keeps;
- ``paraphrase_answer``: the candidate states exactly the held-out item's numbers, both answers are numbers
  and equal, and cosine >= ``answer_cosine`` (small problems: "Sum 3 and 5." for "Add 3 and 5.");
- ``paraphrase_wording``: cosine >= ``wording_cosine``, or content-word share >= ``content_share`` with
  cosine >= ``content_cosine`` (reordered premises, added context, renamed persons).

A changed number makes another problem here; the surface near-copy test of ``pada.run.fairness`` owns that
case. A copy whose answer was changed is not counted (it leaks the question, not the answer).
docs/baselines.md gives recall per paraphrase class and false rejections on fresh items
(``experiments/bench/decontamination.py``), thresholds set on the bench's dev half.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from pada.tasks.gsm8k import final_answer
from pada.types import Example

_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_PLACEHOLDER = re.compile(r"\{\w+\}")
LONG = 4  # a held-out item with this many numbers still counts as restated with one of them dropped
FEW = 3  # held-out items with at most this many distinct numbers are indexed by the set of them
SUBSETS_UP_TO = 6  # a candidate with more distinct numbers looks up single numbers only
TEMPLATE_FRAGMENT = 8  # template pieces shorter than this ("A. ", "\n") are kept: they also occur in items


@dataclass(frozen=True)
class Rule:
    """The decision's thresholds (conf/config.yaml ``decontamination.semantic``; docs/baselines.md)."""

    neighbours: int = 10  # held-out items per candidate compared for the wording rules (embedding top-k)
    min_digits: int = 3  # significant digits the shared numbers need before numbers alone can decide
    numbers_cosine: float = 0.4  # same topic: with specific shared numbers, a rewording
    wording_cosine: float = 0.9  # near-identical meaning whatever the numbers' size
    content_share: float = 0.8  # held-out content words found in the candidate...
    content_cosine: float = 0.7  # ...and this similar: premises reordered or context added
    common_share: float = 0.05  # a number in more held-out items than this share is not specific (MBPP's 1-5)
    answer_cosine: float = 0.35  # small numbers: all shared, the same numeric answer, the same topic


# -- text signals ----------------------------------------------------------------------------------------
def _number_words() -> dict[str, int]:
    from word2number.w2n import american_number_system

    return {w: v for w, v in american_number_system.items() if isinstance(v, int)}


_NUMBER_WORDS = _number_words()
_SCALES = {"hundred", "thousand", "million", "billion"}
_PRONOUN_ONE = {"the", "this", "that", "which", "each", "every", "any", "no", "some", "another", "other"}


def _joins(prev: str, word: str, after: str | None) -> bool:
    """Whether ``word`` continues the number that ends in ``prev``: "forty two", "two hundred", "one
    hundred and five" do; "two three" and "forty and twenty" start a new one."""
    if word == "and":
        return prev in _SCALES and after in _NUMBER_WORDS and _NUMBER_WORDS[after] < 100
    if prev == "and" or prev in _SCALES or word in _SCALES:
        return True
    return _NUMBER_WORDS[prev] in range(20, 100, 10) and _NUMBER_WORDS[word] < 10


def _number_spans(text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, words) of each number written in words, as ``_joins`` groups them."""
    words = [(m.start(), m.end(), m.group(0).lower()) for m in re.finditer(r"[A-Za-z]+", text)]
    spans: list[tuple[int, int, list[str]]] = []
    for i, (start, end, word) in enumerate(words):
        if word not in _NUMBER_WORDS and word != "and":
            continue
        if word == "one" and i and words[i - 1][2] in _PRONOUN_ONE:
            continue  # "the one with more", "each one": a pronoun, not a number
        after = words[i + 1][2] if i + 1 < len(words) else None
        last = spans[-1] if spans else None
        adjacent = last is not None and text[last[1] : start].strip(" -") == ""
        if adjacent and _joins(last[2][-1], word, after):
            spans[-1] = (last[0], end, [*last[2], word])
        elif word != "and":
            spans.append((start, end, [word]))
    return spans


def words_to_digits(text: str) -> str:
    """``text`` with English number words written as digits ("forty-two apples" -> "42 apples", "one
    hundred and five" -> "105", "forty and twenty" -> "40 and 20"); word2number converts each number.
    "A dozen" and "half" stay as written."""
    from word2number import w2n

    for start, end, words in reversed(_number_spans(text)):
        text = text[:start] + str(w2n.word_to_num(" ".join(words))) + text[end:]
    return text


def numbers_of(text: str) -> Counter:
    """The numbers of an already digit-normalised text as canonical strings ("1,200" -> "1200",
    "3.50" -> "3.5")."""
    values = Counter()
    for raw in _NUMBER.findall(text):
        number = raw.replace(",", "")
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        values[number] += 1
    return values


def significant_digits(number: str) -> int:
    """Digits that make a number specific: "42" 2, "1200" 2, "0.5" 1, "3" 1."""
    return max(1, len(number.replace(".", "").strip("0")))


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in (m.lower() for m in _WORD.findall(text)) if len(w) >= 3) - _stop_words()


def answer_value(answer: str) -> float | None:
    """A numeric answer's value (commas, $ and % ignored); None when the answer is not one number."""
    text = answer.strip().replace(",", "").replace("$", "").rstrip("%").strip()
    try:
        return float(text)
    except ValueError:
        return None


def target_answer(target: str) -> float | None:
    """The numeric answer a training target states on its ``#### <number>`` line (GSM8K's and the simulated
    world's format), or None: read from what the student trains on, not ``Example.answer``, with the GSM8K
    task's own strict rule (``pada.tasks.gsm8k.final_answer``: the first such line, ``#### `` with its space),
    so it is the answer the student is scored on."""
    found = final_answer(target)
    return answer_value(found) if found is not None else None


QUESTION_SLOTS = ("question", "text", "prompt")  # a template's placeholder for the item's own question


class Template:
    """A task's prompt template read backwards: the question slot of a rendered prompt.

    ``question(prompt)`` is the text in the template's question placeholder (``{question}``, MBPP's ``{text}``,
    HumanEval's ``{prompt}``) when ``prompt`` is rendered from the template, else the whole prompt less the
    template's literal text. Both sides of every held-out check read it, so no check reads ``meta``.
    """

    def __init__(self, template: str | None):
        self.fragments = template_fragments(template)
        self.pattern = _slot_pattern(template)

    def body(self, prompt: str) -> str:
        """The prompt less the template's literal text: the question and the rest of the item (MBPP's tests,
        ARC's options), what the surface checks compare."""
        return strip_fragments(prompt, self.fragments)

    def question(self, prompt: str) -> str:
        found = self.pattern.fullmatch(prompt) if self.pattern is not None else None
        if found is not None and found.group("slot").strip():
            return found.group("slot")
        return strip_fragments(prompt, self.fragments)


def _slot_pattern(template: str | None) -> re.Pattern | None:
    """A regex that matches prompts rendered from ``template``, capturing its question slot as ``slot``."""
    if not template:
        return None
    parts = list(string.Formatter().parse(template))
    names = [name for _, name, _, _ in parts if name]
    slot = next((s for s in QUESTION_SLOTS if s in names), None)
    if slot is None:
        return None
    regex, taken = "", False
    for literal, name, _, _ in parts:
        regex += re.escape(literal)
        if name is not None:
            regex += "(?P<slot>.*?)" if name == slot and not taken else "(?:.*?)"
            taken = taken or name == slot
    return re.compile(regex, re.DOTALL)


def strip_fragments(text: str, fragments: list[str]) -> str:
    """``text`` with each template fragment replaced by a space."""
    for fragment in fragments:
        text = text.replace(fragment, " ")
    return text


def template_fragments(template: str | None) -> list[str]:
    """The literal pieces of a task's prompt template (between its ``{placeholders}``), longest first."""
    if not template:
        return []
    pieces = (p.strip() for p in _PLACEHOLDER.split(template))
    return sorted({p for p in pieces if len(p) >= TEMPLATE_FRAGMENT}, key=len, reverse=True)


@dataclass
class Item:
    """One side of a comparison: the text embedded, its numbers, content words and numeric answer."""

    text: str
    numbers: Counter
    words: frozenset[str]
    answer: float | None
    stated: Counter = field(default_factory=Counter)  # the numbers of the prompt alone
    specific: int = 0  # significant digits of its numbers that few held-out items share (held-out side)


def held_item(example: Example, template: Template) -> Item:
    """A held-out item: its question slot is embedded; numbers and words come from the whole prompt."""
    prompt = _normalised(example.prompt, template.fragments)
    question = _normalised(template.question(example.prompt), [])
    return Item(question, numbers_of(prompt), content_words(prompt), answer_value(example.answer))


def candidate_item(example: Example, template: Template) -> Item:
    """A proposed example as the student will see it: its prompt's question slot is embedded, numbers and
    words come from prompt and target together (a held-out question moved into the target still counts),
    the answer from the target's ``####`` line (``Example.answer`` and ``meta`` are never read)."""
    prompt = _normalised(example.prompt, template.fragments)
    question = _normalised(template.question(example.prompt), [])
    whole = prompt + "\n" + _normalised(example.target, template.fragments)
    answer = target_answer(example.target)
    return Item(question, numbers_of(whole), content_words(whole), answer, numbers_of(prompt))


def _normalised(text: str, fragments: list[str]) -> str:
    return " ".join(words_to_digits(strip_fragments(text, fragments)).split())


# -- the decision ----------------------------------------------------------------------------------------
def pair_reason(candidate: Item, held: Item, cosine: float, rule: Rule) -> str | None:
    """Why ``candidate`` restates ``held`` (``paraphrase_numbers`` / ``paraphrase_wording``), or None."""
    shown = candidate.stated or candidate.numbers  # a prompt without numbers: the question is in the target
    if sum((held.numbers - shown).values()) > (1 if sum(held.numbers.values()) >= LONG else 0):
        return None  # a held-out number is missing: another problem (or a surface near-copy)
    stated = sum(candidate.stated.values())
    if held.numbers and sum((held.numbers & candidate.stated).values()) < stated / 2:
        return None  # most numbers the candidate states are not the held-out item's: another problem
    answers = candidate.answer is not None and held.answer is not None
    if answers and candidate.answer != held.answer:
        return None  # same numbers, another answer: another problem ("42 plus 25" vs "42 minus 25")
    if held.numbers and held.specific >= rule.min_digits and cosine >= rule.numbers_cosine:
        return "paraphrase_numbers"
    same_numbers = held.numbers and set(candidate.stated or candidate.numbers) == set(held.numbers)
    if same_numbers and answers and cosine >= rule.answer_cosine:
        return "paraphrase_answer"  # small numbers: exactly the same ones, the same answer, the same topic
    if cosine >= rule.wording_cosine:
        return "paraphrase_wording"
    share = len(held.words & candidate.words) / len(held.words) if held.words else 0.0
    return "paraphrase_wording" if share >= rule.content_share and cosine >= rule.content_cosine else None


@dataclass
class Paraphrases:
    """The held-out items, embedded once, and the rule that rejects restatements of them.

    ``reasons(examples)`` embeds the candidates in one batch (the cost: ~4 s per 1,000 short prompts on 2 CPU
    threads, docs/baselines.md), compares each with its ``rule.neighbours`` nearest held-out items and with
    every held-out item whose rarest number it contains, and returns one reason or None per example.
    """

    held_out: list[Example]
    template: str | None = None
    embedder: str = "bundled:all-MiniLM-L6-v2"
    rule: Rule = field(default_factory=Rule)
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        self.slots = Template(self.template)
        self.items = [held_item(ex, self.slots) for ex in self.held_out]
        df = Counter(n for item in self.items for n in item.numbers)
        common = max(2.0, self.rule.common_share * len(self.items))  # document frequency that is common
        self.anchors: dict[Any, list[int]] = {}  # under its rarest specific number and its set of numbers
        for i, item in enumerate(self.items):
            rare = [n for n in item.numbers if df[n] <= common]
            item.specific = sum(significant_digits(n) for n in rare)
            if rare:
                rarest = min(rare, key=lambda n: (df[n], -significant_digits(n), n))
                self.anchors.setdefault(rarest, []).append(i)
            if 0 < len(item.numbers) <= FEW:  # small problems: found by their whole set of numbers
                self.anchors.setdefault(frozenset(item.numbers), []).append(i)
        self._vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = cached_embeddings([i.text for i in self.items], self.embedder, self.cache_dir)
        return self._vectors

    def reasons(self, examples: list[Example]) -> list[str | None]:
        return [m.reason if m else None for m in self.matches(examples)]

    def matches(self, examples: list[Example]) -> list[Match | None]:
        """Per example, the held-out item it restates (the strongest reason, then the highest cosine)."""
        return [min(found, key=_strongest, default=None) for found in self.all_matches(examples)]

    def all_matches(self, examples: list[Example]) -> list[list[Match]]:
        """Per example, every held-out item it restates (``pada.run.execution`` runs code against each)."""
        if not examples or not self.items:
            return [[] for _ in examples]
        candidates = [candidate_item(ex, self.slots) for ex in examples]
        cosines = embed_texts([c.text for c in candidates], self.embedder) @ self.vectors.T
        k = min(self.rule.neighbours, len(self.items))
        nearest = np.argpartition(-cosines, k - 1, axis=1)[:, :k]
        out = []
        for row, candidate in enumerate(candidates):
            pool = {int(i) for i in nearest[row]}
            pool.update(i for key in number_keys(candidate.numbers) for i in self.anchors.get(key, ()))
            found = []
            for i in pool:
                cosine = float(cosines[row, i])
                if reason := pair_reason(candidate, self.items[i], cosine, self.rule):
                    found.append(Match(reason, self.held_out[i].id, round(cosine, 3)))
            out.append(sorted(found, key=_strongest))
        return out


def _strongest(match: Match) -> tuple[str, float]:
    return match.reason, -match.cosine


def number_keys(numbers: Counter) -> list:
    """The anchor keys a candidate with these numbers can reach: each number, and each set of up to ``FEW``
    of them when it states few enough for that to stay cheap (``SUBSETS_UP_TO`` distinct numbers)."""
    keys: list = list(numbers)
    if len(numbers) <= SUBSETS_UP_TO:
        keys += [frozenset(c) for k in range(1, FEW + 1) for c in combinations(sorted(numbers), k)]
    return keys


@dataclass(frozen=True)
class Match:
    """Why a proposed example was rejected: the reason, the held-out item's id and the prompts' cosine."""

    reason: str
    held_out_id: str
    cosine: float


# -- embeddings ------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _encoder(name: str) -> Any:
    from pada.agent.clustering import load_encoder

    return load_encoder(name)


def embed_texts(texts: list[str], embedder: str) -> np.ndarray:
    """Unit-normalised embeddings (len(texts), dim), float32."""
    from pada.agent.clustering import encode

    return encode(_encoder(embedder), texts)[0] if texts else np.zeros((0, 0), np.float32)


_MEMORY: dict[str, np.ndarray] = {}


def cached_embeddings(texts: list[str], embedder: str, cache_dir: Path | None) -> np.ndarray:
    """``embed_texts``, kept in memory and (when ``cache_dir`` is set) on disk under
    ``<cache_dir>/decontamination/``, keyed by the embedder, sentence-transformers' version and the texts:
    the held-out set is embedded once per machine, not once per augment stage."""
    from importlib.metadata import version

    digest = hashlib.sha256(
        "\x00".join([embedder, version("sentence-transformers"), *texts]).encode()
    ).hexdigest()[:24]
    if digest in _MEMORY:
        return _MEMORY[digest]
    path = Path(cache_dir).expanduser() / "decontamination" / f"{digest}.npy" if cache_dir else None
    if path is not None and path.is_file():
        vectors = np.load(path)
    else:
        vectors = embed_texts(texts, embedder)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            with partial.open("wb") as handle:
                np.save(handle, vectors)
            partial.replace(path)  # atomic: a concurrent reader sees the whole file or none
    _MEMORY[digest] = vectors
    return vectors


__all__ = ["Match", "Paraphrases", "Rule", "numbers_of", "pair_reason", "words_to_digits"]
