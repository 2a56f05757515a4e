"""ARC-Challenge and MMLU: file parsing, letter extraction, numeric labels, few-shot policy, bad data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.tasks import build_task, sample_seed_set
from pada.tasks.multiple_choice import extract_letter, to_letter

CONF = Path(__file__).resolve().parents[2] / "conf" / "task"
DATA = os.environ.get("PADA_DATA_DIR")


def task(name: str):
    return build_task(OmegaConf.load(CONF / f"{name}.yaml"))


def arc_row(item_id: str, labels: list[str], answer: str) -> dict:
    choices = [{"text": f"option {label}", "label": label} for label in labels]
    return {
        "id": item_id,
        "question": {"stem": f"Question {item_id}?", "choices": choices},
        "answerKey": answer,
    }


def write_arc(root: Path, rows: dict[str, list[dict]]) -> Path:
    (root / "arc").mkdir(parents=True)
    for part, items in rows.items():
        lines = "".join(json.dumps(r) + "\n" for r in items)
        (root / "arc" / f"ARC-Challenge-{part}.jsonl").write_text(lines)
    return root


@pytest.fixture
def arc_dir(tmp_path):
    return write_arc(
        tmp_path,
        {
            "Train": [arc_row("t1", list("ABCD"), "B"), arc_row("t2", ["1", "2", "3", "4"], "3")],
            "Dev": [arc_row("d1", list("ABCDE"), "E")],
            "Test": [arc_row("s1", ["1", "2", "3"], "2"), arc_row("s2", list("ABCD"), "A")],
        },
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("The best answer is C.", "C"),
        ("Heat flows from warm to cold.\nThe best answer is (D)", "D"),
        ("the answer is b", "B"),
        ("Answer: **A**", "A"),
        ("The answer is 'E'.", "E"),
        ("I first thought (B). The answer is A.", "A"),  # the last 'answer is' wins
        ("C", "C"),
        ("(D).", "D"),
        ("Between (A) and (C), I pick (C)", "C"),
        ("B. because metals conduct heat", "B"),
        ("The best answer is 3", "3"),
        ("The best answer is a wooden stick", None),
        ("I am not sure.", None),
        ("", None),
    ],
)
def test_extract_letter(output, expected):
    assert extract_letter(output) == expected


def test_digits_count_only_for_items_with_numeric_labels():
    assert to_letter("3", ["1", "2", "3", "4"]) == "C"
    assert to_letter("3", list("ABCD")) is None
    assert to_letter("E", list("ABCD")) is None  # a letter past the item's options
    assert to_letter("E", list("ABCDE")) == "E"


def test_arc_loads_splits_and_maps_numeric_labels_to_letters(arc_dir):
    arc = task("arc_challenge")
    splits = arc.load(arc_dir)
    assert [len(splits.pool), len(splits.val), len(splits.test)] == [2, 1, 1 + 1]
    numeric = splits.pool[1]
    assert numeric.answer == "C" and numeric.target == "The best answer is C."
    assert "A. option 1\nB. option 2\nC. option 3\nD. option 4" in numeric.prompt
    assert "one of A, B, C or D." in numeric.prompt
    assert "one of A, B, C, D or E." in splits.val[0].prompt
    three = splits.test[0]
    assert arc.is_correct(arc.extract("The best answer is 2"), three)  # numeric answer for a numeric item
    assert arc.is_correct(arc.extract("The best answer is B."), three)
    assert not arc.is_correct(arc.extract("The best answer is D."), three)  # no option D
    records = arc.score(splits.test, ["The best answer is B", "The best answer is B"])
    assert [r.correct for r in records] == [True, False]
    assert sorted(splits.files) == [f"arc/ARC-Challenge-{p}.jsonl" for p in ("Dev", "Test", "Train")]


def test_arc_loglikelihood_request(arc_dir):
    arc = task("arc_challenge")
    example = arc.load(arc_dir).val[0]
    context, continuations, gold = arc.loglikelihood_request(example)
    assert context == example.prompt and continuations == [" A", " B", " C", " D", " E"] and gold == 4
    assert arc.loglikelihood_correct([-3.0, -2.0, -5.0, -4.0, -1.5], gold)
    assert not arc.loglikelihood_correct([-1.0, -2.0, -5.0, -4.0, -1.5], gold)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda rows: rows["Train"].append(arc_row("t1", list("ABCD"), "A")),
            "duplicate ids in ARC train: ['t1']",
        ),
        (lambda rows: rows["Dev"].append(arc_row("d9", list("ABCD"), "Z")), "answer label 'Z' is not one of"),
    ],
)
def test_arc_bad_data_is_a_clear_error(tmp_path, mutate, message):
    rows = {"Train": [arc_row("t1", list("ABCD"), "A")], "Dev": [], "Test": []}
    mutate(rows)
    with pytest.raises(PadaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        task("arc_challenge").load(write_arc(tmp_path, rows))


def test_arc_malformed_line_names_file_and_line(arc_dir):
    path = arc_dir / "arc" / "ARC-Challenge-Test.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(PadaError, match=r"ARC-Challenge-Test.jsonl:3: not valid JSON"):
        task("arc_challenge").load(arc_dir)


def test_arc_missing_files_say_what_to_set(tmp_path):
    with pytest.raises(PadaError, match="ARC files .* not found .* set paths.data_dir"):
        task("arc_challenge").load(tmp_path)


def write_mmlu(root: Path) -> Path:
    for split in ("dev", "val", "test"):
        folder = root / "mmlu" / split
        folder.mkdir(parents=True)
        for subject, answer in (("astronomy", "B"), ("virology", "D")):
            rows = [f'"{subject} {split} q{i}, with a comma?",w,x,y,z,{answer}\n' for i in range(3)]
            (folder / f"{subject}_{split}.csv").write_text("".join(rows))
    return root


def test_mmlu_is_evaluation_only_with_dev_as_fewshot_pool(tmp_path):
    mmlu = task("mmlu")
    splits = mmlu.load(write_mmlu(tmp_path))
    assert (len(splits.pool), len(splits.fewshot), len(splits.val), len(splits.test)) == (0, 6, 6, 6)
    example = splits.test[4]
    assert example.id == "mmlu/test/virology/1" and example.answer == "D"
    assert example.meta["question"] == "virology test q1, with a comma?"
    shots = mmlu.fewshot_examples(example, splits)
    assert [s.id for s in shots] == [f"mmlu/fewshot/virology/{i}" for i in range(3)]  # same subject, first n
    chat = mmlu.messages(example, shots)
    assert [m["role"] for m in chat] == ["user", "assistant"] * 3 + ["user"]
    assert chat[1]["content"] == "The best answer is D." and chat[-1]["content"] == example.prompt
    with pytest.raises(PadaError, match="evaluation-only"):
        sample_seed_set(splits.pool, 10, 0)


def test_mmlu_row_with_wrong_column_count_names_file_and_line(tmp_path):
    root = write_mmlu(tmp_path)
    with open(root / "mmlu" / "val" / "astronomy_val.csv", "a") as handle:
        handle.write("only,three,columns\n")
    with pytest.raises(PadaError, match=r"astronomy_val.csv:4: expected 6 columns, found 3"):
        task("mmlu").load(root)


def test_arc_fewshot_policy_defaults_to_zero_shot(arc_dir):
    arc = task("arc_challenge")
    splits = arc.load(arc_dir)
    assert arc.fewshot_examples(splits.test[0], splits) == []


needs_data = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "arc").is_dir(), reason="PADA_DATA_DIR with arc/ and mmlu/ not set"
)


@pytest.mark.data
@needs_data
def test_real_arc_and_mmlu_counts_and_numeric_items():
    arc = task("arc_challenge").load(Path(DATA))
    assert (len(arc.pool), len(arc.val), len(arc.test)) == (1119, 299, 1172)
    numeric = [e for e in arc.pool + arc.val + arc.test if e.meta["labels"][0] == "1"]
    assert numeric and all(e.answer in "ABCDE" for e in numeric)
    mmlu = task("mmlu").load(Path(DATA))
    assert (len(mmlu.pool), len(mmlu.fewshot), len(mmlu.val), len(mmlu.test)) == (0, 285, 1531, 14042)
    assert len({e.meta["subject"] for e in mmlu.test}) == 57


@pytest.mark.parametrize(
    "output",
    [
        "The best answer is `C`.",
        "The best answer is ``C``",
        "The answer is *C*.",
        "The answer is ***C***",
        "The answer is __C__",
        "The answer is _C_.",
        "The answer is [C]",
        "The answer is <C>",
        "The answer is $C$",
        "The answer is **(C)**",
        "The answer is “C”.",
        "The best answer is **option `C`**",
        "Answer: `C`",
        "`C`",
        "**C.** Because metals conduct heat.",
        "**C** because metals conduct heat",
        "`C)` because metals conduct heat",
    ],
)
def test_a_letter_in_markdown_or_brackets_is_read(output):
    """Issue 29.2: a wrapped letter, which lm-eval's exact match (punctuation ignored) reads too."""
    assert extract_letter(output) == "C"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("**A.** a metal spoon\n**B.** a wooden stick\n**C.** a plastic fork", None),  # a bold echo
        ("The answer is `a wooden stick`", None),  # text in backticks names no option
        ("*A* bird is not an option", None),  # an emphasised word, not a leading option
        ("The answer is `not A`", None),
    ],
)
def test_wrappers_do_not_invent_a_letter(output, expected):
    assert extract_letter(output) == expected
