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


PADA_TASK_VERSION = 2.0  # 2.0: pada's shots as turns (1.0 ran 0-shot whatever pada sent); in the stage key


def _shots_sampler() -> type:
    """lm-eval's ``fewshot_config.sampler`` for the pada task: the shots pada sends with this very item
    (stored in its row), not a draw from a pool, so per-item rules such as MMLU's same-subject shots hold
    on both sides."""
    from lm_eval.api.samplers import ContextSampler

    class ShotsOfTheItem(ContextSampler):
        def sample(self, n: int, eval_doc=None, df=None, **kwargs):
            if eval_doc is None:  # lm-eval passes the item because fewshot_split == test_split
                raise PadaError("lm-eval asked for shots without the item; cannot send pada's shots")
            return list(eval_doc["shots"])

    return ShotsOfTheItem


def pada_task_config(
    task: Any,
    examples: list[Example],
    stop: list[str],
    max_new_tokens: int,
    out: Path,
    *,
    shots: dict[str, list[Example]],
) -> dict[str, Any]:
    """The cell's test items with pada's prompts, pada's shots and pada's scorer, as an lm-eval
    generate_until task.

    ``shots``: item id -> the in-context examples pada sends with it (``Task.fewshot_examples``). lm-eval
    gets the same ones, each as a user/assistant turn pair (``fewshot_as_multiturn``, set by ``evaluate``;
    lm-evaluation-harness#1098, #1873), so greedy scores agree with few-shot too; ``num_fewshot`` is the
    most any item has (0: no shots on either side).
    """
    by_id = {ex.id: ex for ex in examples}
    rows = (
        {
            "id": ex.id,
            "prompt": ex.prompt,
            "target": ex.target,
            "answer": ex.answer,
            "shots": [{"prompt": s.prompt, "target": s.target} for s in shots.get(ex.id, [])],
        }
        for ex in examples
    )
    data = _jsonl(out / f"pada_{task.name}.jsonl", rows)

    def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
        record = task.record(by_id[doc["id"]], results[0])
        return {"pada_accuracy": float(record.correct)}

    return {
        "task": f"pada_{task.name}",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "fewshot_split": "test",  # so lm-eval hands the sampler the item, whose row holds its shots
        "fewshot_config": {"sampler": _shots_sampler()},
        "output_type": "generate_until",
        "doc_to_text": "prompt",  # a column name: the text as is (plain user content, wrapped by the template)
        "doc_to_target": "target",  # a shot's assistant turn: the training target, as pada's chat has it
        "target_delimiter": "",
        "fewshot_delimiter": "",
        "process_results": process_results,
        "metric_list": [{"metric": "pada_accuracy", "aggregation": "mean", "higher_is_better": True}],
        "generation_kwargs": {
            "until": list(stop),
            "max_gen_toks": max_new_tokens,
            "do_sample": False,
            "temperature": 0.0,
        },
        "num_fewshot": max((len(v) for v in shots.values()), default=0),
        "metadata": {"version": PADA_TASK_VERSION},
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
        fewshot_as_multiturn=bool(cfg.apply_chat_template),  # shots as turns, as pada's chats have them
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


def check_pada_task_shots(lm_cfg: Any, has_shots: bool) -> None:
    """Raises PadaError when the pada task would get shots lm-eval cannot send as pada does: without its
    chat template lm-eval folds them into one plain-text prompt, not turns, so the scores could not agree.
    Called by ``pada.validate`` before any stage and by ``run_stage``."""
    if lm_cfg.get("pada_task") and has_shots and not lm_cfg.get("apply_chat_template"):
        raise PadaError(
            "eval.lm_eval.pada_task checks pada's few-shot prompts, which are chat turns: set "
            "eval.lm_eval.apply_chat_template=true, or task.fewshot.n=0, or eval.lm_eval.pada_task=false"
        )


def run_stage(
    cfg: Any,
    task: Any,
    base: str,
    adapter: str,
    test: list[Example],
    data_dir: Path | None,
    out: Path,
    *,
    shots: dict[str, list[Example]],
) -> dict[str, Any]:
    """The runner's ``lm_eval`` stage: the pada task on the cell's test items (with the shots pada sent,
    ``shots``: item id -> examples) plus the standard tasks.

    Raises PadaError when the pada task has shots but ``apply_chat_template`` is off: lm-eval would then
    fold them into one plain-text prompt, not pada's turns, and the two scores could not agree.
    """
    lm_cfg = cfg.eval.lm_eval
    check_pada_task_shots(lm_cfg, any(shots.values()))
    unsafe = sorted(CODE_TASKS & set(lm_cfg.tasks))
    if unsafe and not lm_cfg.allow_code_execution:
        raise PadaError(
            f"lm-eval tasks {unsafe} execute model-written code; set eval.lm_eval.allow_code_execution"
            "=true (in a sandbox) or drop them from eval.lm_eval.tasks"
        )
    tasks = []
    if lm_cfg.pada_task:
        max_new = cfg.eval.max_new_tokens or cfg.task.max_new_tokens
        tasks.append(pada_task_config(task, test, list(cfg.task.stop), max_new, out, shots=shots))
    for name in lm_cfg.tasks:
        if data_dir is None:
            raise PadaError(f"lm-eval task '{name}' reads local files; set paths.data_dir (or PADA_DATA_DIR)")
        tasks.append(standard_task_config(name, data_dir, out))
    if not tasks:
        raise PadaError("eval.lm_eval.enabled is true but there is nothing to score; set pada_task or tasks")
    return evaluate(lm_cfg, base, adapter, tasks, out, cfg.task.get("system_prompt"), bool(unsafe))
