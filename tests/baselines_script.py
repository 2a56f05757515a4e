"""A deterministic scripted teacher for the baseline tests, answering the tiny GSM8K fixture's problems
("Tom has A apples and buys B more. How many apples?") by parsing them out of the prompt text."""

from __future__ import annotations

import json
import re

from pada.teacher import Call, register_script

PROBLEM = re.compile(r"(\w+) has (\d+) (\w+) and buys (\d+) more\. How many \w+\?")


def _problem(text: str) -> tuple[str, int, str, int]:
    name, a, thing, b = PROBLEM.search(text).groups()
    return name, int(a), thing, int(b)


def _user(call: Call) -> str:
    return [content for role, content in call.messages if role == "user"][0]


@register_script("test_baselines")
def script(call: Call) -> str:
    user = _user(call)
    if call.role == "paraphrase":
        name, a, thing, b = _problem(user)
        if call.sample_index == 0:  # an unchanged question: a duplicate the method must drop
            return json.dumps({"question": f"{name} has {a} {thing} and buys {b} more. How many {thing}?"})
        if call.sample_index == 2:  # a rewrite that changed a number: verification must catch it
            a += 1
        return json.dumps(
            {
                "question": f"{name} buys {b} more {thing}, having {a} {thing} before. "
                f"How many {thing} now (v{call.sample_index})?"
            }
        )
    if call.role == "verification":
        numbers = [
            int(n) for n in re.findall(r"\d+", user.split("Proposed solution:")[0].split("Problem:")[-1])
        ]
        return json.dumps({"valid": True, "answer": str(numbers[0] + numbers[1]), "reason": ""})
    if call.role == "error_analysis":
        name, a, thing, b = _problem(user)
        contrasts = user.count("got RIGHT")
        return json.dumps({"error": f"added {a} and {b} wrongly", "missing_skill": f"addition ({contrasts})"})
    if call.role == "generation":
        name, a, thing, b = _problem(user)
        k = call.sample_index + 1
        copy = (
            k == 1 and "answer key" in user
        )  # LLM2LLM: the first sample copies the seed; ROUGE-L rejects it
        a2 = a if copy else a + 100 * k
        question = (
            f"{name} has {a} {thing} and buys {b} more. How many {thing}?"
            if copy
            else (f"Ann has {a2} pears and buys {b} more. How many pears?")
        )
        return json.dumps({"question": question, "solution": f"{a2} + {b} = {a2 + b}", "answer": str(a2 + b)})
    raise AssertionError(f"unexpected role {call.role}")
