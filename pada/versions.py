"""Explicit versions of what determines a cell's output (lm-eval's pattern), and their pinned source hashes.

Versioned components: every task and method class a shipped conf/task or conf/method YAML names with
``_target_`` (``Task.version``, ``Method.version``), the trainer (``pada.training.VERSION``), the runner's fairness code (quotas and
decontamination: ``pada.run.fairness.VERSION``), the teacher answer parser (``pada.teacher.structured.VERSION``), the simulated world (``pada.sim.world.WORLD_VERSION``, covering the world and its
oracle teacher) and every teacher prompt template (its version is in its file name,
``pada/prompts/<role>.<version>.j2``). The cell identity carries the versions of its task, method and
(for simulated cells) world; each stage's key carries the text hashes of the templates it rendered, and a
train (augment) stage's key the trainer's (fairness code's and parser's) versions (``stage_versions``), so a bump re-runs
those stages and what follows them without renaming the cell.

``tests/fixtures/version_pins.json`` pins a sha256 of each component's source files per version. Changing a
component's code without bumping its version fails ``tests/docs/test_versions.py`` with a message naming the
version to bump. Record a new version with ``python -m pada.versions --pin``; ``--repin`` overwrites the
hash of an existing version, for edits that cannot change any result (renames). Formatting, comments
and docstrings are not part of the hash (``code_fingerprint``).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "tests" / "fixtures" / "version_pins.json"
PROJECT_PACKAGES = ("pada", "baselines")
UNVERSIONED = "unversioned"
# Interfaces only (IterationState, build_method): what a method outputs is decided in its own modules.
INTERFACE_MODULES = frozenset({"pada.methods.base"})


@dataclass(frozen=True)
class Component:
    key: str  # "task:gsm8k", "method:pada", "world:sim", "prompt:generation.v1"
    version: str
    where: str  # what to edit to bump the version
    sources: tuple[tuple[str, Path], ...]  # (module name or file name under the repo, its file)

    def digest(self) -> str:
        digest = hashlib.sha256()
        for label, path in self.sources:
            digest.update(label.encode())
            digest.update(code_fingerprint(path))
        return digest.hexdigest()


def code_fingerprint(path: Path) -> bytes:
    """What in a source file can change a result: a Python module's syntax tree without docstrings (so
    formatting, comments and docstrings do not count as changes), any other file's bytes (prompt templates,
    where every character reaches the teacher)."""
    if path.suffix != ".py":
        return path.read_bytes()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False).encode()


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _module_file(name: str) -> Path:
    """The source file of module ``name``, found without running it (``pada.sandbox.boot`` runs on import)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImportError(f"no source file for module {name}")
    return Path(spec.origin).resolve()


def class_sources(cls: type) -> tuple[tuple[str, Path], ...]:
    """The project modules that define ``cls`` and its bases, plus its ``version_sources`` (helper modules
    whose code decides its output), sorted and deduplicated."""
    modules = {c.__module__ for c in cls.__mro__ if c.__module__.split(".")[0] in PROJECT_PACKAGES}
    modules -= INTERFACE_MODULES
    modules |= set(getattr(cls, "version_sources", ()))
    return tuple((m, _module_file(m)) for m in sorted(modules))


def _class_component(kind: str, name: str, cls: type) -> Component:
    version = cls.__dict__.get("version")
    if not isinstance(version, str):
        raise TypeError(f"{kind} {name!r} ({cls.__module__}.{cls.__qualname__}) declares no version = '...'")
    return Component(
        f"{kind}:{name}", version, f"{cls.__qualname__}.version in {cls.__module__}", class_sources(cls)
    )


def shipped_classes(group: str, contract: type) -> dict[str, type]:
    """The classes the shipped ``conf/<group>/*.yaml`` name with ``_target_``, by their ``name`` attribute
    (ablations inherit their parent's ``_target_`` through Hydra defaults and share its component)."""
    from omegaconf import OmegaConf

    from pada.targets import target_class

    found = {}
    for path in sorted((ROOT / "conf" / group).glob("*.yaml")):
        target = OmegaConf.load(path).get("_target_")
        if target:
            cls = target_class(
                OmegaConf.create({"_target_": target}), contract, f"{group} (conf/{group}/{path.name})"
            )
            found[cls.__dict__.get("name", cls.__qualname__)] = cls
    return found


def components() -> list[Component]:
    """Every versioned component of this checkout."""
    from pada.methods.base import Method
    from pada.sim import world
    from pada.tasks.base import Task
    from pada.teacher.prompts import PROMPTS_DIR

    tasks, methods = shipped_classes("task", Task), shipped_classes("method", Method)
    found = [_class_component("task", name, cls) for name, cls in sorted(tasks.items())]
    found += [_class_component("method", name, cls) for name, cls in sorted(methods.items())]
    found.append(
        Component(
            "world:sim",
            world.WORLD_VERSION,
            "WORLD_VERSION in pada.sim.world",
            tuple((m, _module_file(m)) for m in ("pada.sim.oracle", "pada.sim.world")),
        )
    )
    found += runner_components()
    for path in sorted(PROMPTS_DIR.glob("*.j2")):
        role, version = path.name.split(".")[:2]
        found.append(
            Component(
                f"prompt:{role}.{version}",
                version,
                f"a new template {role}.v<N+1>.j2 (and the config that selects it)",
                ((str(path.relative_to(ROOT)), path),),
            )
        )
    return found


# The runner's own code that determines a stage's output: (key, module holding VERSION, source modules).
RUNNER_PARTS = (
    (
        "trainer",
        "pada.training",
        ("pada.training", "pada.training.batching", "pada.training.callbacks", "pada.training.data")
        + ("pada.training.flops", "pada.training.lora", "pada.training.module", "pada.training.resume")
        + ("pada.training.train",),
    ),
    (
        "fairness",
        "pada.run.fairness",
        # pada.tasks.gsm8k: the '#### N' reading the semantic check shares with the task (final_answer)
        (
            "pada.agent.leakage",
            "pada.run.echo",
            "pada.run.execution",
            "pada.run.fairness",
            "pada.run.semantic",
        )
        + ("pada.run.topup", "pada.tasks.gsm8k"),
    ),
    # how a teacher answer becomes a schema instance (decoding, coercions): which items a method gets
    ("structured", "pada.teacher.structured", ("pada.teacher.structured",)),
)
# Which stages each part determines: a stage's key carries the versions of the parts its name starts with.
STAGE_PARTS = {"train_": ("trainer",), "augment_": ("fairness", "structured")}


def runner_components() -> list[Component]:
    """The trainer (``pada.training.VERSION``) and the runner's fairness code (``pada.run.fairness.VERSION``:
    quotas and decontamination), pinned like tasks and methods."""
    return [
        Component(
            key,
            importlib.import_module(holder).VERSION,
            f"VERSION in {holder}",
            tuple((m, _module_file(m)) for m in modules),
        )
        for key, holder, modules in RUNNER_PARTS
    ]


def stage_versions(stage: str) -> dict[str, str]:
    """The versions of the runner parts that determine ``stage`` (``train_0`` -> ``{"trainer": "1.0"}``,
    ``augment_0`` -> ``{"fairness": "1.0", "structured": "1.1"}``, other stages ``{}``), for its key (pada/run/stages.py)."""
    holders = {key: holder for key, holder, _ in RUNNER_PARTS}
    return {
        part: importlib.import_module(holders[part]).VERSION
        for prefix, parts in STAGE_PARTS.items()
        if stage.startswith(prefix)
        for part in parts
    }


def runner_versions(trains: bool, augments: bool) -> dict[str, str]:
    """The versions of the runner parts a cell's output goes through: the trainer when it trains, the
    fairness code when it has augment stages. results.json's ``versions`` carries them (the analysis groups
    cells by it), the cell's name does not (a bump re-runs those stages in the same cell dir)."""
    stages = ["train_0"] * trains + ["augment_0"] * augments
    return {part: version for stage in stages for part, version in stage_versions(stage).items()}


def cell_versions(task: Any, method: Any, cfg: Any) -> dict[str, str]:
    """The versions a cell's output depends on: its task and method, and the world when simulated."""
    from pada.sim import world

    # A user's plugged-in task or method without a version is recorded as such (built-in ones must declare
    # one: tests/docs/test_versions.py), so its cells say their identity does not follow its code.
    versions = {
        "task": getattr(task, "version", UNVERSIONED),
        "method": getattr(method, "version", UNVERSIONED),
    }
    teacher = cfg.get("teacher") or {}
    if task.cfg.get("simulation") or teacher.get("script_module") == "pada.sim.oracle":
        versions["world"] = world.WORLD_VERSION
    return versions


def check(pins: dict[str, dict[str, str]]) -> list[str]:
    """One message per component whose source no longer matches the pin of its version."""
    problems = []
    for component in components():
        pinned = pins.get(component.key, {}).get(component.version)
        if pinned is None:
            problems.append(
                f"{component.key} version {component.version} is not pinned: run "
                f"`python -m pada.versions --pin` and commit {PINS.relative_to(ROOT)}"
            )
        elif pinned != component.digest():
            files = ", ".join(label for label, _ in component.sources)
            problems.append(
                f"{component.key} changed ({files}) but is still version {component.version}: "
                f"bump {component.where}, then run `python -m pada.versions --pin` (or "
                f"`--repin` if the change cannot alter any result)"
            )
    return problems


def pin(pins: dict[str, dict[str, str]], repin: bool = False) -> dict[str, dict[str, str]]:
    """``pins`` with every component's current version recorded; an existing version keeps its hash
    unless ``repin``."""
    updated = {key: dict(versions) for key, versions in pins.items()}
    for component in components():
        versions = updated.setdefault(component.key, {})
        if repin or component.version not in versions:
            versions[component.version] = component.digest()
    return updated


def main(argv: list[str] | None = None) -> int:
    from pada.io import read_json, write_json

    parser = argparse.ArgumentParser(prog="python -m pada.versions", description=__doc__.split("\n")[0])
    parser.add_argument("--pin", action="store_true", help="record the hash of every new version")
    parser.add_argument("--repin", action="store_true", help="also overwrite the hash of existing versions")
    args = parser.parse_args(argv)
    pins = read_json(PINS) if PINS.is_file() else {}
    if args.pin or args.repin:
        write_json(PINS, pin(pins, repin=args.repin))
        pins = read_json(PINS)
    problems = check(pins)
    for problem in problems:
        print(f"pada: error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
