"""Collect cells from a wandb project through its public API (``wandb.Api().runs``).

Only cell-level metrics live in wandb (the runner logs ``test/accuracy`` to the run summary); the per-item
predictions the paired tests need are read from the runs dir, so this source fills ``cells`` only.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from analysis.collect import CELL_COLUMNS, Collected
from pada.errors import PadaError

# wandb run states that mean the cell will never write its summary.
_FAILED_STATES = {"crashed", "failed", "killed"}


def _keys(config: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return {
            "task": config["task"]["name"],
            "budget": int(config["budget"]),
            "method": config["method"]["name"],
            "seed": int(config["seed"]),
        }
    except (KeyError, TypeError, ValueError):
        return None  # a run that is not a pada cell


def _row(run: Any) -> dict[str, Any] | None:
    config = dict(run.config)
    keys = _keys(config)
    if keys is None:
        return None
    value = run.summary.get("test/accuracy")
    ok = run.state == "finished" and value is not None
    status = "ok" if ok else ("failed" if run.state in _FAILED_STATES else "incomplete")
    return {
        **keys,
        "cell": run.name,
        "metric": "test/accuracy",
        "value": float(value) if ok else math.nan,
        "n": None,
        "status": status,
        "reason": "" if ok else f"wandb run state '{run.state}', no test/accuracy in summary",
        "simulation": bool(config.get("simulation", False)),
        "fixture": False,
    }


def collect_wandb(project: str, api: Any | None = None) -> Collected:
    """``project`` is ``entity/project`` (or ``project`` with the default entity)."""
    if api is None:
        import wandb

        api = wandb.Api()
    try:
        runs = list(api.runs(project))
    except Exception as error:  # the SDK raises its own CommError/ValueError types for a bad path or auth
        raise PadaError(
            f"cannot list wandb runs of '{project}' ({error}); check the name and WANDB_API_KEY"
        ) from error
    rows = [r for r in map(_row, runs) if r is not None]
    if not rows:
        raise PadaError(
            f"wandb project '{project}' has no pada cells (runs with task/budget/method/seed config)"
        )
    return Collected(cells=pd.DataFrame(rows, columns=CELL_COLUMNS))
