"""``pada data check``: counts, gold answers scored as outputs, reference solutions run, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pada.cli import main
from pada.data_check import check

DATA = os.environ.get("PADA_DATA_DIR")


def arc_row(item_id: str, answer: str) -> dict:
    choices = [{"text": f"option {label}", "label": label} for label in "ABCD"]
    return {"id": item_id, "question": {"stem": "Which?", "choices": choices}, "answerKey": answer}


@pytest.fixture
def arc_dir(tmp_path):
    (tmp_path / "arc").mkdir()
    for part, rows in {
        "Train": [arc_row("a", "A"), arc_row("b", "D")],
        "Dev": [arc_row("c", "B")],
        "Test": [],
    }.items():
        (tmp_path / "arc" / f"ARC-Challenge-{part}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
    return tmp_path


def mbpp_dir(root: Path, codes: dict[int, str]) -> Path:
    (root / "mbpp").mkdir()
    rows = [
        {"task_id": i, "text": "t", "code": code, "test_list": ["assert f(2) == 4"], "test_setup_code": ""}
        for i, code in codes.items()
    ]
    (root / "mbpp" / "mbpp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_gold_answers_all_extract(arc_dir):
    report = check("arc_challenge", str(arc_dir), {"expected_sizes": {"pool": 2, "val": 1, "test": 0}})
    assert report.ok and report.checked == 3
    assert report.counts == {"pool": 2, "val": 1, "test": 0, "fewshot": 0}


def test_a_gold_answer_that_does_not_extract_is_listed(arc_dir):
    # A target template whose letter the extractor cannot find: every gold answer fails, by id.
    report = check(
        "arc_challenge", str(arc_dir), {"target_template": "Option {text}", "expected_sizes": None}
    )
    assert not report.ok
    assert [item for item, _ in report.failures] == ["arc/a", "arc/b", "arc/c"]
    assert report.failures[0][1] == "gold output extracts to None, gold answer 'A'"


def test_failing_reference_solutions_are_listed(tmp_path):
    codes = {
        1: "def f(x):\n    return 2 * x",
        11: "def f(x):\n    return x + 3",
        601: "while True:\n    pass",
    }
    report = check(
        "mbpp",
        str(mbpp_dir(tmp_path, codes)),
        {"expected_sizes": None, "sandbox": {"timeout_s": 1, "cpu_s": 1}},
    )
    assert report.checked == 3
    assert [item for item, _ in report.failures] == ["mbpp/601", "mbpp/11"]  # split order: pool, val, test
    assert report.failures[0][1].split(":")[0] in ("timeout", "cpu_limit")
    assert report.failures[1][1].startswith("failed: AssertionError")


def test_cli_exits_1_and_names_wrong_split_sizes(arc_dir, capsys):
    assert main(["data", "check", "arc_challenge", "--data-dir", str(arc_dir)]) == 1
    out = capsys.readouterr().out
    assert "arc_challenge: pool 2, val 1, test 0, fewshot 0" in out
    assert "size mismatch: pool has 2 items, expected 1119" in out and out.rstrip().endswith("FAILED")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["data", "check", "cifar10"],
            "pada: error: unknown task 'cifar10'; choose one of: arc_challenge, gsm8k,",
        ),
        (
            ["data", "check", "mbpp", "--data-dir", "/nonexistent"],
            "pada: error: data directory /nonexistent does not",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.data
@pytest.mark.skipif(not DATA or not Path(DATA, "gsm8k").is_dir(), reason="PADA_DATA_DIR not set")
@pytest.mark.parametrize("name", ["gsm8k", "arc_challenge", "mmlu", "humaneval"])
def test_real_data_checks_clean(name, capsys):
    assert main(["data", "check", name, "--data-dir", DATA]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK")


def test_bad_rows_skip_policy_counts_and_lists_them(arc_dir):
    path = arc_dir / "arc" / "ARC-Challenge-Train.jsonl"
    path.write_text(path.read_text() + "{broken\n" + json.dumps({"id": "x"}) + "\n")
    report = check(
        "arc_challenge",
        str(arc_dir),
        {"bad_rows": "skip", "expected_sizes": {"pool": 2, "val": 1, "test": 0}},
    )
    assert report.counts["pool"] == 2 and not report.failures
    assert [row.split(": ", 1)[1] for row in report.skipped_rows] == [
        "not valid JSON (Expecting property name enclosed in double quotes)",
        "row lacks the field(s) ['question', 'answerKey'] (it has ['id'])",
    ]
    assert report.skipped_rows[0].endswith(
        "ARC-Challenge-Train.jsonl:3: not valid JSON (Expecting property name enclosed in double quotes)"
    )
    assert not report.ok  # data check reports them even when loading tolerates them
