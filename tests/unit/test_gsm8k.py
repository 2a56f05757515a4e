"""GSM8K: answer extraction, scoring, the validation carve-out and seed-set draws."""

from __future__ import annotations

import pytest
from conftest import compose_config, real_data_dir

from pada.errors import PadaError
from pada.tasks import build_task, sample_seed_set
from pada.tasks.gsm8k import gold_answer, normalise_number
from pada.types import Example


@pytest.fixture
def task():
    return build_task(compose_config([]).task)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("so 3 + 4 = 7\n#### 7", "7"),
        ("#### 1,234", "1234"),
        ("#### $12.", "12"),
        ("#### -3.50", "-3.5"),
        ("The answer is 42.", "42"),  # flexible: last number
        ("first 5 then 6 and finally 10", "10"),
        ("no digits here", None),
        ("#### 8 but later 9", "8"),  # strict match wins over the last number
    ],
)
def test_extract(task, output, expected):
    assert task.extract(output) == expected


@pytest.mark.parametrize(
    "output",
    [
        "So she has 72 left...",
        "Total: $$\n72\n$$",
        "72 , ...",
        "answer 72 - ...",
        "72\n\n$.$",
        "It is 72!!! .,.,",
        "#### ...\n72",
        "#### ,\nso 72",
        "72 $-$",
    ],
)
def test_punctuation_without_a_digit_is_not_a_number(task, output):
    """lm-eval's regex accepts runs of '.', ',', '$' with no digit; pada skips them (docs/tasks.md)."""
    assert task.extract(output) == "72"


def test_output_with_only_punctuation_extracts_nothing(task):
    assert task.extract("... $$ ,, -.") is None
    strict = build_task(compose_config(["task.extraction=strict"]).task)
    assert strict.extract("#### ...") is None


def test_gold_without_a_digit_is_an_error():
    with pytest.raises(PadaError, match="####"):
        gold_answer("reasoning\n#### ...")


def test_strict_extraction_ignores_free_numbers():
    task = build_task(compose_config(["task.extraction=strict"]).task)
    assert task.extract("The answer is 42.") is None


def test_scoring_compares_normalised_numbers(task):
    example = Example(id="x", prompt="", target="", answer=gold_answer("...\n#### 1,000"))
    assert example.answer == "1000"
    assert task.is_correct(task.extract("#### 1000.00"), example)
    assert not task.is_correct(task.extract("#### 999"), example)
    assert not task.is_correct(None, example)
    assert normalise_number("3.0") == "3"


def test_gold_without_answer_line_is_an_error():
    with pytest.raises(PadaError, match="####"):
        gold_answer("no final line")


def test_validation_is_fixed_and_disjoint_from_the_pool(tiny_data_dir):
    task = build_task(compose_config(["task.val_size=10"]).task)
    a, b = task.load(tiny_data_dir), task.load(tiny_data_dir)
    assert [e.id for e in a.val] == [e.id for e in b.val]
    assert len(a.val) == 10 and len(a.pool) == 50 and len(a.test) == 12
    assert not {e.id for e in a.val} & {e.id for e in a.pool}
    assert a.files.keys() == {"gsm8k/train.jsonl", "gsm8k/test.jsonl"}


def test_seed_sets_are_seeded_and_nested_across_budgets(tiny_data_dir):
    pool = build_task(compose_config(["task.val_size=10"]).task).load(tiny_data_dir).pool
    small, large = sample_seed_set(pool, 8, seed=3), sample_seed_set(pool, 16, seed=3)
    assert large[:8] == small
    assert [e.id for e in sample_seed_set(pool, 8, seed=4)] != [e.id for e in small]
    with pytest.raises(PadaError, match="larger than the seed pool"):
        sample_seed_set(pool, 51, seed=0)


def test_targets_drop_calculator_annotations(tiny_data_dir):
    pool = build_task(compose_config(["task.val_size=10"]).task).load(tiny_data_dir).pool
    assert "<<" not in pool[0].target and pool[0].target.endswith(f"#### {pool[0].answer}")


@pytest.mark.data
def test_real_gsm8k_splits_and_every_gold_extracts():
    data_dir = real_data_dir()
    if data_dir is None or not (data_dir / "gsm8k" / "train.jsonl").is_file():
        pytest.skip("real GSM8K files not available (set PADA_DATA_DIR)")
    task = build_task(compose_config([]).task)
    splits = task.load(data_dir)
    assert (len(splits.pool), len(splits.val), len(splits.test)) == (6973, 500, 1319)
    for example in splits.pool + splits.val + splits.test:
        assert task.is_correct(task.extract(example.target), example), example.id
