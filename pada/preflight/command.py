"""``pada preflight``: every check on each distinct setting of the sweep, the plan, and the exit status."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from pada.preflight.checks import (
    check_adapter,
    check_data,
    check_disk,
    check_gpu,
    check_key,
    check_launcher,
    check_method,
    check_model,
    check_teacher,
    check_values,
)
from pada.preflight.compose import compose_cell, compose_cells, expand_sweep
from pada.preflight.plan import calls_or_none, plan


def preflight(overrides: list[str]) -> tuple[list[str], dict[str, Any]]:
    cell_overrides = expand_sweep(overrides)
    cells = compose_cells(cell_overrides)
    problems: list[str] = []
    seen: set[str] = set()
    checks = [
        (check_values, check_key),
        (check_gpu, lambda c: "gpu"),
        (check_model, lambda c: OmegaConf.to_yaml(c.model)),
        (check_data, lambda c: f"{c.task.name}-{c.budget}"),
        (check_method, lambda c: OmegaConf.to_yaml(c.task) + OmegaConf.to_yaml(c.method)),
        (check_teacher, lambda c: OmegaConf.to_yaml(c.teacher)),
        (
            check_adapter,
            lambda c: OmegaConf.to_yaml({k: c[k] for k in ("model", "trainer", "eval", "method")}),
        ),
    ]
    for cfg in cells:
        for check, key in checks:
            marker = f"{check.__name__}:{key(cfg)}"
            if marker not in seen:
                seen.add(marker)
                if problem := check(cfg):
                    problems.append(problem)
                    if check is check_values:  # the other checks would trip over the same bad value
                        break
    first = cells[0]
    problems += check_launcher(compose_cell(cell_overrides[0], hydra=True))
    if problem := check_disk(first, float((first.get("plan") or {}).get("disk_gb", 1.0))):
        problems.append(problem)
    return list(dict.fromkeys(problems)), plan(cells)  # one line per distinct problem


def calls_lines(overrides: list[str]) -> list[str]:
    """One line per distinct (method, task, budget, quotas) of the sweep: its expected teacher calls per
    augment stage (``expected_calls``), e.g. ``auggpt on gsm8k budget=100: augment_0 <= 600 (paraphrase
    300 + verification 300)``."""
    lines, seen = [], set()
    for cfg in compose_cells(expand_sweep(overrides)):
        quotas = [
            f"{k}={cfg.get(k)}"
            for k in ("synthetic_budget", "synthetic_per_iteration")
            if cfg.get(k) is not None
        ]
        head = " ".join([f"{cfg.method.name} on {cfg.task.name} budget={cfg.budget}", *quotas])
        if head in seen:
            continue
        seen.add(head)
        stages = calls_or_none(cfg)
        if not stages:
            continue
        parts = [
            f"{n} <= {sum(c.values())} ({' + '.join(f'{r} {v}' for r, v in c.items() if v)})"
            for n, c in stages.items()
        ]
        lines.append(f"  teacher calls (estimate, at most) {head}: " + "; ".join(parts))
    return lines


def main(overrides: list[str]) -> int:
    from pada.run.app import CONF_DIR
    from pada.run.loop import loop_override
    from pada.task_files import register

    overrides = register(overrides, CONF_DIR)  # task=path/to/my_task.yaml, as `pada run`
    overrides = [o if o.startswith("-") else loop_override(o) for o in overrides]  # method.loop.* -> ++
    problems, summary = preflight(overrides)
    print("plan (estimates): " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    for line in calls_lines(overrides):
        print(line)
    if problems:
        print(f"preflight: {len(problems)} problem(s); fix these before submitting (nothing was submitted):")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("preflight: ok")
    return 0
