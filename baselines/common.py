"""What every teacher-using baseline shares: turning teacher output into Examples, the answer check, the
generation budget, and a per-stage report. Kept small so each method module still reads top to bottom.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from pada.errors import PadaError
from pada.io import write_json
from pada.methods import effort
from pada.methods.base import IterationState
from pada.methods.effort import affordable_units  # noqa: F401  (re-exported for the baseline modules)
from pada.tasks.base import Task, question_of  # noqa: F401  (re-exported for the baseline modules)
from pada.text import rouge_l, rouge_tokens  # noqa: F401  (re-exported for the baseline modules)
from pada.types import Example

# The helper modules whose code decides every generative baseline's output (their version_sources,
# pada/versions.py): a change in any of them needs the baselines' versions bumped.
GENERATIVE_SOURCES = (
    "baselines.common",
    "baselines.formats",
    "pada.methods.effort",
    "pada.methods.similar_problems",
    "pada.tasks.synthetic",
    "pada.teacher.schemas",
    "pada.text",
)

# How prompts name a task's problems; a task config may set ``description`` to override.
DESCRIPTIONS = {
    "gsm8k": "grade-school math word",
    "sim_arith": "arithmetic word",
    "arc_challenge": "science multiple-choice",
    "mmlu": "multiple-choice knowledge",
    "mbpp": "Python programming",
    "humaneval": "Python programming",
}


def describe(task: Task) -> str:
    return task.cfg.get("description") or DESCRIPTIONS.get(task.name, task.name)


def is_seed(example: Example) -> bool:
    return example.source == "seed"


def require_teacher(state: IterationState, method: str) -> None:
    if state.teacher is None:
        raise PadaError(f"method '{method}' needs a teacher; set teacher=<provider> (e.g. teacher=openai)")


def matches_answer(task: Task, example: Example, answer: str) -> bool:
    """Does a teacher's final ``answer`` agree with ``example``'s gold answer under the task's scorer?"""
    text = str(answer).strip()
    extracted = task.extract(f"#### {text}") or task.extract(text)
    return task.is_correct(extracted, example)


def paraphrased(example: Example, question: str, new_id: str, method: str) -> Example:
    """``example`` with its question replaced; prompt furniture (choices, instructions) and target kept."""
    old = question_of(example)
    prompt = example.prompt.replace(old, question) if old in example.prompt else question
    meta = {**example.meta, "question": question, "parent": example.id}
    return Example(new_id, prompt, example.target, example.answer, f"synthetic:{method}", meta)


def generated(
    task: Task, question: str, solution: str, answer: str, new_id: str, method: str, parent: str
) -> Example | None:
    """A training example from a teacher-written problem, its solution ending in the task's '#### N' line.
    None when the solution's final answer contradicts the stated one, or there is no question/answer."""
    target = solution.strip() if "####" in solution else f"{solution.strip()}\n#### {answer}"
    gold = task.extract(target)
    if gold is None or gold != task.extract(f"#### {answer}") or not question.strip():
        return None
    meta = {"question": question.strip(), "parent": parent}
    return Example(new_id, task.user_prompt(question.strip()), target, gold, f"synthetic:{method}", meta)


def allowance(state: IterationState) -> int | None:
    """How many new examples this iteration may ask for: the runner's quota (``synthetic_budget`` /
    ``synthetic_per_iteration``, pada/run/fairness.py), or under budget_match its target for this round
    (never above the quota). None = no cap."""
    return state.quota.target if state.quota.target is not None else state.quota.limit


def per_unit(own: int, units: int, state: IterationState) -> int:
    """Requests per unit (seed, wrong seed, error): the method's own number, raised under budget_match
    so that ``units`` x it reaches the target (ceil; ``spread`` then trims to the cap)."""
    target = state.quota.target
    if target is None or not units:
        return own
    return max(own, -(-target // units))


def fewest_first(units: list[Any], proposed: list[Example], n: int) -> list[tuple[Any, int]]:
    """A budget_match top-up's plan: ``n`` more items, one at a time to the unit (an example with an ``id``)
    with the fewest proposed so far (``proposed``' ``meta["parent"]``; ties: the first in ``units``), so the
    equal share per unit is restored. ``[(unit, how many more)]`` in ``units``' order, units given none left out."""
    have = Counter(ex.meta.get("parent") for ex in proposed)
    extra: Counter = Counter()
    for _ in range(n):
        unit = min(units, key=lambda u: have[u.id] + extra[u.id])  # min: the first of ties
        extra[unit.id] += 1
    return [(unit, extra[unit.id]) for unit in units if extra[unit.id]]


def spread(units: list[Any], per_unit: int, cap: int | None, rng) -> list[tuple[Any, int]]:
    """Plan ``per_unit`` requests per unit under a total ``cap``: when the cap binds, every unit still
    gets an equal share (floor), and the remainder goes to a seeded random subset of units."""
    if cap is None or cap >= per_unit * len(units):
        return [(u, per_unit) for u in units]
    share, extra = divmod(cap, len(units)) if units else (0, 0)
    lucky = set(rng.sample(range(len(units)), extra)) if extra else set()
    plan = [(u, min(per_unit, share + (i in lucky))) for i, u in enumerate(units)]
    return [(u, n) for u, n in plan if n > 0]


def within_allowance(
    state: IterationState, plan: list[Any], counts: Counter, requests_per_unit: int
) -> Iterator[list[Any]]:
    """``pada.methods.effort.within_allowance`` for a baseline's plan; units not served are counted
    ``unserved_teacher_budget``."""
    return effort.within_allowance(state.teacher, state.quota, plan, counts, requests_per_unit)


def write_report(state: IterationState, counts: Counter, **extra: Any) -> None:
    """``augment_<i>/baseline_report.json``: what the method asked for, kept and dropped, and why."""
    allowance = state.quota.teacher_allowance() or None  # the round's teacher allowance, if matched
    report = {"iteration": state.iteration, **counts, **extra}
    if allowance:
        report["teacher_allowance"] = allowance
    write_json(state.workdir / "baseline_report.json", report)
