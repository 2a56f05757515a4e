"""Sandboxed execution of generated code (see ``runner`` for what is and is not contained)."""

from pada.sandbox.runner import Limits, Verdict, isolation_level, run_program, run_programs

__all__ = ["Limits", "Verdict", "isolation_level", "run_program", "run_programs"]
