"""The package layers declared in pyproject.toml ([tool.importlinter]) hold, and the check sees what it must.

``make lint`` runs ``lint-imports`` on the repo; these tests run it on a copy of the packages with one
violation planted, so a contract that could never fail (a layer missing, a lazy import unseen) fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pada", "baselines", "analysis", "hydra_plugins")
LINT = Path(sys.executable).with_name("lint-imports")

# (where, code appended to it, what the report must say); each breaks one contract.
PLANTS = {
    "lazy import of run/ from below it": (
        "pada/tasks/base.py",
        "\n\ndef _planted():\n    from pada.run.stages import Stages\n\n    return Stages\n",
        "pada.tasks.base -> pada.run.stages",
    ),
    "cycle inside one package": (
        "baselines/formats.py",
        "\n\ndef _planted():\n    import baselines.auggpt\n\n    return baselines.auggpt\n",
        "No cycles are allowed in baselines",
    ),
    "module of pada in no layer": ("pada/unplaced.py", "X = 1\n", "pada.unplaced"),
    "pada imports a baseline": (
        "pada/methods/base.py",
        "\n\ndef _planted():\n    import baselines.sft\n\n    return baselines.sft\n",
        "pada.methods.base -> baselines.sft",
    ),
}


def _lint(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports on ``tree`` (the packages found there first, not the editable install's)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [str(LINT), "--no-cache", "--no-logo", "--config", str(tree / "pyproject.toml")]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_shipped_packages_keep_every_contract(tmp_path):
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_a_planted_violation_breaks_a_contract(tmp_path, plant):
    where, code, reported = PLANTS[plant]
    tree = _copy(tmp_path)
    with open(tree / where, "a", encoding="utf-8") as file:
        file.write(code)
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert reported in result.stdout, result.stdout
