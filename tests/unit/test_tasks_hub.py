"""The Hub loaders, at their boundary: a fake ``datasets.load_dataset`` checks the ids requested and
returns rows in each dataset's Hub schema (no network here)."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from omegaconf import OmegaConf

from pada.tasks import build_task

CONF = Path(__file__).resolve().parents[2] / "conf" / "task"


@pytest.fixture
def hub(monkeypatch):
    calls = []

    def install(tables: dict[str, list[dict]]):
        def load_dataset(path, name=None):
            calls.append((path, name))
            return tables

        monkeypatch.setattr(datasets, "load_dataset", load_dataset)
        return calls

    return install


def arc_hub_row(item_id, labels, answer):
    return {
        "id": item_id,
        "question": "Q?",
        "choices": {"text": list("wxyz")[: len(labels)], "label": labels},
        "answerKey": answer,
    }


def test_arc_from_the_hub(hub):
    calls = hub(
        {
            "train": [arc_hub_row("a", list("ABCD"), "B")],
            "validation": [arc_hub_row("b", ["1", "2", "3"], "3")],
            "test": [arc_hub_row("c", list("ABCD"), "D"), arc_hub_row("d", list("ABCD"), "A")],
        }
    )
    splits = build_task(OmegaConf.load(CONF / "arc_challenge.yaml")).load(None)
    assert calls == [("allenai/ai2_arc", "ARC-Challenge")]
    assert [e.answer for e in splits.pool + splits.val + splits.test] == ["B", "C", "D", "A"]
    assert splits.files == {}


def test_mmlu_from_the_hub(hub):
    row = {"question": "Q?", "subject": "virology", "choices": ["w", "x", "y", "z"], "answer": 2}
    calls = hub({"dev": [row], "validation": [row, row], "test": [row] * 3, "auxiliary_train": []})
    splits = build_task(OmegaConf.load(CONF / "mmlu.yaml")).load(None)
    assert calls == [("cais/mmlu", "all")]
    assert (len(splits.pool), len(splits.fewshot), len(splits.val), len(splits.test)) == (0, 1, 2, 3)
    assert splits.test[2].id == "mmlu/test/virology/2" and splits.test[2].answer == "C"


def test_mbpp_from_the_hub_is_resplit_by_task_id(hub):
    def row(task_id):
        return {
            "task_id": task_id,
            "text": "t",
            "code": "pass",
            "test_list": ["assert True"],
            "test_setup_code": "",
            "challenge_test_list": [],
        }

    # the Hub's own split names do not matter: the task_id decides
    calls = hub({"train": [row(5), row(700)], "test": [row(11)], "validation": [row(600)], "prompt": []})
    splits = build_task(OmegaConf.load(CONF / "mbpp.yaml")).load(None)
    assert calls == [("google-research-datasets/mbpp", "full")]
    assert [
        [e.meta["task_id"] for e in s] for s in (splits.fewshot, splits.test, splits.val, splits.pool)
    ] == [[5], [11], [600], [700]]


def test_humaneval_from_the_hub(hub):
    row = {
        "task_id": "HumanEval/0",
        "prompt": "def f():\n",
        "canonical_solution": "    return 1\n",
        "test": "def check(c):\n    assert c() == 1\n",
        "entry_point": "f",
    }
    calls = hub({"test": [row]})
    splits = build_task(OmegaConf.load(CONF / "humaneval.yaml")).load(None)
    assert calls == [("openai/openai_humaneval", None)]
    assert [e.id for e in splits.test] == ["HumanEval/0"] and splits.pool == [] and splits.val == []
