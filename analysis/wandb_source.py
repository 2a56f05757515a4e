"""Collect cells from a wandb project through its public API (``wandb.Api().runs``).

Cells are grouped by configuration exactly as for a runs dir (``analysis.collect.configuration_labels``): the
run's resolved config minus the seed, plus the component versions and data hashes the runner logs under
``cell_components`` (runs logged before that are grouped by their config alone, apart from runs that have it).

Only cell-level metrics live in wandb (the runner logs ``test/accuracy`` to the run summary); the per-item
predictions the paired tests need are read from the runs dir, so this source fills ``cells`` only.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from analysis.collect import CELL_COLUMNS, Collected, configuration_labels, saved_displays
from pada.errors import PadaError
from pada.tracking import COMPONENTS_KEY

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


def _as_results(run: Any) -> dict[str, Any]:
    """A finished run's wandb config in results.json's shape, for ``configuration_of``."""
    config = dict(run.config)
    components = config.pop(COMPONENTS_KEY, None) or {}
    return {
        "provenance": {"config": config, "data_files_sha256": components.get("data") or {}},
        "versions": components.get("versions") or {},
    }


def _one_per_cell(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell name: older projects hold a wandb run per invocation of a resumed cell (same name,
    same identity). The finished one wins; finished ones that disagree are an error, never a silent pick."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_name.setdefault(row["cell"], []).append(row)
    kept = []
    for name, same in by_name.items():
        finished = [r for r in same if r["status"] == "ok"]
        if len({r["value"] for r in finished}) > 1:
            values = ", ".join(str(r["value"]) for r in finished)
            raise PadaError(
                f"wandb runs of cell {name} report different test/accuracy ({values}); delete the stale run"
            )
        kept.append(finished[0] if finished else same[-1])
    return kept


def _grouped(runs: list[Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with ``method`` the configuration's label and ``config`` its hash (finished cells only)."""
    by_name = {run.name: run for run in runs if run.state == "finished"}
    found = [(r["cell"], r, _as_results(by_name[r["cell"]]) if r["status"] == "ok" else None) for r in rows]
    labels = configuration_labels(found)
    out = []
    for row in rows:
        label, config = labels.get(row["cell"], (row["method"], None))
        out.append({**row, "method": label, "config": config})
    return out


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
    # a wandb run's config is the cell's resolved config: its method.display places and labels the row
    displays = saved_displays([{"provenance": {"config": dict(run.config)}} for run in runs])
    cells = pd.DataFrame(_grouped(runs, _one_per_cell(rows)), columns=CELL_COLUMNS)
    return Collected(cells=cells, displays=displays)
