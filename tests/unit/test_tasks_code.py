"""MBPP and HumanEval: official split, code extraction, scoring in the sandbox, reference solutions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.tasks import build_task
from pada.tasks.code import extract_code
from pada.tasks.mbpp import split_of

CONF = Path(__file__).resolve().parents[2] / "conf" / "task"
DATA = os.environ.get("PADA_DATA_DIR")


def task(name: str, confirm: bool = True):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    cfg.confirm_run_unsafe_code = confirm
    cfg.sandbox.timeout_s = 5
    return build_task(cfg)


def mbpp_row(task_id: int) -> dict:
    return {
        "task_id": task_id,
        "text": f"Write a function to add {task_id}.",
        "code": f"def add_{task_id}(x):\r\n\treturn x + {task_id}",
        "test_list": [f"assert add_{task_id}(1) == {task_id + 1}", f"assert add_{task_id}(0) == {task_id}"],
        "test_setup_code": "",
        "challenge_test_list": [],
    }


@pytest.fixture
def mbpp_dir(tmp_path):
    (tmp_path / "mbpp").mkdir()
    ids = [1, 10, 11, 510, 511, 600, 601, 974]
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text("".join(json.dumps(mbpp_row(i)) + "\n" for i in ids))
    return tmp_path


@pytest.mark.parametrize(
    ("task_id", "split"),
    [
        (1, "fewshot"),
        (10, "fewshot"),
        (11, "test"),
        (510, "test"),
        (511, "val"),
        (600, "val"),
        (601, "pool"),
        (974, "pool"),
    ],
)
def test_mbpp_official_split_boundaries(task_id, split):
    assert split_of(task_id) == split


def test_mbpp_task_id_out_of_range_is_an_error():
    with pytest.raises(PadaError, match="task_id 975 is outside the official range 1-974"):
        split_of(975)


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ("```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1"),
        ("Here:\n```py\nx = 1\n```\n```python\ny = 2\n```", "x = 1"),  # the first block
        ("```\nx = 1\n", "x = 1"),  # an unclosed block runs to the end
        ("def f():\n    return 2\n[DONE]", "def f():\n    return 2"),  # lm-eval's MBPP few-shot format
    ],
)
def test_extract_code(output, code):
    assert extract_code(output) == code


def test_mbpp_loads_and_scores_in_the_sandbox(mbpp_dir):
    mbpp = task("mbpp")
    splits = mbpp.load(mbpp_dir)
    assert [e.meta["task_id"] for e in splits.fewshot] == [1, 10]
    assert [e.meta["task_id"] for e in splits.test] == [11, 510]
    assert [e.meta["task_id"] for e in splits.val] == [511, 600]
    assert [e.meta["task_id"] for e in splits.pool] == [601, 974]
    example = splits.test[0]
    assert "assert add_11(1) == 12\nassert add_11(0) == 11" in example.prompt
    outputs = [
        example.target,  # the reference, as a fenced block
        "```python\ndef add_11(x):\n    return x + 12\n```",  # mutated: off by one
        "```python\ndef add_11(x):\n    import sys; sys.exit(0)\n```",  # exits before the asserts
        "no code at all",
    ]
    records = mbpp.score([example] * 4, outputs)
    assert [r.correct for r in records] == [True, False, False, False]
    assert records[0].extracted == "def add_11(x):\n\treturn x + 11"
    assert mbpp.is_correct(mbpp.extract(example.target), example)


def test_code_execution_is_opt_in(mbpp_dir):
    mbpp = task("mbpp", confirm=False)
    example = mbpp.load(mbpp_dir).test[0]
    with pytest.raises(PadaError, match="task.confirm_run_unsafe_code=true"):
        mbpp.score([example], [example.target])


def test_mbpp_setup_code_runs_after_the_solution(mbpp_dir):
    row = mbpp_row(12) | {
        "code": "class Node:\n    def __init__(self, v):\n        self.v = v\ndef val(n):\n    return n.v",
        "test_setup_code": "root = Node(3)",
        "test_list": ["assert val(root) == 3"],
    }
    path = mbpp_dir / "mbpp" / "mbpp.jsonl"
    path.write_text(path.read_text() + json.dumps(row) + "\n")
    mbpp = task("mbpp")
    example = next(e for e in mbpp.load(mbpp_dir).test if e.meta["task_id"] == 12)
    assert [r.correct for r in mbpp.score([example], [example.target])] == [True]


def test_mbpp_duplicate_task_ids_are_an_error(mbpp_dir):
    path = mbpp_dir / "mbpp" / "mbpp.jsonl"
    path.write_text(path.read_text() + json.dumps(mbpp_row(11)) + "\n")
    with pytest.raises(PadaError, match=r"duplicate ids in MBPP: \['11'\]"):
        task("mbpp").load(mbpp_dir)


def test_mbpp_row_missing_a_field_names_file_and_line(mbpp_dir):
    path = mbpp_dir / "mbpp" / "mbpp.jsonl"
    path.write_text(path.read_text() + json.dumps({"task_id": 12, "text": "x"}) + "\n")
    with pytest.raises(PadaError, match=r"mbpp.jsonl:9: row lacks the field\(s\) \['code', 'test_list'"):
        task("mbpp").load(mbpp_dir)


HUMANEVAL_ROW = {
    "task_id": "HumanEval/0",
    "prompt": 'def double(x: int) -> int:\n    """Twice x."""\n',
    "canonical_solution": "    return 2 * x\n",
    "test": "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-1) == -2\n",
    "entry_point": "double",
}


@pytest.fixture
def humaneval_dir(tmp_path):
    (tmp_path / "humaneval").mkdir()
    (tmp_path / "humaneval" / "HumanEval.jsonl").write_text(json.dumps(HUMANEVAL_ROW) + "\n")
    return tmp_path


def test_humaneval_is_test_only_and_scores_body_or_whole_function(humaneval_dir):
    humaneval = task("humaneval")
    splits = humaneval.load(humaneval_dir)
    assert (len(splits.pool), len(splits.val), len(splits.test)) == (0, 0, 1)
    example = splits.test[0]
    outputs = [
        example.target,
        "```python\n    return x + x\n```",  # body only: appended to the prompt, as lm-eval does
        "```python\ndef double(x):\n    return x * x\n```",  # mutated
    ]
    assert [r.correct for r in humaneval.score([example] * 3, outputs)] == [True, True, False]


PREAMBLE_ROW = {
    "task_id": "HumanEval/P",
    "prompt": (
        "from typing import List\nimport math\n\n\ndef _half(x: float) -> float:\n    return x / 2\n\n\n"
        'def halves(xs: List[float]) -> List[float]:\n    """Each x halved, then floored."""\n'
    ),
    "canonical_solution": "    return [math.floor(_half(x)) for x in xs]\n",
    "test": "def check(candidate):\n    assert candidate([4.0, 5.0]) == [2, 2]\n",
    "entry_point": "halves",
}


def whole_function(row: dict) -> str:
    """The entry point's definition and the canonical body, without the prompt's imports and helpers."""
    start = re.search(rf"^def {row['entry_point']}\(", row["prompt"], re.MULTILINE).start()
    return row["prompt"][start:] + row["canonical_solution"]


def answers(row: dict) -> list[str]:
    """A canonical solution written as the whole function without the preamble, and as the body only."""
    return [f"```python\n{whole_function(row)}```", f"```python\n{row['canonical_solution']}```"]


def test_humaneval_whole_function_gets_the_prompts_imports_and_helpers(tmp_path):
    (tmp_path / "humaneval").mkdir()
    rows = [PREAMBLE_ROW, {**PREAMBLE_ROW, "task_id": "HumanEval/Q", "prompt": "\n" + PREAMBLE_ROW["prompt"]}]
    (tmp_path / "humaneval" / "HumanEval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    humaneval = task("humaneval")
    examples = humaneval.load(tmp_path).test
    pairs = [(e, a) for e, row in zip(examples, rows, strict=True) for a in answers(row)]
    # a completion whose helper shares the entry point's prefix still counts as body-only
    pairs.append((examples[0], "```python\n    def halves_of(y):\n        return y\n    return [2, 2]\n```"))
    records = humaneval.score([e for e, _ in pairs], [a for _, a in pairs])
    assert [r.correct for r in records] == [True] * len(pairs)


@pytest.mark.data
@pytest.mark.skipif(not DATA or not (Path(DATA) / "humaneval").is_dir(), reason="PADA_DATA_DIR not set")
def test_real_humaneval_canonical_solutions_pass_whole_or_body_only():
    humaneval = task("humaneval")
    rows = [
        json.loads(line) for line in (Path(DATA) / "humaneval" / "HumanEval.jsonl").read_text().splitlines()
    ]
    examples = {e.id: e for e in humaneval.load(Path(DATA)).test}
    pairs = [(examples[row["task_id"]], a) for row in rows for a in answers(row)]
    records = humaneval.score([e for e, _ in pairs], [a for _, a in pairs])
    assert len(records) == 2 * 164
    assert [(r.item_id, r.output[:40]) for r in records if not r.correct] == []


@pytest.mark.data
@pytest.mark.skipif(not DATA or not (Path(DATA) / "humaneval").is_dir(), reason="PADA_DATA_DIR not set")
def test_real_humaneval_references_pass_and_mutants_fail():
    humaneval = task("humaneval")
    examples = humaneval.load(Path(DATA)).test
    assert len(examples) == 164
    references = humaneval.score(examples, [e.target for e in examples])
    assert [r.item_id for r in references if not r.correct] == []
    mutants = humaneval.score(examples[:40], ["```python\n    return None\n```"] * 40)
    assert [r.item_id for r in mutants if r.correct] == []


@pytest.mark.data
@pytest.mark.skipif(not DATA or not (Path(DATA) / "mbpp").is_dir(), reason="PADA_DATA_DIR not set")
def test_real_mbpp_split_and_a_sample_of_references():
    mbpp = task("mbpp")
    splits = mbpp.load(Path(DATA))
    assert (len(splits.fewshot), len(splits.test), len(splits.val), len(splits.pool)) == (10, 500, 90, 374)
    sample = splits.test[:40] + [e for e in splits.test if e.meta["task_id"] == 367]
    records = mbpp.score(sample, [e.target for e in sample])
    assert [r.item_id for r in records if not r.correct] == []
    broken = mbpp.score(sample[:20], [e.target.replace("return", "return None and") for e in sample[:20]])
    assert [r.item_id for r in broken if r.correct] == []


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.skipif(not DATA or not (Path(DATA) / "mbpp").is_dir(), reason="PADA_DATA_DIR not set")
def test_real_mbpp_every_reference_passes():
    mbpp = task("mbpp")
    splits = mbpp.load(Path(DATA))
    examples = [e for items in splits.named().values() for e in items]
    records = mbpp.score(examples, [e.target for e in examples])
    assert [r.item_id for r in records if not r.correct] == []


def test_tests_that_assert_nothing_are_recognised():
    from pada.tasks.code import asserts_something

    assert asserts_something("assert f(1) == 2") and asserts_something("for x in [1]:\n    assert f(x)")
    assert not any(asserts_something(t) for t in ("pass", "x = 1", "assert (", "f(1) == 2", ""))
