"""``pada status RUNS_DIR``: each cell of the latest SLURM sweep as done / running / failed / not started.

Reads the sweep record the SLURM launcher writes (``RUNS_DIR/_sweeps/<time>-<job>.json``), each cell's
``results.json``, ``squeue`` (and ``sacct`` when accounting is on), and a failed job's stderr log. Without
a sweep record (local launchers) it lists the cell dirs found: done, or unfinished with the last done stage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pada.errors import PadaError
from pada.progress import percent
from pada.run import cluster

RUNNING = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT", "RESIZING"})


def latest_sweep(runs_dir: Path) -> Path | None:
    records = sorted((runs_dir / "_sweeps").glob("*.json"))
    return records[-1] if records else None


def cell_line(cell: dict[str, Any], states: dict[str, str] | None) -> tuple[str, str]:
    """(status, detail) of one submitted cell."""
    results = Path(cell["run_dir"]) / "results.json"
    if results.is_file():
        accuracy = json.loads(results.read_text())["metrics"]["test"]["accuracy"]
        return "done", f"test accuracy {percent(accuracy)}"
    job = cell["job_id"]
    if states is None:
        return "unknown", f"job {job}: squeue does not answer"
    state = states.get(job)
    if state in RUNNING:
        return "running", f"job {job} ({state}); log {cell['stderr']}"
    if state in cluster.ALIVE_STATES:
        return "not started", f"job {job} {state}"
    state = state or cluster.accounting_state(job) or "not in squeue"
    log = Path(cell["stderr"])
    last = cluster.last_error_line(log.read_text(errors="replace")) if log.is_file() else "no log yet"
    return "failed", f"job {job} {state}: {last}; log {log}"


def _unrecorded(runs_dir: Path) -> list[tuple[str, str, str]]:
    rows = []
    for cell in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if (cell / "results.json").is_file():
            rows.append(("done", cell.name, ""))
            continue
        stages = sorted((p.name for p in cell.glob("*/.done.json")), key=lambda p: (cell / p).stat().st_mtime)
        rows.append(
            ("unfinished", cell.name, f"last done stage: {Path(stages[-1]).parent if stages else 'none'}")
        )
    return rows


def status(runs_dir: Path, sweep: Path | None = None) -> list[tuple[str, str, str]]:
    """(status, cell name, detail) per cell; raises PadaError for a runs dir that does not exist."""
    runs_dir = Path(runs_dir).expanduser().resolve()
    if not runs_dir.is_dir():
        raise PadaError(f"runs dir {runs_dir} does not exist")
    sweep = sweep or latest_sweep(runs_dir)
    if sweep is None:
        return _unrecorded(runs_dir)
    cells = json.loads(Path(sweep).read_text())["cells"]
    states = cluster.job_states([c["job_id"] for c in cells])
    return [(state, c["name"], detail) for c in cells for state, detail in [cell_line(c, states)]]


def main(runs_dir: Path, sweep: Path | None) -> int:
    """Print one line per cell and a count; exit 1 when a cell failed."""
    rows = status(runs_dir, sweep)
    record = sweep or latest_sweep(Path(runs_dir).expanduser().resolve())
    print(f"sweep: {record}" if record else f"no SLURM sweep recorded under {runs_dir}/_sweeps: cell dirs")
    for state, name, detail in rows:
        print(f"{state:<12} {name}  {detail}".rstrip())
    counts: dict[str, int] = {}
    for state, _, _ in rows:
        counts[state] = counts.get(state, 0) + 1
    print(", ".join(f"{n} {s}" for s, n in counts.items()) or "no cells")
    return 1 if counts.get("failed") else 0
