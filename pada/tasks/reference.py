"""The key reference of a user's task YAML (docs/tasks.md, "Task keys"), generated from the keys the code
declares (``pada.tasks.user_keys.REQUIRED`` and ``DEFAULTS``), so the page cannot drift from what ``pada run``
does: tests/docs/test_task_reference.py compares the page's table with ``markdown()``.

Usage: ``python -m pada.tasks.reference`` prints the table.
"""

from __future__ import annotations

import json
from typing import Any

from pada.tasks.user_keys import DEFAULTS, REQUIRED, SCORERS

TARGET = "pada.tasks.user.UserTask"
# The value type of each key (REQUIRED and DEFAULTS give the rule and the default, not the type).
TYPES = {
    "name": "str",
    "scorer": ", ".join(SCORERS),
    "prompt_template": "str (format string)",
    "fields.question": "str (field name)",
    "fields.answer": "str (field name)",
    "files.train": "str (path)",
    "local_subdir": "str (folder)",
    "files.val": "str (path)",
    "files.test": "str (path)",
    "files.fewshot": "str (path)",
    "csv_columns": "list[str]",
    "fields.id": "str (field name)",
    "fields.choices": "str or list[str] (field names)",
    "fields.tests": "str (field name)",
    "fields.target": "str (field name)",
    "fields.setup": "str (field name)",
    "val_size": "int",
    "test_size": "int",
    "split_seed": "int",
    "target_template": "str (format string)",
    "extraction": "flexible or strict",
    "answer_regex": "str (regex, one group)",
    "bad_rows": "error or skip",
    "expected_sizes": "dict[str, int] (split -> items)",
    "system_prompt": "str",
    "description": "str",
    "fewshot.source": "fewshot or pool",
    "fewshot.n": "int",
    "fewshot.same": "str (meta key)",
    "max_new_tokens": "int (tokens)",
    "stop": "list[str]",
    "limits.val": "int (items)",
    "limits.test": "int (items)",
    "hub_id": "str (Hub dataset id)",
    "hub_config": "str",
    "hub_splits.train": "str (split name)",
    "hub_splits.val": "str (split name)",
    "hub_splits.test": "str (split name)",
    "hub_splits.fewshot": "str (split name)",
    "confirm_run_unsafe_code": "bool",
    "sandbox.timeout_s": "int (seconds, wall clock)",
    "sandbox.cpu_s": "int (seconds, CPU)",
    "sandbox.memory_mb": "int (MiB)",
    "sandbox.workers": "int (processes)",
}


def _default(value: Any) -> str:
    return "`null`" if value is None else f"`{json.dumps(value)}`"


def rows() -> list[tuple[str, str, str, str, str]]:
    """(key, type, required, default, why) for ``_target_``, every required key, then every optional one.

    Raises:
        KeyError: a declared key has no entry in ``TYPES`` (a new key must say its type here too).
    """
    table = [("_target_", "str (class path)", "yes", "", f"`{TARGET}`: a task from this YAML alone")]
    table += [(key, TYPES[key], "yes", "", why) for key, why in REQUIRED.items()]
    table += [(key, TYPES[key], "no", _default(s.default), s.why) for key, s in DEFAULTS.items()]
    return table


def markdown() -> str:
    """The reference as a Markdown table (one row per key; dotted keys are entries of a mapping)."""
    lines = ["| key | type | required | default | when left out / why |", "|---|---|---|---|---|"]
    for key, kind, required, default, why in rows():
        why = why.replace("|", "/").replace("<", "&lt;")  # '<name>' is not an HTML tag
        lines.append(f"| `{key}` | {kind} | {required} | {default} | {why} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
