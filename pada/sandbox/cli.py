"""``pada exec SOLUTION.py --tests TESTS.py``: run a solution against its tests as the coding tasks do."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pada.errors import PadaError
from pada.sandbox.runner import WALL_PER_CPU, Limits, run_program


def _read(path: str, what: str) -> str:
    if not Path(path).is_file():
        raise PadaError(f"{what} file {path} not found; pass an existing Python file")
    return Path(path).read_text(encoding="utf-8")


def exec_main(solution: str, tests: str, timeout_s: float) -> int:
    """Prints the JSON verdict; exit status 0 when the tests pass, 1 when they do not. ``timeout_s`` is the
    CPU-time limit (the one that decides, as in the coding tasks); the wall clock is only a backstop."""
    if timeout_s <= 0:
        raise PadaError(f"--timeout {timeout_s} must be a positive number of seconds")
    program = (_read(solution, "solution"), _read(tests, "tests"))  # as CodeTask.program: tests out of reach
    cpu_s = max(1, math.ceil(timeout_s))  # RLIMIT_CPU takes whole seconds
    verdict = run_program(program, Limits(timeout_s=WALL_PER_CPU * cpu_s, cpu_s=cpu_s))
    print(json.dumps(verdict.to_dict(), indent=2))
    return 0 if verdict.passed else 1
