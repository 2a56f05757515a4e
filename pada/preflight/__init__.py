"""``pada preflight [overrides]``: check a sweep's prerequisites and print its plan before submitting it.

Checks GPU, model access, data, teacher credentials, the launcher and disk for every distinct setting in the
sweep; prints the number of jobs and estimated GPU hours and teacher tokens/dollars (from the config's
``plan`` section: estimates, labelled as such). Any problem: the list of fixes and exit status 1.

Modules: compose.py (the sweep's cells and their configs), checks.py (one cell's problems), probe.py (the
teacher probe), plan.py (the estimates), command.py (``main``). Callers import from ``pada.preflight``.
"""

from pada.preflight.command import calls_lines, main, preflight
from pada.preflight.compose import expand_sweep
from pada.preflight.plan import expected_calls, plan
from pada.preflight.probe import probe_teacher, served_model_problem

__all__ = [
    "calls_lines",
    "expand_sweep",
    "expected_calls",
    "main",
    "plan",
    "preflight",
    "probe_teacher",
    "served_model_problem",
]
