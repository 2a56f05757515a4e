"""Fail when a function is longer than MAX_LINES or a file hides code from the formatter (issue 20).

Lengths are measured on the code as `ruff format` writes it (``make lint`` runs ``ruff format --check`` first),
from the ``def`` line to the last line of the body, decorators excluded. ``# fmt: skip`` / ``# fmt: off``
markers are refused: they would let a long function read as a short one.

Usage: python scripts/check_function_length.py [paths...]   (default: the project's Python packages)
Exit status: 0 when every function fits, 1 otherwise (one line per offender: path:line name length).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

MAX_LINES = 60  # issue 20: a function should read on one screen
ROOTS = ("pada", "baselines", "analysis", "experiments", "hydra_plugins", "scripts", "tests")
MARKER = re.compile(r"#\s*fmt:\s*(skip|off)\b")


def offenders(path: Path) -> list[str]:
    """One message per over-long function or formatter marker in ``path``."""
    text = path.read_text(encoding="utf-8")
    comments = (t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.COMMENT)
    found = [f"{path}:{t.start[0]}: '{t.string}' marker" for t in comments if MARKER.search(t.string)]
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_LINES:
                found.append(f"{path}:{node.lineno}: {node.name} is {length} lines (max {MAX_LINES})")
    return found


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path(r) for r in ROOTS if Path(r).exists()]
    files = sorted(p for r in roots for p in ([r] if r.is_file() else r.rglob("*.py")))
    problems = [message for path in files for message in offenders(path)]
    print("\n".join(problems) or f"{len(files)} files: every function is at most {MAX_LINES} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
