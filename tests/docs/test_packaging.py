"""pyproject.toml declares compatible ranges whose lower bounds are the lock's tested pins; the lock is exact."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lock(name: str = "requirements-cpu.lock.txt") -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"lock line without an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version.split("+")[0].strip()  # torch's +cpu local label
    return pins


def test_python_range_covers_the_tested_and_the_resolved_versions():
    allowed = SpecifierSet(PROJECT["requires-python"])
    assert {"3.11", "3.12", "3.13"} <= {v for v in ("3.10", "3.11", "3.12", "3.13") if allowed.contains(v)}
    assert allowed.contains(".".join(map(str, sys.version_info[:3])))


EXTRAS = PROJECT["optional-dependencies"]
LOCKED = [  # (lock file, the requirements it pins)
    ("requirements-cpu.lock.txt", [*PROJECT["dependencies"], *EXTRAS["slurm"]]),
    ("requirements-dev.lock.txt", EXTRAS["dev"]),  # pytest, ruff, import-linter: `make test` / `make lint`
    ("requirements-teacher.lock.txt", EXTRAS["teacher-llamacpp"]),  # scripts/install_llama_cpp.sh
]


@pytest.mark.parametrize(("lock_file", "requirements"), LOCKED)
def test_every_range_starts_at_the_locked_version(lock_file, requirements):
    lock = _lock(lock_file)
    for requirement in map(Requirement, requirements):
        pinned = lock[canonicalize_name(requirement.name)]
        lower = {s.operator: s.version for s in requirement.specifier}
        assert requirement.specifier.contains(pinned), f"{requirement} excludes the lock's {pinned}"
        assert lower.get(">=", lower.get("==")) == pinned, (
            f"{requirement}: lower bound is not the tested {pinned}"
        )
        assert "==" in lower or "<" in lower, f"{requirement}: no upper bound"


def test_vllm_pins_stay_in_the_gpu_extra():
    assert PROJECT["optional-dependencies"]["gpu"] == ["vllm==0.32.0"]
    assert not any(canonicalize_name(Requirement(r).name) == "vllm" for r in PROJECT["dependencies"])
