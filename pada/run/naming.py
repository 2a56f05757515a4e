"""Where a cell lives: its identity (the resolved config minus where and how it runs, pada/run/identity.py),
its run dir name ``<task>-b<budget>-<method>-s<seed>-<hash>``, and the benchmark files' directory. Torch-free,
so the SLURM launcher and the preflight checks name cells without importing the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from pada.errors import PadaError
from pada.io import stable_hash
from pada.run.identity import eval_identity_of, identity_of
from pada.versions import cell_versions

if TYPE_CHECKING:
    from pada.tasks.base import Task


def identity(cfg: DictConfig) -> dict[str, Any]:
    """The config part of the cell's identity (pada/run/identity.py)."""
    return identity_of(OmegaConf.to_container(cfg, resolve=True))


def eval_identity(cfg: DictConfig) -> dict[str, Any]:
    return eval_identity_of(OmegaConf.to_container(cfg.eval, resolve=True))


def cell_name(cfg: DictConfig, components: dict[str, Any] | None = None) -> str:
    """``<task>-b<budget>-<method>-s<seed>-<hash>``: the hash covers ``identity(cfg)`` and ``components``
    (the versions of the task, method and world, and the data files' sha256: ``Cell.components``), so a
    new version or a changed data file gives a new cell, never an overwrite of the old result."""
    digest = stable_hash({**identity(cfg), **(components or {})})[:10]
    return f"{cfg.task.name}-b{cfg.budget}-{cfg.method.name}-s{cfg.seed}-{digest}"


def cell_location(
    cfg: DictConfig, task: Task, method: Any, files: dict[str, str]
) -> tuple[dict[str, Any], Path]:
    """The cell's identity components and run dir; the SLURM launcher names jobs and links logs by it too."""
    components = {"versions": cell_versions(task, method, cfg), "data": files}
    return components, Path(cfg.paths.runs_dir).expanduser().resolve() / cell_name(cfg, components)


def data_dir(cfg: DictConfig) -> Path | None:
    """The benchmark files' directory (``paths.data_dir``), or None for a task that reads none or when unset
    (the hub is used); raises PadaError when it is set and absent."""
    if cfg.paths.data_dir in (None, "") or not cfg.task.get("local_subdir"):  # generated tasks read no files
        return None
    path = Path(cfg.paths.data_dir).expanduser().resolve()
    if not path.is_dir():
        raise PadaError(
            f"data dir {path} does not exist; set paths.data_dir (or PADA_DATA_DIR) to the benchmark files"
        )
    return path
