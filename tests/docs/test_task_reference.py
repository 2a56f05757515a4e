"""docs/tasks.md's task-key table is generated from the keys the code declares (pada.tasks.reference), and
docs/templates/task.yaml, the template a user copies, holds every key with its default and runs as it is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from pada.cli import main
from pada.tasks import reference
from pada.tasks.user import DEFAULTS, REQUIRED

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docs" / "templates" / "task.yaml"
START, END = "<!-- task-keys:start -->", "<!-- task-keys:end -->"
# Keys the template fills with an example instead of the default (it shows a test file and a carved val split).
EXAMPLES = {"files.test": "test.jsonl", "val_size": 100}


def _flat(node: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict) and key not in ("expected_sizes",):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_docs_table_is_the_generated_one():
    doc = (ROOT / "docs" / "tasks.md").read_text(encoding="utf-8")
    assert START in doc and END in doc, "docs/tasks.md lost its task-keys markers"
    table = doc.split(START)[1].split(END)[0].strip("\n") + "\n"
    assert table == reference.markdown(), "regenerate: python -m pada.tasks.reference"


def test_every_declared_key_has_a_type_and_no_other():
    assert set(reference.TYPES) == set(REQUIRED) | set(DEFAULTS)
    assert [row[0] for row in reference.rows()] == ["_target_", *REQUIRED, *DEFAULTS]


def test_the_template_holds_every_key_with_its_default():
    template = _flat(yaml.safe_load(TEMPLATE.read_text(encoding="utf-8")))
    assert set(template) == {"_target_", *REQUIRED, *DEFAULTS}
    assert template["_target_"] == reference.TARGET
    for key, setting in DEFAULTS.items():
        assert template[key] == EXAMPLES.get(key, setting.default), key


def test_the_template_runs_as_it_is(tmp_path, capsys):
    """Found a fault: local_subdir null (its documented default) crashed every task loaded with it."""
    rows = [{"question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(130)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:120]))
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[120:]))
    shutil.copy(TEMPLATE, tmp_path / "my_task.yaml")
    assert main(["data", "check", str(tmp_path / "my_task.yaml"), "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "my_task: pool 20, val 100, test 10, fewshot 0"  # val_size 100 carved from train's 120
    assert out[1].startswith("  gold outputs scored correct: 130/130") and out[2] == "  OK"
