"""A small arithmetic world with latent properties (skill, phrasing, magnitude), so failures form patterns.

Items are drawn from fixed, non-uniform frequencies (some skills, phrasings and magnitudes are rare), the
way real seed sets under-represent some situations. The student is never told the properties; the oracle
teacher recovers them by parsing the text, as a real teacher would by reading it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# The world's version, covering this module and its oracle teacher (pada/sim/oracle.py): bump it when a change
# can alter a generated problem or an oracle answer; pinned in tests/fixtures/version_pins.json.
# 2.0: disjoint splits, declared oracle noise (issue 15); 2.1: analysis_fidelity (issue 28); 2.2: the oracle
# answers error_analysis.v5 and pattern_summary.v3 in their schemas (issue 27)
WORLD_VERSION = "2.2"
NAMES = ["Ana", "Ben", "Mia", "Tom", "Lea", "Sam"]
THINGS = ["coins", "apples", "cards", "stamps"]
MAGNITUDES = {"small": (1, 9), "medium": (10, 99), "large": (100, 999)}

# skill -> (operation, phrasings). Word problems name a person and a thing.
SKILLS: dict[str, tuple[str, list[str]]] = {
    "add": (
        "+",
        [
            "What is {a} plus {b}?",
            "Add {a} and {b}.",
            "{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?",
        ],
    ),
    "sub": (
        "-",
        [
            "What is {a} minus {b}?",
            "Subtract {b} from {a}.",
            "{name} has {a} {thing} and gives away {b}. How many {thing} are left?",
        ],
    ),
    "mul": (
        "*",
        [
            "What is {a} times {b}?",
            "Multiply {a} by {b}.",
            "{name} buys {b} boxes with {a} {thing} each. How many {thing} in total?",
        ],
    ),
    "max": (
        "max",
        [
            "Which is larger, {a} or {b}?",
            "Give the bigger number: {a}, {b}.",
            "{name} has {a} {thing} and a friend has {b}. How many does the one with more have?",
        ],
    ),
}


@dataclass(frozen=True)
class Problem:
    skill: str
    phrasing: int
    magnitude: str
    a: int
    b: int
    name: str = "Ana"
    thing: str = "coins"

    @property
    def question(self) -> str:
        template = SKILLS[self.skill][1][self.phrasing]
        return template.format(a=self.a, b=self.b, name=self.name, thing=self.thing)

    @property
    def answer(self) -> int:
        op = SKILLS[self.skill][0]
        return {"+": self.a + self.b, "-": self.a - self.b, "*": self.a * self.b, "max": max(self.a, self.b)}[
            op
        ]

    @property
    def solution(self) -> str:
        op = SKILLS[self.skill][0]
        work = f"max({self.a}, {self.b})" if op == "max" else f"{self.a} {op} {self.b}"
        return f"{work} = {self.answer}\n#### {self.answer}"


def make_problem(rng: random.Random, skill: str, phrasing: int, magnitude: str) -> Problem:
    low, high = MAGNITUDES[magnitude]
    a = rng.randint(low, high)
    if skill == "mul":
        b = rng.randint(2, 9)  # one factor stays a digit so answers stay short
    elif skill == "sub":
        b = rng.randint(low if low < a else 1, a)  # non-negative answers
    else:
        b = rng.randint(low, high)
    return Problem(skill, phrasing, magnitude, a, b, rng.choice(NAMES), rng.choice(THINGS))


def sample_problem(rng: random.Random, weights: dict) -> Problem:
    skill = rng.choices(list(weights["skill"]), weights=list(weights["skill"].values()))[0]
    phrasing = rng.choices(range(3), weights=list(weights["phrasing"]))[0]
    magnitude = rng.choices(list(weights["magnitude"]), weights=list(weights["magnitude"].values()))[0]
    return make_problem(rng, skill, phrasing, magnitude)


def _template_regex(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for field, group in (
        ("a", r"(?P<a>\d+)"),
        ("b", r"(?P<b>\d+)"),
        ("name", r"(?P<name>[A-Z][a-z]+)"),
        ("thing", r"(?P<thing>[a-z]+)"),
    ):
        placeholder = re.escape("{" + field + "}")
        pattern = pattern.replace(placeholder, group, 1).replace(placeholder, f"(?P={field})")
    return re.compile(pattern)


_PARSERS = [(skill, i, _template_regex(t)) for skill, (_, ts) in SKILLS.items() for i, t in enumerate(ts)]


def magnitude_of(a: int) -> str:
    return next((name for name, (low, high) in MAGNITUDES.items() if low <= a <= high), "large")


def find_problems(text: str) -> list[Problem]:
    """Every problem stated in ``text``, in order of appearance."""
    found = []
    for skill, phrasing, regex in _PARSERS:
        for match in regex.finditer(text):
            groups = match.groupdict()
            a, b = int(groups["a"]), int(groups["b"])
            problem = Problem(
                skill,
                phrasing,
                magnitude_of(a),
                a,
                b,
                groups.get("name") or "Ana",
                groups.get("thing") or "coins",
            )
            found.append((match.start(), problem))
    return [problem for _, problem in sorted(found, key=lambda pair: pair[0])]


def parse(text: str) -> Problem | None:
    """The first problem stated in ``text``; None if it states none."""
    problems = find_problems(text)
    return problems[0] if problems else None


def pretraining_corpus(rng: random.Random, n: int) -> list[list[dict[str, str]] | str]:
    """The simulated base model's prior: bare equations, and plainly phrased questions answered in chat form.

    Skills and magnitudes are uniform; only the plain phrasing (index 0) appears. Like a real instruct model,
    the student arrives knowing some arithmetic, the chat format and the plainest question form, but not the
    task's other phrasings; fine-tuning must map those onto what it knows, and rare ones may stay unmapped.
    Items are chats (lists of messages) or plain strings.
    """
    items: list[list[dict[str, str]] | str] = []
    for _ in range(n):
        problem = make_problem(rng, rng.choice(list(SKILLS)), 0, rng.choice(list(MAGNITUDES)))
        if rng.random() < 0.5:
            items.append(
                [
                    {"role": "user", "content": problem.question},
                    {"role": "assistant", "content": problem.solution},
                ]
            )
        else:
            items.append(problem.solution.split("\n")[0])
    return items
