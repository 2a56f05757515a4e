"""The per-iteration patterns report: ``patterns.json`` (read by the analysis package) and ``patterns.md``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pada.agent.patterns import Pattern
from pada.io import atomic_write_text, write_json


def pattern_rows(patterns: list[Pattern], counts: dict[str, dict], representatives: int) -> list[dict]:
    rows = []
    for p in patterns:
        rows.append({
            "name": p.name, "size": len(p.item_ids), "item_ids": p.item_ids,
            "representative_ids": p.item_ids[:representatives], "description": p.description,
            "strategy": p.strategy, **counts.get(p.name, _empty()),
        })  # fmt: skip
    return rows


def _empty() -> dict[str, Any]:
    return {"requested": 0, "generated": 0, "accepted": 0, "rejected": {}}


def write_report(out: Path, report: dict[str, Any]) -> None:
    write_json(out / "patterns.json", report)
    atomic_write_text(out / "patterns.md", markdown(report))
    log_table(report)


TABLE_COLUMNS = ["iteration", "pattern", "size", "requested", "generated", "accepted", "rejected", "strategy"]


def table_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for p in [*report["patterns"], report["error_correction"]]:
        rejected = ", ".join(f"{k}={v}" for k, v in p["rejected"].items())
        rows.append([report["iteration"], p["name"], p.get("size"), p["requested"], p["generated"],
                     p["accepted"], rejected, p.get("strategy", "")])  # fmt: skip
    return rows


def log_table(report: dict[str, Any]) -> None:
    """The report as a wandb table in the cell's run, when the runner opened one (wandb already imported)."""
    wandb = sys.modules.get("wandb")
    if wandb is None or getattr(wandb, "run", None) is None:
        return
    table = wandb.Table(columns=TABLE_COLUMNS, data=table_rows(report))
    wandb.run.log({f"pada/patterns_{report['iteration']}": table})


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# PaDA-Agent patterns, iteration {report['iteration']}", ""]
    f = report["failures"]
    lines += [f"Validation failures: {f['val']} (analysed {f['analysed']}); wrong seed examples: {f['train']}.",
              f"Grouping: {report['grouping']['how']}, K = {report['grouping']['k']}"
              f" ({report['grouping'].get('chosen_by') or 'fixed by config'}).", ""]  # fmt: skip
    lines += ["| pattern | size | generated | accepted | rejected |", "|---|---:|---:|---:|---|"]
    for p in [*report["patterns"], report["error_correction"]]:
        rejected = ", ".join(f"{k} {v}" for k, v in p["rejected"].items()) or "-"
        lines.append(
            f"| {p['name']} | {p.get('size', '-')} | {p['generated']} | {p['accepted']} | {rejected} |"
        )
    for p in report["patterns"]:
        lines += ["", f"## {p['name']} ({p['size']} failures)", "", p["description"], "",
                  f"**Strategy.** {p['strategy'] or '(none)'}", "",
                  f"Representative failures: {', '.join(p['representative_ids'])}"]  # fmt: skip
    return "\n".join(lines) + "\n"
