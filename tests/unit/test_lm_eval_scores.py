"""lm-eval's HF backend and pada's transformers backend on the same tiny model, items and prompts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from backend_fixtures import CHATS, ROOT, build_lora, build_sharp_tiny
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.inference.lm_eval_scores import (
    evaluate,
    model_args,
    pada_task_config,
    run_stage,
    standard_task_config,
)
from pada.inference.transformers_backend import TransformersBackend
from pada.io import read_jsonl
from pada.tasks.base import build_task
from pada.types import Example, SamplingParams

MAX_NEW = 16


def lm_cfg(**overrides):
    cfg = OmegaConf.load(ROOT / "conf" / "eval" / "lm_eval" / "default.yaml")
    return OmegaConf.merge(cfg, {"seed": 0, "batch_size": 4}, overrides)


@pytest.fixture(scope="module")
def gsm8k():
    return build_task(OmegaConf.load(ROOT / "conf" / "task" / "gsm8k.yaml"))


def _items(task, outputs_to_hit: list[str] | None = None) -> list[Example]:
    rows = [
        (f"Tom has {a} apples and buys {b} more. How many apples?", a + b)
        for a, b in [(3, 4), (10, 7), (1, 1), (12, 30), (5, 9), (2, 8)]
    ]
    return [
        Example(f"gsm8k/test/{i}", task.user_prompt(q), f"#### {n}", str(n)) for i, (q, n) in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm_eval_models")
    os.environ.setdefault("HF_HOME", str(root / "hf"))  # the json builder caches datasets under HF_HOME
    base = build_sharp_tiny(root / "sharp")
    return base, build_lora(base, root / "lora")


@pytest.mark.slow  # ~25 s: lm-eval's import and model set-up
def test_pada_task_through_lm_eval_equals_pada_backend_item_for_item(models, gsm8k, tmp_path):
    base, adapter = models
    items = _items(gsm8k)
    stop = ["\n\n"]
    ours = TransformersBackend(
        str(base),
        OmegaConf.create({"batch_size": 4, "device": "cpu", "dtype": "float32", "progress_bar": False}),
    )
    chats = [[{"role": "user", "content": ex.prompt}] for ex in items]
    completions = ours.generate(chats, SamplingParams(max_new_tokens=MAX_NEW, stop=tuple(stop)), str(adapter))
    # Gold = what our scorer extracts from our own output on odd items (a number or nothing), so the
    # accuracy is a non-trivial number both sides must reproduce.
    items = [
        Example(ex.id, ex.prompt, ex.target, (gsm8k.extract(c.text) or "x") if i % 2 else "-1")
        for i, (ex, c) in enumerate(zip(items, completions, strict=True))
    ]
    ours_acc = sum(gsm8k.record(ex, c.text).correct for ex, c in zip(items, completions, strict=True)) / len(
        items
    )

    config = pada_task_config(gsm8k, items, stop, MAX_NEW, tmp_path, shots={})
    scores = evaluate(lm_cfg(), str(base), str(adapter), [config], tmp_path)

    samples = {s["doc"]["id"]: s for s in read_jsonl(tmp_path / "samples_pada_gsm8k.jsonl")}
    rendered = ours.tokenizer.apply_chat_template(chats[0], add_generation_prompt=True, tokenize=False)
    assert samples[items[0].id]["arguments"][0][0] == rendered  # the very same prompt string
    assert [samples[ex.id]["resps"][0][0] for ex in items] == [c.text for c in completions]
    assert scores == {
        "pada_gsm8k": {
            "pada_accuracy,none": ours_acc,
            "pada_accuracy_stderr,none": pytest.approx(scores["pada_gsm8k"]["pada_accuracy_stderr,none"]),
            "n": len(items),
        }
    }
    assert 0 < ours_acc < 1
    assert json.loads((tmp_path / "lm_eval_results.json").read_text())["results"]["pada_gsm8k"]


def test_model_args_for_adapters_and_full_models(tmp_path):
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter_config.json").write_text("{}")
    (tmp_path / "full").mkdir()
    assert (
        model_args(lm_cfg(), "/b", str(tmp_path / "lora"))
        == f"pretrained=/b,dtype=float32,peft={tmp_path}/lora"
    )
    assert model_args(lm_cfg(), "/b", str(tmp_path / "full")) == f"pretrained={tmp_path}/full,dtype=float32"
    assert model_args(lm_cfg(model="vllm", dtype="bfloat16"), "/b", str(tmp_path / "lora")) == (
        f"pretrained=/b,dtype=bfloat16,enable_lora=True,lora_local_path={tmp_path}/lora,max_lora_rank=64"
    )


def test_standard_tasks_read_local_files(tmp_path):
    data = tmp_path / "data"
    (data / "arc").mkdir(parents=True)
    row = {
        "id": "Q1",
        "answerKey": "B",
        "question": {
            "stem": "Which is a gas?",
            "choices": [{"text": "rock", "label": "A"}, {"text": "air", "label": "B"}],
        },
    }
    for suffix in ("Train", "Dev", "Test"):
        (data / "arc" / f"ARC-Challenge-{suffix}.jsonl").write_text(json.dumps(row) + "\n")
    config = standard_task_config("arc_challenge", data, tmp_path)
    assert (
        config["task"] == "arc_challenge"
        and config["dataset_path"] == "json"
        and "dataset_name" not in config
    )
    assert config["doc_to_choice"] == "{{choices.text}}"  # lm-eval's own template is kept
    assert read_jsonl(Path(config["dataset_kwargs"]["data_files"]["validation"])) == [
        {
            "id": "Q1",
            "question": "Which is a gas?",
            "answerKey": "B",
            "choices": {"text": ["rock", "air"], "label": ["A", "B"]},
        }
    ]
    with pytest.raises(PadaError, match="ARC-Easy-Train.jsonl not found; set paths.data_dir"):
        standard_task_config("arc_easy", data, tmp_path)
    with pytest.raises(PadaError, match="no local data for lm-eval task 'hellaswag'"):
        standard_task_config("hellaswag", data, tmp_path)


def test_code_tasks_need_explicit_consent(gsm8k, tmp_path):
    cfg = OmegaConf.create(
        {
            "eval": {"lm_eval": lm_cfg(pada_task=False, tasks=["mbpp"]), "max_new_tokens": 8},
            "task": {"max_new_tokens": 8, "stop": []},
        }
    )
    (tmp_path / "mbpp").mkdir()
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text("")
    with pytest.raises(PadaError, match=r"\['mbpp'\] execute model-written code"):
        run_stage(cfg, gsm8k, "/b", "/a", [], tmp_path, tmp_path, shots={})


def _shared_data() -> Path:
    data = Path(os.environ.get("PADA_DATA_DIR", "/nonexistent"))
    if not (data / "gsm8k" / "test.jsonl").is_file() or not (data / "arc").is_dir():
        pytest.skip("PADA_DATA_DIR does not hold the benchmark files")
    return data


@pytest.mark.data
def test_gsm8k_config_reads_the_shared_files(tmp_path):
    data = _shared_data()
    config = standard_task_config("gsm8k", data, tmp_path)
    assert config["dataset_kwargs"]["data_files"] == {
        "train": str(data / "gsm8k" / "train.jsonl"),
        "test": str(data / "gsm8k" / "test.jsonl"),
    }
    assert config["num_fewshot"] == 5 and config["filter_list"][0]["name"] == "strict-match"


@pytest.mark.data
@pytest.mark.slow
def test_arc_challenge_runs_end_to_end_on_local_files(models, tmp_path):
    base, adapter = models
    config = standard_task_config("arc_challenge", _shared_data(), tmp_path)
    scores = evaluate(lm_cfg(limit=8), str(base), str(adapter), [config], tmp_path)
    samples = read_jsonl(tmp_path / "samples_arc_challenge.jsonl")
    assert scores["arc_challenge"]["n"] == 8 and len(samples) == 8
    assert scores["arc_challenge"]["acc,none"] == sum(s["acc"] for s in samples) / 8
    assert samples[0]["doc"]["question"].startswith("An astronomer observes that a planet rotates faster")


def test_hf_generate_until_equals_pada_backend_with_stops(models):
    """lm-eval's HFLM.generate_until directly (no task machinery): same strings, stops and budget."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    base, _ = models
    ours = TransformersBackend(
        str(base),
        OmegaConf.create({"batch_size": 4, "device": "cpu", "dtype": "float32", "progress_bar": False}),
    )
    texts = [ours.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in CHATS]
    lm = HFLM(pretrained=str(base), dtype="float32", device="cpu", batch_size=4)
    # Stops avoid letters of the special tokens' names (<|system|>, ...): lm-eval matches stops against the
    # tail decoded WITH special tokens, so "e" would end a row at <|system|> although the returned text
    # (decoded without them) has no "e". pada, like vLLM, matches the text it returns.
    for stop in ([], ["h"], ["c", " w"]):
        gen = {"until": stop, "max_gen_toks": MAX_NEW, "do_sample": False}
        theirs = lm.generate_until(
            [Instance("generate_until", {}, (t, gen), i) for i, t in enumerate(texts)], True
        )
        mine = ours.generate(texts, SamplingParams(max_new_tokens=MAX_NEW, stop=tuple(stop)))
        assert [c.text for c in mine] == theirs
    assert sum(c.finish_reason == "stop" for c in mine) >= 3  # the stops really cut rows


# ---------------------------------------------------------------- the same shots on both sides (issue 29.3)
def _mmlu_splits(task):
    from pada.tasks.base import Splits

    def item(split, subject, i):
        choices = [f"{subject} option {k}" for k in range(4)]
        return task.make_example(
            f"mmlu/{split}/{subject}/{i}",
            f"{subject} question {i}?",
            choices,
            list("ABCD"),
            "ABCD"[i % 4],
            subject=subject,
        )

    fewshot = [item("dev", s, i) for s in ("anatomy", "virology") for i in range(4)]
    test = [item("test", s, i) for s in ("virology", "anatomy") for i in range(2)]
    return Splits(pool=[], val=[], test=test, fewshot=fewshot)


def test_the_pada_task_sends_lm_eval_the_shots_pada_sends(tmp_path, monkeypatch):
    """MMLU's 3-shot same-subject protocol: lm-eval's context for every item holds pada's chat, turn for turn
    (few-shot as multiturn: lm-evaluation-harness#1098, #1873), not a 0-shot prompt."""
    from lm_eval.api.task import ConfigurableTask

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    task = build_task(
        OmegaConf.merge(OmegaConf.load(ROOT / "conf" / "task" / "mmlu.yaml"), {"fewshot": {"n": 3}})
    )
    splits = _mmlu_splits(task)
    shots = {ex.id: task.fewshot_examples(ex, splits) for ex in splits.test}
    assert {len(s) for s in shots.values()} == {3}
    config = pada_task_config(task, splits.test, ["\n\n"], MAX_NEW, tmp_path, shots=shots)
    lm_task = ConfigurableTask(config=config)
    assert lm_task.config.num_fewshot == 3
    for doc, ex in zip(lm_task.test_docs(), splits.test, strict=True):
        chat = lm_task.fewshot_context(
            doc, 3, apply_chat_template=True, fewshot_as_multiturn=True, chat_template=lambda m, **_: m
        )
        assert chat == task.messages(ex, shots[ex.id])


def test_a_pada_task_with_shots_needs_the_chat_template(gsm8k, tmp_path):
    """Without lm-eval's chat template the shots cannot be turns, so the two scores cannot agree: refused."""
    cfg = OmegaConf.create(
        {
            "eval": {"lm_eval": lm_cfg(apply_chat_template=False), "max_new_tokens": 8},
            "task": {"stop": [], "max_new_tokens": 8},
        }
    )
    items = _items(gsm8k)
    shots = {ex.id: items[:1] for ex in items}
    with pytest.raises(PadaError, match="apply_chat_template"):
        run_stage(cfg, gsm8k, "base", None, items, None, tmp_path, shots=shots)
