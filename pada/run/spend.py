"""Per-cell teacher spend that survives failed stage attempts, so ``teacher.client.cell_caps`` hold across
re-runs: a stopped stage writes no done marker, and without this a re-run under the same cap starts afresh."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from pada.io import read_json, write_json
from pada.run.fairness import teacher_accounting
from pada.teacher import usage_delta
from pada.teacher.usage import by_model, stage_summary

log = logging.getLogger("pada")

# Uncached teacher spend of stage attempts that did not finish (a cap, a failed teacher, Ctrl-C), by stage:
# their done markers never get written, and without this a re-run under the same cap would start afresh.
UNFINISHED_SPEND = ".teacher_spend_unfinished.json"


def _spend(total: dict[str, Any]) -> dict[str, float]:
    """``{"calls", "tokens", "dollars"}`` of a usage report's ``total`` (uncached: cache hits are free)."""
    return {
        "calls": total.get("calls", 0),
        "tokens": total.get("tokens_in", 0) + total.get("tokens_out", 0),
        "dollars": total.get("dollars", 0.0),
    }


def spent(results: dict[str, Any], run_dir: Path) -> dict[str, float]:
    """Uncached teacher calls, tokens and dollars of the cell: its finished stages (their done markers)
    plus every unfinished attempt (``UNFINISHED_SPEND`` in the run dir)."""
    rows = [_spend(r.info["teacher_usage"]["total"]) for r in results.values() if "teacher_usage" in r.info]
    path = Path(run_dir) / UNFINISHED_SPEND
    rows += list(read_json(path).values()) if path.is_file() else []
    return {k: sum(row.get(k, 0) for row in rows) for k in ("calls", "tokens", "dollars")}


@contextlib.contextmanager
def spend_kept_on_failure(teacher: Any, before: dict[str, Any] | None, run_dir: Path, stage: str):
    """Add what the teacher spent in this attempt to ``UNFINISHED_SPEND`` if the attempt fails (any
    exception, Ctrl-C included), so ``client.cell_caps`` count it on every later run of the cell."""
    try:
        yield
    except BaseException:
        if teacher is not None and before is not None:
            spend = _spend(usage_delta(teacher.usage(), before)["total"])
            path = Path(run_dir) / UNFINISHED_SPEND
            kept = read_json(path) if path.is_file() else {}
            old = kept.get(stage, {})
            kept[stage] = {k: old.get(k, 0) + v for k, v in spend.items()}
            write_json(path, kept)
        raise


@contextlib.contextmanager
def teacher_summary(teacher: Any, before: dict[str, Any] | None, stage: str):
    """Log one warning line when the stage's teacher requests were retried, failed or never parsed (success
    or not): the per-request lines go to the job's log only (``pada.teacher.requests``), so a dead
    endpoint is one line per stage on the console, not one per request."""
    try:
        yield
    finally:
        if teacher is not None and before is not None:
            last = teacher.last_error or teacher.last_retry
            if line := stage_summary(stage, usage_delta(teacher.usage(), before), last):
                log.warning("%s", line)


def routed_usage(roles: dict[str, dict[str, Any]], teacher: Any) -> dict[str, Any]:
    """For a teacher with ``teacher.routes``: ``role_models`` (role -> ``<provider>/<model>`` that answered
    it) and ``by_model`` (the roles' counts added up per model); ``{}`` for a teacher without routes."""
    if len(teacher.lanes) == 1:
        return {}
    role_models = {role: teacher.model_of(role) for role in roles}
    return {"role_models": role_models, "by_model": by_model(roles, role_models)}


def routed_accounting(roles: dict[str, dict[str, Any]], teacher: Any) -> dict[str, Any]:
    """``fairness.teacher_accounting`` of a cell's per-role usage, each role at the prices of the teacher
    that answered it (``Teacher.lane``), summed: a cell that asks two teachers pays each one's price."""
    rows = []
    for role, row in roles.items():
        pricing = teacher.lane(role).pricing
        rows.append(teacher_accounting(row, pricing["input_per_mtok"], pricing["output_per_mtok"]))
    empty = teacher_accounting({}, 0.0, 0.0)
    return {part: {k: sum(r[part][k] for r in rows) for k in empty[part]} for part in ("uncached", "cached")}
