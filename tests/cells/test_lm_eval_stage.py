"""The runner's final ``lm_eval`` stage: off by default, scores land in results.json, identity unchanged."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from backend_fixtures import ROOT
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from pada.io import read_jsonl
from pada.run.naming import cell_name
from pada.run.runner import run_cell


def _config(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose("config", overrides=overrides)


def _gsm8k_files(folder: Path) -> Path:
    rng = random.Random(0)
    (folder / "gsm8k").mkdir(parents=True)
    for name, n in (("train.jsonl", 40), ("test.jsonl", 6)):
        rows = [(rng.randint(1, 9), rng.randint(1, 9)) for _ in range(n)]
        (folder / "gsm8k" / name).write_text(
            "".join(
                json.dumps(
                    {
                        "question": f"Tom has {a} apples and buys {b} more. How many?",
                        "answer": f"{a} + {b} = {a + b}\n#### {a + b}",
                    }
                )
                + "\n"
                for a, b in rows
            )
        )
    return folder


def test_lm_eval_is_off_by_default_and_not_part_of_the_cell_identity():
    base = ["experiment=smoke_gsm8k"]
    assert _config(base).eval.lm_eval.enabled is False
    assert cell_name(_config(base)) == cell_name(_config([*base, "eval.lm_eval.enabled=true"]))
    assert _config([*base, "eval=vllm"]).eval.lm_eval.model == "hf"


@pytest.mark.slow  # trains the tiny model, then runs lm-eval: ~40 s on 2 shared cores
@pytest.mark.parametrize("shots", [0, 2], ids=["0-shot", "2-shot"])
def test_lm_eval_stage_scores_the_final_adapter(tmp_path, shots):
    """With few-shot, lm-eval gets pada's shots as chat turns (issue 29.3: it ran 0-shot before)."""
    data = _gsm8k_files(tmp_path / "data")
    overrides = [
        *([f"+task.fewshot={{source: pool, n: {shots}}}"] if shots else []),
        "experiment=smoke_gsm8k",
        f"paths.data_dir={data}",
        f"paths.runs_dir={tmp_path / 'runs'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "task.val_size=8",
        "budget=16",
        "trainer.max_steps=2",
        "eval.max_new_tokens=8",
        "eval.lm_eval.enabled=true",
    ]
    results = run_cell(_config(overrides))
    run_dir = tmp_path / "runs" / results["cell"]["name"]
    lm = results["metrics"]["lm_eval"]["pada_gsm8k"]
    assert lm["n"] == results["metrics"]["test"]["n"] == 6
    assert lm["pada_accuracy,none"] == results["metrics"]["test"]["accuracy"]
    ours = {r["item_id"]: r["output"] for r in read_jsonl(run_dir / "test" / "test.jsonl")}
    theirs = {
        s["doc"]["id"]: s["resps"][0][0] for s in read_jsonl(run_dir / "lm_eval" / "samples_pada_gsm8k.jsonl")
    }
    assert theirs == ours
    prompts = [s["arguments"][0][0] for s in read_jsonl(run_dir / "lm_eval" / "samples_pada_gsm8k.jsonl")]
    assert {p.count("<|user|>") for p in prompts} == {shots + 1}  # the tiny chat template's user turns
    assert (
        json.loads((run_dir / "results.json").read_text())["metrics"]["lm_eval"]
        == results["metrics"]["lm_eval"]
    )
    assert results["predictions"]["lm_eval"] == ["samples_pada_gsm8k.jsonl"]
    again = run_cell(_config(overrides))  # resumes: every stage cached, lm_eval included
    assert again["timings"]["lm_eval"]["cached"] is True
