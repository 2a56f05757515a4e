"""scripts/check_function_length.py (run by `make lint`): the shipped code passes, and it fails on a function
one line over the limit or on a formatter marker, so the check cannot pass vacuously."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "check_function_length", ROOT / "scripts/check_function_length.py"
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def _function(lines: int) -> str:
    """A function of exactly ``lines`` lines, ``def`` line included."""
    return "def f():\n" + "    x = 1\n" * (lines - 1)


def test_the_shipped_code_passes(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert check.main([]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (_function(check.MAX_LINES), None),
        (_function(check.MAX_LINES + 1), f"f is {check.MAX_LINES + 1} lines"),
        ("class A:\n    " + _function(check.MAX_LINES + 1).replace("\n    ", "\n        "), "f is"),
        ("x = [1,  2]  # fmt: skip\n", "'# fmt: skip' marker"),
        ("# fmt: off\nx = [1,  2]\n# fmt: on\n", "'# fmt: off' marker"),
    ],
)
def test_a_long_function_or_a_marker_is_reported(tmp_path, source, problem):
    path = tmp_path / "m.py"
    path.write_text(source)
    found = check.offenders(path)
    assert (found == []) if problem is None else (len(found) == 1 and problem in found[0]), found
