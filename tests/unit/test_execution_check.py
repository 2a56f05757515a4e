"""Code tasks: the semantic check's text matches are confirmed by running the proposal's code on the held-out
item's tests (pada/run/execution.py, fairness 1.6; issue 28). One word makes another MBPP problem ("even" vs
"odd"), which fairness 1.5 rejected as a paraphrase; a failure to run never turns into "kept"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pada.errors import PadaError
from pada.run import fairness
from pada.tasks import build_task
from pada.types import Example

EVEN = "Write a python function to check whether the given number is even or not."


def _mbpp(overrides: list[str] = ()):
    from conftest import compose_config

    cfg = compose_config(["task=mbpp", "allow_code_execution=true", "task.sandbox.workers=1", *overrides])
    return cfg, build_task(cfg.task)


def _item(task, item_id: str, text: str, code: str, tests: list[str]) -> Example:
    return replace(task.make_example(item_id, text, code, tests), source="synthetic:probe", meta={})


def _held(task) -> list[Example]:
    return [
        task.make_example(
            "mbpp/600",
            EVEN,
            "def is_Even(n):\n    return n % 2 == 0",
            ["assert is_Even(1) == False", "assert is_Even(2) == True", "assert is_Even(3) == False"],
        ),
        task.make_example(
            "mbpp/13",
            "Write a python function to find the volume of a triangular prism.",
            "def find_Volume(l, b, h):\n    return (l * b * h) / 2",
            ["assert find_Volume(10, 8, 6) == 240", "assert find_Volume(3, 2, 2) == 6"],
        ),
    ]


def _odd(task) -> Example:
    """Another problem, one word apart: its (right) solution fails the held-out 'even' tests."""
    return _item(
        task,
        "fresh/odd",
        EVEN.replace("even", "odd"),
        "def is_Odd(n):\n    return n % 2 == 1",
        ["assert is_Odd(1) == True", "assert is_Odd(2) == False", "assert is_Odd(3) == True"],
    )


def _reworded(task, code: str = "def check_Even(x):\n    return x & 1 == 0", item_id: str = "para/even"):
    """The held-out problem in other words, its function renamed: its solution passes the held-out tests."""
    text = "Write a python function to test whether the provided integer is even or not."
    tests = ["assert check_Even(1) == False", "assert check_Even(2) == True", "assert check_Even(3) == False"]
    return _item(task, item_id, text, code, tests)


TEXT_REASONS = {"paraphrase_numbers", "paraphrase_answer", "paraphrase_wording"}  # pada.run.semantic's


def _by_text(rejected) -> int:
    """Rejections the semantic check's text rule decided (its reason, not ``paraphrase_executes``)."""
    assert set(rejected) <= TEXT_REASONS, rejected
    return sum(rejected.values())


def _filter(proposals: list[Example], overrides: list[str] = ()):
    cfg, task = _mbpp(overrides)
    held = _held(task)
    return fairness.build_decontaminator(cfg, held, task).filter(proposals)


def test_an_antonym_variant_is_kept_and_the_same_problem_reworded_is_rejected():
    """Fairness 1.5 rejected both as `paraphrase_wording` (cosine 0.93 each): the odd one is another problem."""
    _, task = _mbpp()
    odd, reworded = _odd(task), _reworded(task)
    kept, rejected, executed = _filter([odd, reworded])
    assert [ex.id for ex in kept] == ["fresh/odd"]
    assert rejected == {"paraphrase_executes": 1}
    assert executed == {"confirmed": 1, "cleared": 1, "unconfirmed": {}}


def test_off_it_is_fairness_1_5s_text_decision():
    _, task = _mbpp()
    kept, rejected, executed = _filter(
        [_odd(task), _reworded(task)], ["decontamination.semantic.execution_check=false"]
    )
    assert kept == [] and _by_text(rejected) == 2 and executed is None


NO_CODE = "I would first need to know which numbers count as even."
BROKEN = "```python\ndef check_Even(x)\n    return x & 1 == 0\n```"  # a SyntaxError: not a runnable solution
SLEEPS = "import time\n\ndef check_Even(x):\n    time.sleep(60)\n    return x & 1 == 0"
SPINS = "def check_Even(x):\n    while True:\n        pass"
NO_FUNCTION = "```python\nprint('even')\n```"


@pytest.mark.parametrize(
    ("target", "cause"),
    [
        (NO_CODE, "no_code"),
        (BROKEN, "no_code"),
        (NO_FUNCTION, "no_function"),
        (f"```python\n{SLEEPS}\n```", "timeout"),
        (f"```python\n{SPINS}\n```", "cpu_limit"),
    ],
)
def test_what_cannot_be_run_stays_rejected_and_is_counted(target, cause):
    """No code, code that does not parse or defines no function, a wall-clock timeout, the CPU limit: the
    text decision (rejected) stands, and the cause is counted; never read as 'fails, so another problem'."""
    _, task = _mbpp()
    proposal = replace(_reworded(task), target=target)
    limits = ["task.sandbox.timeout_s=3", "task.sandbox.cpu_s=1"]
    kept, rejected, executed = _filter([proposal], limits)
    assert kept == [] and _by_text(rejected) == 1
    assert executed == {"confirmed": 0, "cleared": 0, "unconfirmed": {cause: 1}}


def test_a_sandbox_error_or_no_permission_to_run_stays_rejected(monkeypatch):
    from pada.tasks.code import CodeTask

    _, task = _mbpp()
    _, rejected, executed = _filter([_odd(task)], ["allow_code_execution=false"])
    assert _by_text(rejected) == 1 and executed["unconfirmed"] == {"not_allowed": 1}

    def broken(self, codes, examples):
        raise PadaError("sandbox: unshare failed")

    monkeypatch.setattr(CodeTask, "run", broken)
    _, rejected, executed = _filter([_odd(task)])
    assert _by_text(rejected) == 1 and executed["unconfirmed"] == {"sandbox_error": 1}


def test_only_text_matches_are_run_and_other_tasks_have_no_execution_check(monkeypatch):
    """A proposal the text rules do not match is never run; a task without tests gets no check at all."""
    from conftest import compose_config

    from pada.tasks.code import CodeTask

    ran: list[int] = []
    real = CodeTask.run
    monkeypatch.setattr(CodeTask, "run", lambda self, c, e: ran.append(len(c)) or real(self, c, e))
    _, task = _mbpp()
    fresh = _item(task, "fresh/sum", "Write a function to sum a list.", "def f(x):\n    return sum(x)", [])
    kept, rejected, executed = _filter([fresh])
    assert kept == [fresh] and ran == [] and executed == {"confirmed": 0, "cleared": 0, "unconfirmed": {}}
    gsm8k = compose_config(["task=gsm8k"])
    assert fairness.build_decontaminator(gsm8k, [], build_task(gsm8k.task)).execution is None


def test_execution_check_must_be_a_boolean():
    from conftest import compose_config

    with pytest.raises(PadaError, match="execution_check: expected true or false"):
        fairness.build_paraphrases(compose_config(["decontamination.semantic.execution_check=maybe"]), [])


def test_the_held_out_tests_call_the_proposals_own_function():
    from pada.run.execution import bind_entry, held_entry

    _, task = _mbpp()
    assert held_entry(_held(task)[0]) == "is_Even"
    code = "def helper(x):\n    return x & 1\n\ndef check_Even(x):\n    return helper(x) == 0"
    bound = bind_entry(code, "assert check_Even(2) == True", "is_Even")
    assert bound.endswith(
        "def is_Even(*args, **kwargs):  # the held-out tests' name\n    return check_Even(*args, **kwargs)\n"
    )
    assert bind_entry("def is_Even(n):\n    return True", "", "is_Even") == "def is_Even(n):\n    return True"
    assert bind_entry("is_Even = lambda n: True", "", "is_Even") == "is_Even = lambda n: True"
    assert bind_entry("x = 1", "", "is_Even") is None


def test_humaneval_items_are_run_through_their_entry_point():
    """HumanEval's held-out tests call ``check(entry_point)``; a proposal restating the problem under another
    function name passes them (confirmed), one that computes something else fails them (cleared)."""
    from conftest import compose_config

    from pada.run.execution import ExecutionCheck

    cfg = compose_config(["task=humaneval", "allow_code_execution=true", "task.sandbox.workers=1"])
    task = build_task(cfg.task)
    header = 'def add(x: int, y: int) -> int:\n    """Add two numbers."""\n'
    held = Example(
        "HumanEval/53",
        header,
        f"```python\n{header}    return x + y\n```",
        "    return x + y\n",
        meta={
            "tests": "def check(f):\n    assert f(2, 3) == 5\n\ncheck(add)",
            "entry_point": "add",
            "header": header,
        },
    )
    same = replace(held, id="p/0", target="```python\ndef plus(a, b):\n    return a + b\n```")
    other = replace(held, id="p/1", target="```python\ndef minus(a, b):\n    return a - b\n```")
    outcomes = ExecutionCheck(task, [held]).outcomes([(same, ["HumanEval/53"]), (other, ["HumanEval/53"])])
    assert [o.verdict for o in outcomes] == ["confirmed", "cleared"]


def test_results_sum_the_execution_counts_over_rounds():
    rounds = [
        {
            "new_examples": 1,
            "rejected": {"paraphrase_executes": 2},
            "execution_check": {"confirmed": 2, "cleared": 1, "unconfirmed": {"timeout": 1}},
        },
        {
            "new_examples": 0,
            "rejected": {},
            "execution_check": {"confirmed": 0, "cleared": 3, "unconfirmed": {"no_code": 2, "timeout": 1}},
        },
    ]
    data = fairness.data_accounting(rounds)
    assert data["execution_check"] == {
        "confirmed": 2,
        "cleared": 4,
        "unconfirmed": {"no_code": 2, "timeout": 2},
    }
    assert "execution_check" not in fairness.data_accounting([{"new_examples": 0, "rejected": {}}])
