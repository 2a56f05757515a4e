"""The per-iteration patterns report: ``patterns.json`` (read by the analysis package) and ``patterns.md``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pada.agent.patterns import Pattern
from pada.io import atomic_write_text, read_json, write_json
from pada.tracking import log_to_current_run
from pada.types import EvalRecord

VAL_SET = "val_set"  # the report's whole-validation-set entry (same keys as a pattern's scores)


def pattern_rows(patterns: list[Pattern], counts: dict[str, dict], representatives: int) -> list[dict]:
    rows = []
    for p in patterns:
        rows.append(
            {
                "name": p.name,
                "size": len(p.item_ids),
                "item_ids": p.item_ids,
                "representative_ids": p.item_ids[:representatives],
                "description": p.description,
                "strategy": p.strategy,
                "supported_by": p.supported_by,
                "shared_cause": p.shared_cause,
                **counts.get(p.name, _empty()),
            }
        )
    return rows


def _empty() -> dict[str, Any]:
    return {"requested": 0, "generated": 0, "accepted": 0, "rejected": {}}


def write_report(out: Path, report: dict[str, Any]) -> None:
    write_json(out / "patterns.json", report)
    atomic_write_text(out / "patterns.md", markdown(report))
    log_table(report)


def complete_report(out: Path, before: list[EvalRecord], after: list[EvalRecord]) -> None:
    """Add validation accuracy before/after the next iteration to ``out``'s report; idempotent."""
    report = score_report(read_json(out / "patterns.json"), before, after)
    write_json(out / "patterns.json", report)
    atomic_write_text(out / "patterns.md", markdown(report))
    log_table(report)


def score_report(report: dict[str, Any], before: list[EvalRecord], after: list[EvalRecord]) -> dict[str, Any]:
    """Each pattern's items (and the whole validation set) scored in ``before`` and ``after``.

    A pattern's items are validation failures of ``before``, so its "before" accuracy is 0 by construction
    whenever they were analysed; error-correcting examples come from training errors and get no score."""
    was = {r.item_id: bool(r.correct) for r in before}
    now = {r.item_id: bool(r.correct) for r in after}
    for pattern in report["patterns"]:
        pattern.update(_scores(pattern["item_ids"], was, now))
    report[VAL_SET] = _scores(list(now), was, now)
    return report


def _scores(item_ids: list[str], was: dict[str, bool], now: dict[str, bool]) -> dict[str, Any]:
    found = [i for i in item_ids if i in was and i in now]  # the same items on both sides: a paired change
    return {
        "val_items": len(found),
        "val_accuracy_before": _share(was, found),
        "val_accuracy_after": _share(now, found),
    }


def _share(correct: dict[str, bool], ids: list[str]) -> float | None:
    return sum(correct[i] for i in ids) / len(ids) if ids else None


TABLE_COLUMNS = ["iteration", "pattern", "size", "requested", "generated", "accepted", "rejected", "strategy"]
SCORE_COLUMNS = ["val_accuracy_before", "val_accuracy_after"]  # added once the next iteration is evaluated


def table_columns(report: dict[str, Any]) -> list[str]:
    return TABLE_COLUMNS + (SCORE_COLUMNS if VAL_SET in report else [])


def table_rows(report: dict[str, Any]) -> list[list[Any]]:
    scored, rows = VAL_SET in report, []
    for p in [*report["patterns"], report["error_correction"]]:
        rejected = ", ".join(f"{k}={v}" for k, v in p["rejected"].items())
        rows.append(
            [
                report["iteration"],
                p["name"],
                p.get("size"),
                p["requested"],
                p["generated"],
                p["accepted"],
                rejected,
                p.get("strategy", ""),
                *([p.get(c) for c in SCORE_COLUMNS] if scored else []),
            ]
        )
    if scored:
        whole = report[VAL_SET]
        rows.append(
            [
                report["iteration"],
                "(validation set)",
                whole["val_items"],
                None,
                None,
                None,
                "",
                "",
                *[whole[c] for c in SCORE_COLUMNS],
            ]
        )
    return rows


def log_table(report: dict[str, Any]) -> None:
    """The report as a wandb table in the cell's run, when the runner opened one (wandb already imported).

    Logged at the augment stage, and again under the same key with the accuracy columns once scored."""
    wandb = sys.modules.get("wandb")
    if wandb is None or getattr(wandb, "run", None) is None:
        return
    table = wandb.Table(columns=table_columns(report), data=table_rows(report))
    log_to_current_run({f"pada/patterns_{report['iteration']}": table})  # never fails the cell


# patterns.md's line for failures.letter_recall: pada's measurement, beside the teacher's patterns
MEASURED_RECALL = "Recall per correct letter over the validation items (measured, not the teacher's)"


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# PaDA-Agent patterns, iteration {report['iteration']}", ""]
    f = report["failures"]
    lines += [
        f"Validation failures: {f['val']} (analysed {f['analysed']}); wrong seed examples: {f['train']}.",
        *([f"Option letters in the validation failures: {f['letters']}."] if f.get("letters") else []),
        *([f"{MEASURED_RECALL}: {f['letter_recall']}."] if f.get("letter_recall") else []),
        _grouping_line(report),
        *_grouping_notes(report),
        "",
    ]
    scored = VAL_SET in report
    if scored:
        whole = report[VAL_SET]
        lines += [
            f"Validation accuracy before → after the next iteration: {_change(whole)} over "
            f"{whole['val_items']} items. A pattern's items are failures of the model before, so its "
            '"before" is 0 by construction.',
            "",
        ]
    head, rule = ("| pattern | size | generated | accepted | rejected |", "|---|---:|---:|---:|---|")
    lines += [head + " val acc before → after |", rule + "---|"] if scored else [head, rule]
    for p in [*report["patterns"], report["error_correction"]]:
        rejected = ", ".join(f"{k} {v}" for k, v in p["rejected"].items()) or "-"
        row = f"| {p['name']}{_no_shared_mark(p)} | {p.get('size', '-')} | {p['generated']} | {p['accepted']} | {rejected} |"
        lines.append(row + f" {_change(p)} |" if scored else row)
    for p in report["patterns"]:
        lines += [
            "",
            f"## {p['name']} ({p['size']} failures)",
            "",
            *_support_lines(p),
            p["description"],
            "",
            f"**Strategy.** {p['strategy'] or '(none)'}",
            "",
            f"Representative failures: {', '.join(p['representative_ids'])}",
        ]
    return "\n".join(lines) + "\n"


NO_SHARED_CAUSE = " (no shared cause)"  # the table's mark on a pattern whose summariser found none


def _no_shared_mark(pattern: dict[str, Any]) -> str:
    return NO_SHARED_CAUSE if pattern.get("shared_cause") is False else ""


def _support_lines(pattern: dict[str, Any]) -> list[str]:
    """Which members share the named cause (pattern_summary.v3; older reports and v2: nothing)."""
    if pattern.get("shared_cause") is False:
        return [
            "**No shared cause.** The summariser found no mistake that two of these failures share "
            f"(it named {len(pattern.get('supported_by') or [])}); the name and strategy describe at most one.",
            "",
        ]
    if pattern.get("supported_by"):
        shared = len(pattern["supported_by"])
        return [f"Shared by {shared} of {pattern['size']}: {', '.join(pattern['supported_by'])}.", ""]
    return []


def _grouping_notes(report: dict[str, Any]) -> list[str]:
    """Why K is smaller than asked for, and how many analyses lost text before embedding (older reports: none)."""
    grouping, notes = report["grouping"], []
    if grouping.get("note"):
        notes.append(f"Note: {grouping['note']}.")
    if grouping.get("embedding_truncated"):
        notes.append(
            f"Warning: {grouping['embedding_truncated']} analyses were cut at the embedder's "
            "max_seq_length before clustering."
        )
    return notes


def _grouping_line(report: dict[str, Any]) -> str:
    """How the failures were grouped; with no pattern, why: nothing to analyse, or no analysis parsed."""
    grouping, failures = report["grouping"], report["failures"]
    if grouping["k"] == 0:
        sent = failures.get("sent", failures["analysed"])
        why = (
            f"{sent} failure analyses sent to the teacher, none came back usable"
            if sent
            else "no validation failure to analyse"
        )
        return f"Grouping: {grouping['how']}, K = 0: {why}."
    return f"Grouping: {grouping['how']}, K = {grouping['k']} ({grouping.get('chosen_by') or 'fixed by config'})."


def _change(scores: dict[str, Any]) -> str:
    """``0.000 → 0.750``; ``-`` for a row without scores (error correction, or no item found)."""
    if scores.get("val_accuracy_after") is None:
        return "-"
    return f"{scores['val_accuracy_before']:.3f} → {scores['val_accuracy_after']:.3f}"
