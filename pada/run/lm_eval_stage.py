"""The optional final ``lm_eval`` stage of a cell (``eval.lm_eval.enabled``): lm-eval's own scoring of the
tested model on the cell's test items (pada.inference.lm_eval_scores), added to ``results.json``.

``cell`` is a ``pada.run.runner.Cell`` (not imported: the runner imports this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pada.io import write_json
from pada.run.naming import data_dir
from pada.types import Example


def add_lm_eval(
    cell: Any, results: dict[str, Any], train_key: str, adapter: Path | None, test: list[Example]
) -> None:
    """Run (or reuse) the ``lm_eval`` stage of the model trained as ``train_key`` (``adapter``: its LoRA
    dir, None for the base model) on ``test``, and rewrite ``results.json`` with its metrics
    (``metrics.lm_eval``), timing and sample files. Runs after the test stage, so pada's own results are
    on disk even if lm-eval fails."""
    results["metrics"]["lm_eval"] = lm_eval_stage(cell, train_key, adapter, test).info
    results["timings"]["lm_eval"] = {
        "seconds": cell.stages.results["lm_eval"].seconds,
        "cached": cell.stages.results["lm_eval"].cached,
    }
    results["predictions"]["lm_eval"] = sorted(
        p.name for p in cell.stages.results["lm_eval"].path.glob("samples_*.jsonl")
    )
    write_json(cell.run_dir / "results.json", results)


def lm_eval_stage(cell: Any, train_key: str, adapter: Path | None, test: list[Example]) -> Any:
    """The cached ``lm_eval`` stage (a ``pada.run.stages`` result; ``.info`` holds lm-eval's metrics), keyed
    by the trained model, the ``eval.lm_eval`` config, the item count and pada's lm-eval task version."""
    from pada.inference.lm_eval_scores import PADA_TASK_VERSION, run_stage

    def work(out: Path) -> dict[str, Any]:
        cell.close()  # lm-eval loads its own copy of the model: free ours (GPU memory) first
        return run_stage(
            cell.cfg,
            cell.task,
            cell.model_path,
            str(adapter) if adapter else None,
            test,
            data_dir(cell.cfg),
            out,
            shots={ex.id: cell.task.fewshot_examples(ex, cell.splits) for ex in test},
        )

    lm_cfg = OmegaConf.to_container(cell.cfg.eval.lm_eval, resolve=True)
    key = {"train": train_key, "lm_eval": lm_cfg, "n": len(test), "pada_task": PADA_TASK_VERSION}
    return cell.stages.run("lm_eval", key, work)
