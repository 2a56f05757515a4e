"""A deterministic scripted teacher for the PaDA-Agent tests (imported via teacher.script_module too).

World: the tiny GSM8K fixture's "Tom has A apples and buys B more" problems. Analyses split failures by
whether A + B needs a carry past 20 (two patterns); generation writes "Sara collects ..." problems from the
sample index, with planted faults at fixed indices so every QC rejection reason is exercised.
"""

from __future__ import annotations

import json
import re

from pada.teacher import Call, register_script

HELD_OUT_QUESTION = "Ben had 4 kites and lost 2 of them. How many kites remain?"
FORMAT_FAULT, LEAK_FAULT, DUPLICATE_FAULT, VERIFY_FAULT = 1, 2, 3, 7  # sample indices with planted faults
_TOM = re.compile(r"Tom has (\d+) apples and buys (\d+) more")
_SARA = re.compile(r"Sara collects (\d+) shells and finds (\d+) more")


def sara(s: int) -> tuple[str, int]:
    a, b = 100 + s, 30 + s
    return f"Sara collects {a} shells and finds {b} more. How many shells?", a + b


def _analysis(text: str) -> dict:
    a, b = (int(x) for x in _TOM.search(text).groups())
    if a + b >= 20:
        return {"error": f"Lost the carry when adding {a} and {b}", "missing_skill": "carrying"}
    return {"error": f"Stopped after the first quantity {a}", "missing_skill": "multi-step addition"}


def _summary(text: str) -> dict:
    if "carry" in text:
        return {"name": "carrying", "description": "Loses the carry in two-digit sums."}
    return {"name": "multi-step", "description": "Stops after the first quantity."}


def _generation(s: int) -> dict:
    question, answer = sara(
        DUPLICATE_FAULT - 3 if s == DUPLICATE_FAULT else s
    )  # 3 repeats sample 0's problem
    if s == LEAK_FAULT:
        question, answer = HELD_OUT_QUESTION, 2
    stated = answer + 1 if s == FORMAT_FAULT else answer
    return {"question": question, "solution": f"Add them: {answer}\n#### {answer}", "answer": str(stated)}


def _verdict(text: str) -> dict:
    match = _SARA.search(text)
    if match is None:
        return {"valid": True, "answer": "2", "reason": "kites"}
    a, b = (int(x) for x in match.groups())
    wrong = a == 100 + VERIFY_FAULT
    return {"valid": True, "answer": str(a + b + (5 if wrong else 0)), "reason": "solved"}


@register_script("agent_test")
def agent_test(call: Call) -> str:
    text = call.messages[-1][1]
    if call.role == "error_analysis":
        return json.dumps(_analysis(text))
    if call.role == "pattern_summary":
        return json.dumps(_summary(text))
    if call.role == "strategy":
        name = re.search(r'Failure pattern "([^"]+)"', text)[1]
        return json.dumps({"strategy": f"STRATEGY[{name}]: vary the ones digits so sums cross ten."})
    if call.role == "generation":
        return json.dumps(_generation(call.sample_index))
    if call.role == "verification":
        return json.dumps(_verdict(text))
    raise AssertionError(f"unexpected role {call.role}")


def empty_correction() -> dict:
    """patterns.json's ``error_correction`` row of a round that asked for no error-correcting items."""
    return {"name": "error_correction", "requested": 0, "generated": 0, "accepted": 0, "rejected": {}}
