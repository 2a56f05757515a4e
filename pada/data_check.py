"""``pada data check TASK``: load every split, count it, and score every gold answer as a model output.

For question-answering tasks the gold output (the training target) must extract to the gold answer; for
code tasks the reference solution, extracted the same way, must pass its tests in the sandbox.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from pada import task_files
from pada.config_keys import check_read
from pada.errors import PadaError, clip
from pada.tasks.base import Task, build_task
from pada.tasks.code import CodeTask
from pada.types import Example


@dataclass
class CheckReport:
    task: str
    counts: dict[str, int]
    size_errors: list[str] = field(default_factory=list)
    skipped_rows: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (item id, why)
    checked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.size_errors and not self.failures and not self.skipped_rows

    def lines(self) -> list[str]:
        out = [f"{self.task}: " + ", ".join(f"{split} {n}" for split, n in self.counts.items())]
        out += [f"  size mismatch: {e}" for e in self.size_errors]
        out += [f"  skipped malformed row: {row}" for row in self.skipped_rows]
        passed = self.checked - len(self.failures)
        out.append(f"  gold outputs scored correct: {passed}/{self.checked} ({self.seconds:.1f} s)")
        out += [f"  FAIL {item}: {why}" for item, why in self.failures]
        out.append("  OK" if self.ok else "  FAILED")
        return out


def load_task_config(name: str):
    """The ``task`` node exactly as ``pada run task=<name>`` composes it: ``conf/task/<name>.yaml``, or the YAML
    file ``name`` names when it is a path (pada.task_files: the same rule and errors), with its defaults list
    applied (a user's YAML extending a shipped task). Raises PadaError (one line)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from pada.run.conf import CONF_DIR

    name = name.removeprefix("task=")  # `pada data check task=...` reads as `pada run task=...` does
    if not task_files.is_path(name) and not (CONF_DIR / "task" / f"{name}.yaml").is_file():
        known = sorted(p.stem for p in (CONF_DIR / "task").glob("*.yaml"))
        raise PadaError(
            f"unknown task '{name}'; choose one of: {', '.join(known)} (or a path to a task YAML)"
        )
    (choice,) = task_files.register([f"task={name}"], CONF_DIR)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="pada"):
            cfg = compose("config", overrides=[choice])
            # resolved here: task values may name top-level ones (${allow_code_execution}) that a lone node lacks
            return OmegaConf.create(OmegaConf.to_container(cfg.task, resolve=True))
    except (HydraException, OmegaConfBaseException) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PadaError(f"task {name} does not compose ({first})") from error


def resolve_data_dir(data_dir: str | None) -> Path | None:
    """--data-dir, else $PADA_DATA_DIR, else None (the Hugging Face Hub)."""
    chosen = data_dir or os.environ.get("PADA_DATA_DIR")
    if chosen and not Path(chosen).is_dir():
        raise PadaError(f"data directory {chosen} does not exist; pass --data-dir DIR or set PADA_DATA_DIR")
    return Path(chosen) if chosen else None


def _size_errors(counts: dict[str, int], expected) -> list[str]:
    expected = dict(expected or {})
    return [
        f"{split} has {counts[split]} items, expected {n}"
        for split, n in expected.items()
        if counts[split] != n
    ]


def _why_code(verdict) -> str:
    last = verdict.stderr.strip().splitlines()[-1:] or [""]
    return f"{verdict.kind}: {clip(last[0], 160)}"


def _failures(task: Task, examples: list[Example]) -> list[tuple[str, str]]:
    if isinstance(task, CodeTask):
        codes = [task.extract(task.gold_output(e)) or "" for e in examples]
        verdicts = task.run(codes, examples)
        return [(e.id, _why_code(v)) for e, v in zip(examples, verdicts, strict=True) if not v.passed]
    failures = []
    for example in examples:
        extracted = task.extract(task.gold_output(example))
        if not task.is_correct(extracted, example):
            failures.append(
                (example.id, f"gold output extracts to {extracted!r}, gold answer {example.answer!r}")
            )
    return failures


def check(task_name: str, data_dir: str | None, overrides: dict | None = None) -> CheckReport:
    """``overrides``: config values to change (tests check small fixture files against their own sizes)."""
    cfg = OmegaConf.merge(load_task_config(task_name), overrides or {})
    check_read({"task": OmegaConf.to_container(cfg)})  # a typo key is an error here too, as in `pada run`
    task = build_task(cfg)
    splits = task.load(resolve_data_dir(data_dir))
    named = splits.named()
    report = CheckReport(
        str(cfg.get("name", task_name)), {split: len(items) for split, items in named.items()}
    )
    report.size_errors = _size_errors(report.counts, cfg.get("expected_sizes"))
    report.skipped_rows = list(task.skipped_rows)
    examples = [e for items in named.values() for e in items]
    start = time.monotonic()
    report.failures = _failures(task, examples)
    report.checked = len(examples)
    report.seconds = time.monotonic() - start
    return report


def main(task_name: str, data_dir: str | None) -> int:
    report = check(task_name, data_dir)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1
