"""Scan a runs directory (or a wandb project) into tidy tables.

``cells``: one row per (cell, metric): task, budget, method, seed, metric, value, n, status, reason.
A cell dir without results.json is kept with status ``incomplete`` (never dropped) so tables can show it.
``items``: one row per (cell, test item): the per-item correctness the paired tests need, the extracted
answer ("" when none was extracted) and the gold answer, as text.
``iterations``: per-iteration validation accuracy; ``patterns``: per-pattern accuracy when reported.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.rows import from_results, untrained
from pada.display import Display
from pada.errors import PadaError
from pada.io import read_json, read_jsonl, stable_hash
from pada.run.identity import configuration_of, differing_keys, flatten
from pada.run.topup import TARGET_REACHED

log = logging.getLogger("pada")

# runs/<task>-b<budget>-<method>-s<seed>-<hash>: the name the runner gives each cell (pada.run.naming.cell_name).
CELL_DIR = re.compile(r"^(?P<task>.+)-b(?P<budget>\d+)-(?P<method>.+)-s(?P<seed>\d+)-(?P<hash>[0-9a-f]{10})$")
KEYS = ["task", "budget", "method", "seed"]
CELL_COLUMNS = [*KEYS, "cell", "metric", "value", "n", "status", "reason", "simulation", "fixture", "config"]
UNCACHED_DOLLARS = "teacher/dollars_uncached"  # teacher_usage.uncached.dollars: independent of cache state
# teacher_usage.total counts behind Table 2's teacher-failure column (pada.teacher.usage.RoleUsage)
TEACHER_FAILURES = ("requests", "parse_failures", "reasks", "truncated")
SHOWN_KEYS = 3  # differing config keys spelled out in a row label; more are counted
ITEM_COLUMNS = [*KEYS, "split", "item_id", "correct", "answer", "gold"]
ITER_COLUMNS = [*KEYS, "iteration", "val_accuracy", "train_examples"]
PATTERN_COLUMNS = [*KEYS, "iteration", "pattern", "n", "accuracy"]


@dataclass
class Collected:
    cells: pd.DataFrame
    items: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ITEM_COLUMNS))
    iterations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ITER_COLUMNS))
    patterns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PATTERN_COLUMNS))
    # method name -> its display node as the finished cells saved it (analysis/rows.py adds the shipped ones)
    displays: dict[str, Display] = field(default_factory=dict)
    # methods whose cells saved method.train=false (scored untrained: seed-independent under greedy eval)
    untrained: set[str] = field(default_factory=set)

    @property
    def simulation(self) -> bool:
        return bool(self.cells["simulation"].fillna(False).astype(bool).any())

    @property
    def fixture(self) -> bool:
        return bool(self.cells["fixture"].fillna(False).astype(bool).any())

    def save(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("cells", "items", "iterations", "patterns"):
            _atomic_parquet(getattr(self, name), out / f"{name}.parquet")


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def parse_cell_dir(name: str) -> dict[str, Any] | None:
    match = CELL_DIR.match(name)
    if match is None:
        return None
    return {
        "task": match["task"],
        "budget": int(match["budget"]),
        "method": match["method"],
        "seed": int(match["seed"]),
    }


def teacher_dollars(usage: dict[str, Any]) -> float:
    """Total teacher spend of one cell: ``total.dollars`` when logged, else the sum over roles."""
    if not usage:
        return 0.0
    if isinstance(usage.get("total"), dict) and "dollars" in usage["total"]:
        return float(usage["total"]["dollars"] or 0.0)
    return float(sum((v or {}).get("dollars", 0.0) or 0.0 for v in usage.values() if isinstance(v, dict)))


def _flatten(prefix: str, obj: Any) -> dict[str, float]:
    if isinstance(obj, dict):
        out: dict[str, float] = {}
        for key, value in obj.items():
            out.update(_flatten(f"{prefix}/{key}", value))
        return out
    is_number = isinstance(obj, int | float) and not isinstance(obj, bool)
    return {prefix: float(obj)} if is_number else {}


def _metric_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = results.get("metrics", {})
    rows = []
    for split in ("test", "val"):
        if split in metrics:
            m = metrics[split]
            value = m.get("accuracy")
            rows.append(
                {
                    "metric": f"{split}/accuracy",
                    "value": math.nan if value is None else value,
                    "n": m.get("n"),
                }
            )
    for name, value in _flatten("lm_eval", metrics.get("lm_eval", {})).items():
        rows.append({"metric": name, "value": value, "n": None})
    usage = results.get("teacher_usage") or {}
    rows.append({"metric": "teacher/dollars", "value": teacher_dollars(usage), "n": None})
    uncached = usage.get("uncached") if isinstance(usage.get("uncached"), dict) else {}
    if uncached.get("dollars") is not None:  # what the calls cost without the cache (engineer fair's field)
        rows.append({"metric": UNCACHED_DOLLARS, "value": float(uncached["dollars"]), "n": None})
    total = usage.get("total") if isinstance(usage.get("total"), dict) else {}
    if "requests" in total:  # runs older than the per-role counts lack them: no row, no column
        rows += [
            {"metric": f"teacher/{k}", "value": float(total.get(k, 0)), "n": None} for k in TEACHER_FAILURES
        ]
    rows += _budget_rows(results)
    if _augmented(results):  # the method augmented
        rows.append({"metric": "data/synthetic", "value": float(results["data"]["synthetic"]), "n": None})
        rows += [{"metric": k, "value": v, "n": None} for k, v in top_up_counts(results).items()]
    return rows


def top_up_counts(results: dict[str, Any]) -> dict[str, float]:
    """A cell's budget_match top-ups (results.json ``data.top_up``, pada/run/topup.py) as ``top_up/*``
    metrics: ``rounds`` (augment rounds with a target), ``needed`` (of them short after ``propose``),
    ``used`` (top-ups run), ``added`` (examples they kept) and ``stopped/<reason>`` (rounds that stopped so).
    {} when the run does not record it (older than fairness 1.8): not recorded, never 0."""
    record = (results.get("data") or {}).get("top_up")
    if not isinstance(record, dict):
        return {}
    counts = {"top_up/rounds": 0.0, "top_up/needed": 0.0, "top_up/used": 0.0, "top_up/added": 0.0}
    for entry in record.values():
        later = entry.get("per_round", [])[1:]  # round 0 is propose
        counts["top_up/rounds"] += 1
        counts["top_up/needed"] += bool(later) or entry.get("stopped") not in (TARGET_REACHED, None)
        counts["top_up/used"] += entry.get("rounds_used", len(later))
        counts["top_up/added"] += sum(row.get("kept", 0) for row in later)
        if entry.get("stopped") is not None:
            key = f"top_up/stopped/{entry['stopped']}"
            counts[key] = counts.get(key, 0.0) + 1
    return counts


def _budget_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """What a cell spent, for the Table 2 effort columns: synthetic examples (and, for a cell that augmented,
    its synthetic quota), optimizer steps of the tested model, uncached teacher calls and tokens (input +
    output, as from an empty cache). Absent in run dirs older than these fields."""
    rows = []
    steps = results.get("training", {}).get("optimizer_steps", {}).get("tested")
    if "training" in results:
        rows.append({"metric": "budget/synthetic", "value": float(results["data"]["synthetic"]), "n": None})
        quota = synthetic_quota(results)
        if quota is not None and _augmented(results):
            rows.append({"metric": "budget/synthetic_quota", "value": float(quota), "n": None})
    if steps is not None:
        rows.append({"metric": "budget/steps", "value": float(steps), "n": None})
    uncached = results.get("teacher_usage", {}).get("uncached")
    if uncached is not None or "training" in results:
        tokens = (uncached or {}).get("input_tokens", 0) + (uncached or {}).get("output_tokens", 0)
        rows.append({"metric": "budget/teacher_tokens", "value": float(tokens), "n": None})
        calls = float((uncached or {}).get("calls", 0))
        rows.append({"metric": "budget/teacher_calls", "value": calls, "n": None})
    matched = (results.get("teacher_effort") or {}).get("budget") or {}
    for key in ("tokens", "calls"):  # teacher_budget, when the run was effort-matched
        if matched.get(key) is not None:
            rows.append({"metric": f"budget/teacher_{key}_budget", "value": float(matched[key]), "n": None})
    return rows


def _augmented(results: dict[str, Any]) -> bool:
    return any(name.startswith("augment_") for name in results.get("timings", {}))


def synthetic_quota(results: dict[str, Any]) -> int | None:
    """The cell's synthetic quota: ``data.synthetic_quota`` as the runner records it, else (older runs) the
    resolved config's ``synthetic_budget``, else ``budget`` x ``synthetic_per_seed`` (pada.run.fairness's
    rule); None when the cell had none (each method's own rule)."""
    data = results.get("data", {})
    if "synthetic_quota" in data:
        return data["synthetic_quota"]
    config = (results.get("provenance") or {}).get("config")
    if not isinstance(config, dict):
        return None
    if config.get("synthetic_budget") is not None:
        return int(config["synthetic_budget"])
    if config.get("synthetic_per_seed") is not None and config.get("budget") is not None:
        return int(round(config["budget"] * float(config["synthetic_per_seed"])))
    return None


def _unfinished_reason(cell_dir: Path) -> str:
    done = sorted(p.parent.name for p in cell_dir.glob("*/.done.json"))
    partial = sorted(p.name.strip(".").split(".partial")[0] for p in cell_dir.glob(".*.partial*"))
    reason = "no results.json"
    if partial:
        reason += f"; stage {', '.join(partial)} did not finish"
    return reason + (f"; last finished stage {_last_stage(done)}" if done else "; no stage finished")


def _last_stage(done: list[str]) -> str:
    order = {"seed": (0, 0), "test": (10**6, 0)}

    def rank(name: str) -> tuple[int, int]:
        kind, _, i = name.partition("_")
        return order.get(
            name, (int(i) if i.isdigit() else 0, {"train": 1, "eval": 2, "augment": 3}.get(kind, 0))
        )

    return max(done, key=rank)


def _read_cell(cell_dir: Path, keys: dict[str, Any]) -> tuple[list[dict], dict | None]:
    """The metric rows of one cell and its parsed results (None when the cell did not finish)."""
    base = {**keys, "cell": cell_dir.name, "simulation": None, "fixture": None}
    path = cell_dir / "results.json"
    if not path.is_file():
        return [
            {
                **base,
                "metric": "test/accuracy",
                "value": math.nan,
                "n": None,
                "status": "incomplete",
                "reason": _unfinished_reason(cell_dir),
            }
        ], None
    try:
        results = read_json(path)
    except (OSError, json.JSONDecodeError) as error:
        return [
            {
                **base,
                "metric": "test/accuracy",
                "value": math.nan,
                "n": None,
                "status": "failed",
                "reason": f"unreadable results.json ({error})",
            }
        ], None
    base.update({k: results.get("cell", {}).get(k, v) for k, v in keys.items()})
    base.update(
        simulation=bool(results.get("simulation", False)), fixture=bool(results.get("fixture", False))
    )
    rows = []
    for row in _metric_rows(results):
        missing = row["metric"] == "test/accuracy" and math.isnan(row["value"])
        rows.append(
            {
                **base,
                **row,
                "status": "failed" if missing else "ok",
                "reason": "empty test set" if missing else "",
            }
        )
    return rows, results


def _item_rows(cell_dir: Path, keys: dict[str, Any]) -> list[dict[str, Any]]:
    path = cell_dir / "test" / "test.jsonl"
    if not path.is_file():
        return []
    return [
        {
            **keys,
            "split": "test",
            "item_id": r["item_id"],
            "correct": bool(r["correct"]),
            "answer": "" if r.get("extracted") is None else str(r["extracted"]),
            "gold": str(r.get("gold", "")),
        }
        for r in read_jsonl(path)
    ]


def _iteration_rows(results: dict[str, Any], keys: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **keys,
            "iteration": it["iteration"],
            "val_accuracy": it.get("val_accuracy"),
            "train_examples": it.get("train_examples"),
        }
        for it in results.get("iterations", [])
    ]


def _pattern_accuracy(entry: dict[str, Any], later_val: dict[str, bool]) -> tuple[int | None, float | None]:
    if "val_accuracy_after" in entry:  # scored by the method itself once eval_<i+1> finished
        after = entry["val_accuracy_after"]
        return (entry.get("val_items"), float(after)) if after is not None else (None, None)
    if entry.get("accuracy") is not None:
        return entry.get("n"), float(entry["accuracy"])
    ids = [i for i in entry.get("item_ids", []) if i in later_val]
    return (len(ids), sum(later_val[i] for i in ids) / len(ids)) if ids else (None, None)


def _pattern_rows(cell_dir: Path, keys: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows from ``augment_<i>/patterns.json`` (written by the pada method; absent for other methods).

    Each pattern gives ``val_accuracy_after`` (the pada method scores its report after the next
    evaluation), ``accuracy``, or only ``item_ids`` (the validation items it was mined from; older run dirs),
    scored here against the next iteration's ``eval_<i+1>/val.jsonl``: did the retrained model fix them?
    """
    rows = []
    for path in sorted(cell_dir.glob("augment_*/patterns.json")):
        i = int(path.parent.name.split("_")[1])
        doc = read_json(path)
        entries = doc.get("patterns", []) if isinstance(doc, dict) else doc
        val_path = cell_dir / f"eval_{i + 1}" / "val.jsonl"
        later = {r["item_id"]: bool(r["correct"]) for r in read_jsonl(val_path)} if val_path.is_file() else {}
        for k, entry in enumerate(entries):
            n, acc = _pattern_accuracy(entry, later)
            name = entry.get("name") or entry.get("label") or str(entry.get("id", k))
            rows.append({**keys, "iteration": i, "pattern": name, "n": n, "accuracy": acc})
    return rows


def _config_label(method: str, config: dict[str, Any] | None, differing: list[str]) -> str:
    """``sft [trainer.max_steps=5]``: the method and the config keys that set this configuration apart."""
    flat = flatten(config) if config is not None else {}
    shown = [
        f"{k}={_short(flat.get(k, '<absent>'))}" if config is not None else "config unknown"
        for k in differing[:SHOWN_KEYS]
    ]
    more = f"; +{len(differing) - SHOWN_KEYS} more keys" if len(differing) > SHOWN_KEYS else ""
    return f"{method} [{'; '.join(dict.fromkeys(shown))}{more}]"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 16 else f"{text[:12]}…"  # a sha256 or a long prompt: enough to tell apart


def configuration_labels(found: list[tuple[str, dict[str, Any], dict | None]]) -> dict[str, tuple[str, str]]:
    """``{cell name: (method label, config hash)}`` for finished cells, grouped by configuration.

    ``found``: (cell name, keys, results) per cell. A configuration is the cell identity minus the seed
    (pada/run/identity.py). Where one (task, budget, method) holds several configurations, each becomes its
    own row, labelled with the keys that differ, so they are never counted as seeds of one another. The
    same seed twice in one configuration is an error (PadaError naming both cells).
    """
    groups: dict[tuple, dict[str, list]] = {}
    for name, keys, results in found:
        if results is None:
            continue
        config = configuration_of(results)
        digest = stable_hash(config)[:10] if config is not None else "unknown"
        by_config = groups.setdefault((keys["task"], keys["budget"], keys["method"]), {})
        by_config.setdefault(digest, []).append((name, keys["seed"], config))
    labels = {}
    for (task, budget, method), by_config in groups.items():
        configs = [cells[0][2] for cells in by_config.values()]
        differing = differing_keys([c or {} for c in configs]) if len(by_config) > 1 else []
        for digest, cells in by_config.items():
            label = (
                _config_label(method, cells[0][2], differing) if differing or len(by_config) > 1 else method
            )
            seeds: dict[int, str] = {}
            for name, seed, _ in cells:
                if seed in seeds:
                    raise PadaError(
                        f"seed {seed} appears twice in one configuration of {label} on {task} b{budget}: "
                        f"cells {seeds[seed]} and {name}; remove one of them"
                    )
                seeds[seed] = name
                labels[name] = (label, digest)
    return labels


def collect_runs(runs_dir: Path) -> Collected:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise PadaError(f"runs dir {runs_dir} does not exist; pass the paths.runs_dir your runs wrote to")
    found = []
    for cell_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        keys = parse_cell_dir(cell_dir.name)
        if keys is None:
            if (
                cell_dir / "results.json"
            ).is_file():  # a result we cannot place: say so, never drop it quietly
                log.warning("skipping %s: results.json in a dir not named like a cell", cell_dir)
            continue  # not a cell (e.g. hydra's multirun bookkeeping)
        rows, results = _read_cell(cell_dir, keys)
        if results is not None:  # the keys the cell itself recorded win over its dir name
            keys = {k: rows[0][k] for k in KEYS}
        found.append((cell_dir, keys, rows, results))
    labels = configuration_labels([(d.name, k, r) for d, k, _, r in found])
    cells, items, iterations, patterns = [], [], [], []
    for cell_dir, keys, rows, results in found:
        label, config = labels.get(cell_dir.name, (keys["method"], None))
        keys = {**keys, "method": label}
        cells += [{**row, "method": label, "config": config} for row in rows]
        if results is not None:
            items += _item_rows(cell_dir, keys)
            iterations += _iteration_rows(results, keys)
            patterns += _pattern_rows(cell_dir, keys)
    if not cells:
        raise PadaError(f"no cell dirs (<task>-b<budget>-<method>-s<seed>-<hash>) under {runs_dir}")
    return Collected(
        cells=pd.DataFrame(cells, columns=CELL_COLUMNS),
        items=pd.DataFrame(items, columns=ITEM_COLUMNS),
        iterations=pd.DataFrame(iterations, columns=ITER_COLUMNS),
        patterns=pd.DataFrame(patterns, columns=PATTERN_COLUMNS),
        displays=saved_displays([results for _, _, _, results in found if results is not None]),
        untrained={name for _, _, _, r in found if r is not None and (name := untrained(r)) is not None},
    )


def saved_displays(results: list[dict[str, Any]]) -> dict[str, Display]:
    """Each method's display from its finished cells' saved configs; where cells of one method disagree
    (a label changed between runs: it is not part of the identity), the last cell in name order wins, and
    the change is logged."""
    out: dict[str, Display] = {}
    for entry in filter(None, map(from_results, results)):
        name, display = entry
        if name in out and out[name] != display:
            log.warning(
                "method %s: its cells saved different displays (%s, %s); using the later",
                name,
                out[name],
                display,
            )
        out[name] = display
    return out
