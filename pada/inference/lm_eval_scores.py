"""Final scores from lm-eval-harness (``simple_evaluate``) next to pada's own, on the final adapter.

Two kinds of task, both given to lm-eval as dict configs, so nothing needs the Hub or lm-eval's 10 s
index of built-in tasks (``TaskManager(include_defaults=False)``):

* ``pada_<task>``: the cell's own test items and prompts, scored by pada's own extractor and criterion
  through ``process_results``. With greedy decoding its score must equal pada's test accuracy: a check
  that pada's backend and lm-eval's HF backend generate the same text.
* standard tasks (gsm8k, arc_challenge, arc_easy, mbpp, humaneval): lm-eval's own YAML (prompt, few-shot,
  filters, metrics), with the dataset swapped for the local benchmark files under ``paths.data_dir``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pada.errors import PadaError
from pada.io import read_jsonl, write_json, write_jsonl
from pada.models.chat import template_kwargs
from pada.types import Example


def _jsonl(path: Path, rows) -> str:
    write_jsonl(path, rows)
    return str(path)


# Standard task -> (lm-eval YAML relative to lm_eval/tasks, writer of its local splits).
_ARC_SPLITS = {"train": "Train", "validation": "Dev", "test": "Test"}


def _arc_row(row: dict[str, Any]) -> dict[str, Any]:
    """AI2's original jsonl layout -> the HF ``allenai/ai2_arc`` layout lm-eval's template reads."""
    choices = row["question"]["choices"]
    return {
        "id": row["id"],
        "question": row["question"]["stem"],
        "answerKey": row["answerKey"],
        "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]},
    }


def _arc(level: str) -> Callable[[Path, Path], dict[str, str]]:
    def write(data_dir: Path, out: Path) -> dict[str, str]:
        files = {}
        for split, suffix in _ARC_SPLITS.items():
            rows = read_jsonl(data_dir / "arc" / f"ARC-{level}-{suffix}.jsonl")
            files[split] = _jsonl(out / f"arc_{level.lower()}_{split}.jsonl", map(_arc_row, rows))
        return files

    return write


def _gsm8k(data_dir: Path, out: Path) -> dict[str, str]:
    return {split: str(data_dir / "gsm8k" / f"{split}.jsonl") for split in ("train", "test")}


def _mbpp(data_dir: Path, out: Path) -> dict[str, str]:
    """The HF ``mbpp/full`` split by task id: prompt 1-10, test 11-510, validation 511-600, train 601-974."""
    rows = read_jsonl(data_dir / "mbpp" / "mbpp.jsonl")
    ranges = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
    return {
        split: _jsonl(out / f"mbpp_{split}.jsonl", (r for r in rows if lo <= r["task_id"] <= hi))
        for split, (lo, hi) in ranges.items()
    }


def _humaneval(data_dir: Path, out: Path) -> dict[str, str]:
    return {"test": str(data_dir / "humaneval" / "HumanEval.jsonl")}


STANDARD_TASKS: dict[str, tuple[str, Callable[[Path, Path], dict[str, str]]]] = {
    "gsm8k": ("gsm8k/gsm8k.yaml", _gsm8k),
    "arc_challenge": ("arc/arc_challenge.yaml", _arc("Challenge")),
    "arc_easy": ("arc/arc_easy.yaml", _arc("Easy")),
    "mbpp": ("mbpp/mbpp.yaml", _mbpp),
    "humaneval": ("humaneval/humaneval.yaml", _humaneval),
}
CODE_TASKS = {"mbpp", "humaneval"}  # their metric executes model-written code


def standard_task_config(name: str, data_dir: Path, out: Path) -> dict[str, Any]:
    """lm-eval's own config for ``name``, reading the local benchmark files instead of the Hub."""
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml  # resolves `include:` and `!function`

    if name not in STANDARD_TASKS:
        raise PadaError(f"no local data for lm-eval task '{name}'; known: {', '.join(STANDARD_TASKS)}")
    yaml_path, write_splits = STANDARD_TASKS[name]
    try:
        files = write_splits(data_dir, out)
    except FileNotFoundError as exc:
        raise PadaError(f"lm-eval task '{name}': {exc.filename} not found; set paths.data_dir") from exc
    if name in CODE_TASKS:
        os.environ["HF_ALLOW_CODE_EVAL"] = "1"  # HF's code_eval metric refuses to run without it
    try:
        config = load_yaml(Path(lm_eval.__file__).parent / "tasks" / yaml_path)
    except Exception as exc:  # the code tasks' `evaluate.load("code_eval")` needs the metric in the HF cache
        raise PadaError(
            f"cannot load lm-eval task '{name}': {type(exc).__name__}: {exc}; code tasks need HF's code_eval "
            "metric cached (run once online with HF_HOME set)".splitlines()[0]
        ) from exc
    config.pop("dataset_name", None)
    return {**config, "dataset_path": "json", "dataset_kwargs": {"data_files": files}}


def pada_task_config(
    task: Any, examples: list[Example], stop: list[str], max_new_tokens: int, out: Path
) -> dict[str, Any]:
    """The cell's test items with pada's prompts and pada's scorer, as an lm-eval generate_until task."""
    by_id = {ex.id: ex for ex in examples}
    data = _jsonl(
        out / f"pada_{task.name}.jsonl",
        ({"id": ex.id, "prompt": ex.prompt, "answer": ex.answer} for ex in examples),
    )

    def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
        record = task.record(by_id[doc["id"]], results[0])
        return {"pada_accuracy": float(record.correct)}

    return {
        "task": f"pada_{task.name}",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",  # plain user content: apply_chat_template wraps it, as pada does
        "doc_to_target": "{{answer}}",
        "target_delimiter": "",
        "process_results": process_results,
        "metric_list": [{"metric": "pada_accuracy", "aggregation": "mean", "higher_is_better": True}],
        "generation_kwargs": {
            "until": list(stop),
            "max_gen_toks": max_new_tokens,
            "do_sample": False,
            "temperature": 0.0,
        },
        "num_fewshot": 0,
        "metadata": {"version": 1.0},
    }


def model_args(cfg: Any, base: str, adapter: str | None) -> str:
    """lm-eval's ``--model_args`` string for the base model with ``adapter`` (a LoRA dir or a full model)."""
    return ",".join(f"{k}={v}" for k, v in model_arg_dict(cfg, base, adapter).items())


def model_arg_dict(cfg: Any, base: str, adapter: str | None) -> dict[str, Any]:
    full_model = adapter is not None and not (Path(adapter) / "adapter_config.json").is_file()
    if cfg.model == "vllm":
        args = {"pretrained": adapter if full_model else base, "dtype": cfg.dtype}
        if adapter and not full_model:
            args |= {"enable_lora": True, "lora_local_path": adapter, "max_lora_rank": cfg.max_lora_rank}
    else:
        args = {"pretrained": adapter if full_model else base, "dtype": cfg.dtype}
        if adapter and not full_model:
            args["peft"] = adapter
    return args


def evaluate(
    cfg: Any,
    base: str,
    adapter: str | None,
    tasks: list[dict[str, Any]],
    out: Path,
    system_prompt: str | None = None,
    confirm_unsafe: bool = False,
) -> dict[str, Any]:
    """Run ``simple_evaluate``; write per-item samples and the raw results to ``out``; return the scores."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    result = lm_eval.simple_evaluate(
        model=cfg.model,
        # chat_template_args: lm-eval renders the chat template itself; pin its date as pada's paths do
        model_args={**model_arg_dict(cfg, base, adapter), "chat_template_args": template_kwargs()},
        tasks=tasks,
        task_manager=TaskManager(include_defaults=False),
        device=cfg.device,
        batch_size=cfg.batch_size,
        limit=cfg.limit,
        apply_chat_template=cfg.apply_chat_template,
        system_instruction=system_prompt,
        log_samples=True,
        confirm_run_unsafe_code=confirm_unsafe,
        random_seed=cfg.seed,
        numpy_random_seed=cfg.seed,
        torch_random_seed=cfg.seed,
        fewshot_random_seed=cfg.seed,
    )
    for name, samples in result.pop("samples").items():
        write_jsonl(out / f"samples_{name}.jsonl", (json.loads(json.dumps(s, default=str)) for s in samples))
    write_json(out / "lm_eval_results.json", json.loads(json.dumps(result, default=str)))
    return {
        name: {k: v for k, v in metrics.items() if "," in k} | {"n": result["n-samples"][name]["effective"]}
        for name, metrics in result["results"].items()
    }


def run_stage(
    cfg: Any, task: Any, base: str, adapter: str, test: list[Example], data_dir: Path | None, out: Path
) -> dict[str, Any]:
    """The runner's ``lm_eval`` stage: the pada task on the cell's test items plus the standard tasks."""
    lm_cfg = cfg.eval.lm_eval
    unsafe = sorted(CODE_TASKS & set(lm_cfg.tasks))
    if unsafe and not lm_cfg.allow_code_execution:
        raise PadaError(
            f"lm-eval tasks {unsafe} execute model-written code; set eval.lm_eval.allow_code_execution"
            "=true (in a sandbox) or drop them from eval.lm_eval.tasks"
        )
    tasks = []
    if lm_cfg.pada_task:
        max_new = cfg.eval.max_new_tokens or cfg.task.max_new_tokens
        tasks.append(pada_task_config(task, test, list(cfg.task.stop), max_new, out))
    for name in lm_cfg.tasks:
        if data_dir is None:
            raise PadaError(f"lm-eval task '{name}' reads local files; set paths.data_dir (or PADA_DATA_DIR)")
        tasks.append(standard_task_config(name, data_dir, out))
    if not tasks:
        raise PadaError("eval.lm_eval.enabled is true but there is nothing to score; set pada_task or tasks")
    return evaluate(lm_cfg, base, adapter, tasks, out, cfg.task.get("system_prompt"), bool(unsafe))
