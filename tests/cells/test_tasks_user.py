"""A user's own task from a YAML and data files (``_target_: pada.tasks.user.UserTask``): every scorer,
the split rules, bad rows as one line naming file:line, ``pada data check``, the generated-item format each scorer
implies, and a tiny JSONL task through ``pada run method=pada`` and ``pada analyze``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pada.cli import main
from pada.data_check import check
from pada.errors import PadaError
from pada.tasks import build_task
from pada.tasks.synthetic import ChoiceFormat, CodeFormat, MathFormat, synthetic_format


def _jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def apples(n: int, start: int = 0) -> list[dict]:
    """Tom-apples sums (the agent_support teacher's world) in a user's own field names."""
    return [
        {
            "uid": f"q{i}",
            "problem": f"Tom has {i % 9 + 1} apples and buys {i % 7 + 2} more. How many apples?",
            "result": i % 9 + 1 + i % 7 + 2,
        }
        for i in range(start, start + n)
    ]


def numeric_task(folder: Path, **extra) -> dict:
    _jsonl(folder / "mine" / "train.jsonl", apples(40))
    _jsonl(folder / "mine" / "val.jsonl", apples(6, start=100))
    return {
        "name": "my_apples",
        "_target_": "pada.tasks.user.UserTask",
        "scorer": "numeric",
        "extraction": "flexible",
        "local_subdir": "mine",
        "files": {"train": "train.jsonl", "val": "val.jsonl"},
        "test_size": 8,
        "split_seed": 7,
        "fields": {"id": "uid", "question": "problem", "answer": "result"},
        "prompt_template": "Solve it. End with '#### <number>'.\n\n{question}",
        "target_template": "#### {answer}",
        "system_prompt": None,
        "max_new_tokens": 16,
        "stop": [],
        "limits": {"val": None, "test": None},
        "bad_rows": "error",
        **extra,
    }


def write_yaml(folder: Path, cfg: dict) -> Path:
    path = folder / f"{cfg['name']}.yaml"
    OmegaConf.save(OmegaConf.create(cfg), path)
    return path


def test_numeric_task_splits_by_its_own_rule_and_every_gold_answer_scores(tmp_path):
    cfg = numeric_task(tmp_path)
    task = build_task(OmegaConf.create(cfg))
    splits = task.load(tmp_path)
    assert (len(splits.pool), len(splits.val), len(splits.test)) == (32, 6, 8)
    assert task.name == "my_apples" and splits.pool[0].id.startswith("my_apples/q")
    assert not {e.id for e in splits.pool} & {e.id for e in [*splits.val, *splits.test]}
    again = build_task(OmegaConf.create(cfg)).load(tmp_path)
    assert [e.id for e in again.test] == [e.id for e in splits.test]  # one fixed permutation
    other = build_task(OmegaConf.create({**cfg, "split_seed": 8})).load(tmp_path)
    assert [e.id for e in other.test] != [e.id for e in splits.test]
    first = splits.pool[0]
    assert first.prompt.endswith("Tom has 1 apples and buys 2 more. How many apples?") and first.answer == "3"
    assert task.is_correct(task.extract("1 + 2 = 3 apples"), first)
    assert not task.is_correct(task.extract("#### 4"), first)
    assert set(splits.files) == {"mine/train.jsonl", "mine/val.jsonl"}


def test_data_check_on_a_task_yaml_path(tmp_path, capsys):
    path = write_yaml(tmp_path, numeric_task(tmp_path, expected_sizes={"pool": 32, "val": 6, "test": 8}))
    report = check(str(path), str(tmp_path))
    assert report.ok and report.checked == 46 and report.task == "my_apples"
    assert main(["data", "check", str(path), "--data-dir", str(tmp_path)]) == 0
    assert "gold outputs scored correct: 46/46" in capsys.readouterr().out


def test_data_check_refuses_a_key_no_code_reads_as_pada_run_does(tmp_path, capsys):
    cfg = numeric_task(tmp_path)
    cfg["split_sed"] = cfg.pop("split_seed")  # a typo: the default permutation would be used silently
    path = write_yaml(tmp_path, cfg)
    assert main(["data", "check", str(path), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "pada: error: config key 'task.split_sed' is read by no code (a typo?); did you mean 'task.split_seed'?"
    ]


BAD_ROWS = [
    ({"uid": "x", "problem": "Tom?", "result": "many"}, "holds no number"),
    ({"uid": "x", "problem": "Tom?", "result": "nan"}, "holds no number ('nan')"),  # no output can equal it
    ({"uid": "x", "problem": "Tom?", "result": "inf"}, "holds no number ('inf')"),
    ({"uid": "x", "problem": "Tom?", "result": "#### -Infinity"}, "holds no number"),
    ({"uid": "x", "problem": "", "result": 3}, "'problem' must be a non-empty string"),
    ({"uid": "x", "result": 3}, "lacks the field(s) ['problem']"),
    ("{not json", "not valid JSON"),
]


@pytest.mark.parametrize(("row", "why"), BAD_ROWS, ids=[w for _, w in BAD_ROWS])
def test_a_bad_row_is_one_error_line_naming_file_and_line(row, why, tmp_path, capsys):
    path = write_yaml(tmp_path, numeric_task(tmp_path))
    train = tmp_path / "mine" / "train.jsonl"
    lines = train.read_text().splitlines()
    lines.insert(4, row if isinstance(row, str) else json.dumps(row))
    train.write_text("\n".join(lines) + "\n")
    assert main(["data", "check", str(path), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"pada: error: {train}:5: ") and why in err[0], err


def test_a_template_naming_an_unknown_field_names_the_first_row(tmp_path):
    cfg = numeric_task(tmp_path, target_template="#### {solution}")
    with pytest.raises(PadaError, match=r"train\.jsonl:1: cannot build the item \(KeyError: 'solution'\)"):
        build_task(OmegaConf.create(cfg)).load(tmp_path)


def test_duplicate_ids_and_a_missing_split_rule_are_errors(tmp_path):
    cfg = numeric_task(tmp_path)
    _jsonl(tmp_path / "mine" / "val.jsonl", apples(3, start=38))  # ids q38, q39 are also in train
    val = tmp_path / "mine" / "val.jsonl"
    with pytest.raises(PadaError, match=rf"^{val}:1: id 'q38' is an earlier row's id too \(fields.id 'uid'"):
        build_task(OmegaConf.create(cfg)).load(tmp_path)  # names the repeated row's file:line
    skipping = build_task(OmegaConf.create({**cfg, "bad_rows": "skip"}))
    assert len(skipping.load(tmp_path).val) == 1 and len(skipping.skipped_rows) == 2
    _jsonl(val, apples(2, start=100))
    with pytest.raises(PadaError, match="give task.files.test or a positive task.test_size"):
        build_task(OmegaConf.create({**cfg, "test_size": None})).load(tmp_path)
    with pytest.raises(PadaError, match="scorer='f1'; choose one of numeric, exact"):
        build_task(OmegaConf.create({**cfg, "scorer": "f1"}))


UNSET_FIELDS = [
    ("numeric", {"question": None}, "question"),
    ("numeric", {"question": "problem", "answer": None}, "answer"),
    ("numeric", {"id": "uid", "answer": "result"}, "question"),  # fields.question left out
    ("numeric", {"question": ["problem"], "answer": "result"}, "question"),  # not one field name
]


@pytest.mark.parametrize(("scorer", "fields", "key"), UNSET_FIELDS)
def test_a_required_field_left_unset_is_one_error_line_not_a_traceback(scorer, fields, key, tmp_path, capsys):
    cfg = numeric_task(tmp_path, scorer=scorer, fields=fields)
    with pytest.raises(PadaError, match=rf"task my_apples: task\.fields\.{key} must name"):
        build_task(OmegaConf.create(cfg))
    path = write_yaml(tmp_path, cfg)
    assert main(["data", "check", str(path), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"pada: error: task my_apples: task.fields.{key} must name"), (
        err
    )


def _text_task(tmp_path: Path, scorer: str, **extra) -> dict:
    rows = [{"q": f"Capital number {i}?", "a": "The City of Paris" if i % 2 else "Rome"} for i in range(12)]
    _jsonl(tmp_path / "t" / "train.jsonl", rows)
    return {
        "name": f"caps_{scorer}",
        "_target_": "pada.tasks.user.UserTask",
        "scorer": scorer,
        "local_subdir": "t",
        "files": {"train": "train.jsonl"},
        "val_size": 2,
        "test_size": 2,
        "fields": {"question": "q", "answer": "a"},
        "prompt_template": "{question}",
        "target_template": "Answer: {answer}",
        **extra,
    }


@pytest.mark.parametrize(
    ("scorer", "extra", "output", "correct"),
    [
        ("exact", {"target_template": "{answer}"}, " The City of Paris\n", True),
        ("exact", {"target_template": "{answer}"}, "the city of paris", False),
        ("normalized", {"target_template": "{answer}"}, "the city of Paris!", True),
        ("normalized", {"answer_regex": r"Answer: (.*)"}, "Hmm.\nAnswer: city of paris.", True),
        ("regex", {"answer_regex": r"Answer: (.*)"}, "Answer: Rome\nAnswer: The City of Paris", True),
        ("regex", {"answer_regex": r"Answer: (.*)"}, "The City of Paris", False),
    ],
)
def test_string_scorers(scorer, extra, output, correct, tmp_path):
    cfg = _text_task(tmp_path, scorer, **extra)
    task = build_task(OmegaConf.create(cfg))
    paris = next(e for e in task.load(tmp_path).pool if "Paris" in e.target)
    assert task.is_correct(task.extract(output), paris) is correct
    assert check(str(write_yaml(tmp_path, cfg)), str(tmp_path)).ok  # every gold output scores correct
    assert type(synthetic_format(task)) is MathFormat


def test_choice_scorer_reads_letters_indices_and_option_text(tmp_path):
    rows = [
        {"q": f"Which gas, case {i}?", "opts": ["iron", "oxygen", "salt"], "key": k}
        for i, k in enumerate(["B", 1, "oxygen", "B", 1, "oxygen", "B", 1])
    ]
    _jsonl(tmp_path / "c" / "train.jsonl", rows)
    cfg = {
        "name": "gases",
        "_target_": "pada.tasks.user.UserTask",
        "scorer": "choice",
        "local_subdir": "c",
        "files": {"train": "train.jsonl"},
        "val_size": 2,
        "test_size": 2,
        "fields": {"question": "q", "answer": "key", "choices": "opts"},
        "prompt_template": "{question}\n{options}\nAnswer with {letters}.",
        "target_template": "The answer is {letter}.",
    }
    task = build_task(OmegaConf.create(cfg))
    splits = task.load(tmp_path)
    assert {e.answer for e in [*splits.pool, *splits.val, *splits.test]} == {"B"}
    assert splits.pool[0].prompt == "Which gas, case 0?\nA. iron\nB. oxygen\nC. salt\nAnswer with A, B or C."
    assert type(synthetic_format(task)) is ChoiceFormat
    assert check(str(write_yaml(tmp_path, cfg)), str(tmp_path)).ok
    _jsonl(tmp_path / "c" / "train.jsonl", [*rows, {"q": "Which?", "opts": ["iron", "salt"], "key": "D"}])
    with pytest.raises(PadaError, match=r"train\.jsonl:9: answer 'D' is not a letter, a 0-based index"):
        build_task(OmegaConf.create(cfg)).load(tmp_path)


def test_code_scorer_runs_the_rows_tests_in_the_sandbox(tmp_path):
    rows = [
        {
            "task": f"Write add_{i}(x) returning x + {i}.",
            "ref": f"def add_{i}(x):\n    return x + {i}",
            "asserts": [f"assert add_{i}(1) == {1 + i}"],
        }
        for i in range(6)
    ]
    _jsonl(tmp_path / "code" / "train.jsonl", rows)
    cfg = {
        "name": "adders",
        "_target_": "pada.tasks.user.UserTask",
        "scorer": "code",
        "local_subdir": "code",
        "files": {"train": "train.jsonl"},
        "val_size": 1,
        "test_size": 1,
        "fields": {"question": "task", "answer": "ref", "tests": "asserts"},
        "prompt_template": "{question}\nTests:\n{tests}",
        "confirm_run_unsafe_code": True,
        "sandbox": {"timeout_s": 10, "cpu_s": 10, "memory_mb": 1024, "workers": 1},
    }
    task = build_task(OmegaConf.create(cfg))
    splits = task.load(tmp_path)
    assert type(synthetic_format(task)) is CodeFormat
    item = splits.pool[0]
    records = task.score([item, item], [item.target, "```python\ndef add_0(x):\n    return x - 1\n```"])
    assert [r.correct for r in records] == [True, False]
    assert check(str(write_yaml(tmp_path, cfg)), str(tmp_path)).ok


def _csv_task(tmp_path: Path, text: bytes) -> dict:
    (tmp_path / "csv").mkdir(exist_ok=True)
    (tmp_path / "csv" / "train.csv").write_bytes(text)
    return {
        "name": "sums",
        "_target_": "pada.tasks.user.UserTask",
        "scorer": "exact",
        "local_subdir": "csv",
        "files": {"train": "train.csv"},
        "val_size": 1,
        "test_size": 1,
        "fields": {"question": "q", "answer": "a"},
        "csv_columns": None,
        "prompt_template": "{question}",
        "target_template": "{answer}",
    }


def test_a_csv_with_a_header_row_and_a_quoted_multiline_field(tmp_path):
    text = b'q,a\n"1 + 1,\nin words?",two\n2 + 1?,three\n3 + 1?,four\n2 + 2?,four\n'
    splits = build_task(OmegaConf.create(_csv_task(tmp_path, text))).load(tmp_path)
    items = sorted([*splits.pool, *splits.val, *splits.test], key=lambda e: e.id)
    assert [e.answer for e in items] == ["two", "three", "four", "four"] and items[
        0
    ].prompt == "1 + 1,\nin words?"
    bad = text + b"5 + 1?,six,extra\n"  # line 7: the quoted field spans lines 2-3
    with pytest.raises(PadaError, match=r"train\.csv:7: expected 2 columns \(q, a\), found 3"):
        build_task(OmegaConf.create(_csv_task(tmp_path, bad))).load(tmp_path)


def test_a_csv_that_is_not_utf8_names_its_line(tmp_path):
    text = b"q,a\n1 + 1?,two\n2 + 1?,thr\xe9e\n"
    with pytest.raises(PadaError, match=r"train\.csv:3: not UTF-8 text \(byte 0xe9\)"):
        build_task(OmegaConf.create(_csv_task(tmp_path, text))).load(tmp_path)


def test_a_hub_dataset_id_without_a_data_dir(tmp_path, monkeypatch):
    import pada.tasks.files

    rows = {"train": apples(20), "validation": apples(3, start=50)}
    rows["validation"][1] = {"uid": "q51", "problem": "Tom?"}  # the second row lacks its answer
    calls = []
    monkeypatch.setattr(
        pada.tasks.files, "load_hub_dataset", lambda hub, config: calls.append((hub, config)) or rows
    )
    cfg = {
        **numeric_task(tmp_path),
        "hub_id": "me/apples",
        "hub_config": "main",
        "hub_splits": {"train": "train", "val": "validation"},
    }
    with pytest.raises(PadaError, match=r"^me/apples:validation:2: row lacks the field\(s\) \['result'\]"):
        build_task(OmegaConf.create(cfg)).load(None)
    rows["validation"] = apples(3, start=50)
    splits = build_task(OmegaConf.create(cfg)).load(None)
    assert (len(splits.pool), len(splits.val), len(splits.test)) == (12, 3, 8) and calls[-1] == (
        "me/apples",
        "main",
    )
    assert set(splits.files) == {"hub:me/apples/train", "hub:me/apples/validation"}
    assert len(build_task(OmegaConf.create(cfg)).load(tmp_path).pool) == 32  # a data dir: its files win
