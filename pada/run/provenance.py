"""What produced a result: code version, package versions, the resolved config, data hashes."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from pada.run.cluster import job_environment

PACKAGES = (
    "pada",
    "torch",
    "transformers",
    "peft",
    "lightning",
    "tokenizers",
    "datasets",
    "numpy",
    "hydra-core",
    "omegaconf",
    "sentence-transformers",
    "scikit-learn",
    "lm-eval",
    "wandb",
    "vllm",
)


def git_state(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    status = git("status", "--porcelain")
    return {"sha": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """``{distribution name: installed version, or None when it is not installed}`` for ``names``."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(resolved_config: dict[str, Any], data_files: dict[str, str]) -> dict[str, Any]:
    return {
        "git": git_state(Path(__file__).resolve().parents[2]),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "config": resolved_config,
        "data_files_sha256": data_files,
        "job": job_environment(),  # host; under SLURM job id, array index, restarts, log paths
    }
