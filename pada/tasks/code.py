"""Shared machinery of coding tasks: code extraction and scoring by running tests in the sandbox.

An item fails when its program (setup + extracted code + the item's tests) does not run to its last line
inside the sandbox (see ``pada.sandbox``). Running model-written code is opt-in, as lm-eval's
``--confirm_run_unsafe_code``: set ``task.confirm_run_unsafe_code=true``.
"""

from __future__ import annotations

import ast
import re

from pada.errors import PadaError
from pada.sandbox import Limits, Verdict, run_program, run_programs
from pada.tasks.base import Task
from pada.types import EvalRecord, Example

_FENCED = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(output: str) -> str:
    """The first fenced code block (an unclosed one runs to the end), else the whole output."""
    match = _FENCED.search(output)
    code = match.group(1) if match else output
    return code.replace("[DONE]", "").strip("\n")


def asserts_something(source: str) -> bool:
    """True when ``source`` parses as Python and holds at least one ``assert`` statement: tests that assert
    nothing (``"pass"``, ``"x = 1"``) let any program count as correct."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


class CodeTask(Task):
    def program(self, code: str, example: Example) -> tuple[str, str]:
        """(solution, tests): the sandbox runs them in two processes, the tests out of the code's reach."""
        # Setup goes with the tests, after the solution: MBPP 367 and 927 build trees from its Node class.
        setup = example.meta.get("setup", "")
        return f"{code}\n", f"{setup}\n{example.meta['tests']}\n"

    def limits(self) -> Limits:
        box = self.cfg.sandbox
        return Limits(timeout_s=box.timeout_s, cpu_s=box.cpu_s, memory_mb=box.memory_mb)

    def require_code_execution(self) -> None:
        if not self.cfg.get("confirm_run_unsafe_code"):
            raise PadaError(
                f"task {self.name} executes model-written code; rerun with task.confirm_run_unsafe_code=true "
                "(it runs in the sandbox, see docs/tasks.md)"
            )

    def extract(self, output: str) -> str | None:
        return extract_code(output) or None

    def is_correct(self, extracted: str | None, example: Example) -> bool:
        if extracted is None:
            return False
        self.require_code_execution()
        return run_program(self.program(extracted, example), self.limits()).passed

    def run(self, codes: list[str], examples: list[Example]) -> list[Verdict]:
        """Verdicts for many (code, example) pairs, run in parallel (``sandbox.workers``, null = all cores)."""
        programs = [self.program(c, e) for c, e in zip(codes, examples, strict=True)]
        return run_programs(programs, self.limits(), self.cfg.sandbox.workers)

    def score(self, examples: list[Example], outputs: list[str]) -> list[EvalRecord]:
        self.require_code_execution()
        codes = [self.extract(o) for o in outputs]
        verdicts = self.run([c or "" for c in codes], examples)
        return [
            EvalRecord(e.id, e.prompt, o, c, e.answer, c is not None and v.passed)
            for e, o, c, v in zip(examples, outputs, codes, verdicts, strict=True)
        ]
