"""The ``pada`` command lines the docs show (fenced ``sh``/``bash`` blocks of README.md and docs/*.md) parse
with pada's own command-line parser: a user who copies one gets the command, not a usage error. The Hydra
commands (``pada run``, ``pada preflight``) are composed elsewhere (tests/docs/test_every_config.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pada import cli

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"```(?:sh|bash|console)\n(.*?)```", re.DOTALL)
PARSED = ("analyze", "data", "status", "exec")  # subcommands argparse reads (not Hydra's)


def doc_commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in FENCE.findall(doc.read_text(encoding="utf-8")):
            for line in block.splitlines():
                if not line.startswith("pada ") or line.split()[1] not in PARSED:
                    continue  # a Hydra command (maybe continued with a backslash) is not parsed here
                words = shlex.split(line, comments=True)
                if len(words) > 1:
                    found.append((f"{doc.name}: {line.split('#')[0].strip()}", words[1:]))
    return found


COMMANDS = doc_commands()


def test_the_docs_show_such_commands():
    assert any(args[0] == "analyze" for _, args in COMMANDS) and any(
        args[0] == "data" for _, args in COMMANDS
    )


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_a_documented_command_line_parses(where, args, monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "_dispatch", lambda parsed: seen.append(parsed) or 0)  # parse only, run nothing
    try:
        assert cli.main(args) == 0
    except SystemExit as error:  # argparse's usage error
        pytest.fail(f"{where}: pada {' '.join(args)} is a usage error (exit {error.code})")
    assert len(seen) == 1


def test_docs_architecture_lists_every_declared_layer_module():
    """docs/architecture.md's table names the modules of pyproject.toml's pada-layers contract, no more, no less."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["id"] == "pada-layers"]
    declared = {f"pada.{m.strip()}" for layer in layers for m in layer.split("|")}
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [
        re.split(r"(?<!\\)\|", line) for line in doc.splitlines() if line.startswith("| ") and "`" in line
    ]
    table = [row[2] for row in rows]  # the modules column (an escaped \| separates siblings)
    documented = {m for cell in table for m in re.findall(r"`(pada\.[a-z_]+)`", cell)}
    assert documented == declared, (sorted(declared - documented), sorted(documented - declared))
