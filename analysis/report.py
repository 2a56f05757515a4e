"""``pada analyze``: collect → parquet → Table 2, ablation, comparisons (MD/TeX/CSV) → plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis import plots, render, tables
from analysis.collect import Collected, collect_runs
from analysis.wandb_source import collect_wandb
from pada.errors import PadaError
from pada.io import atomic_write_text

N_RESAMPLES = 10_000  # bootstrap resamples: MC error of a p near 0.05 is ~0.002, well below the threshold
SEED = 0  # the bootstrap's Generator seed; stated with the outputs so they regenerate exactly


def load(runs_dir: Path | None, wandb_project: str | None) -> Collected:
    if runs_dir is None and wandb_project is None:
        raise PadaError("nothing to analyze: pass a runs dir or --wandb-project")
    if runs_dir is not None:
        return collect_runs(runs_dir)  # per-item predictions live only on disk: prefer it when given
    return collect_wandb(wandb_project)


def left_out(collected: Collected, built: list[tables.Table]) -> list[str]:
    """One line per cell that no table's means count: unfinished or failed (with the reason), or of a
    method (configuration) that is a row of no table."""
    rows = {row for table in built for row in table.rows}
    cells = collected.cells[collected.cells["metric"] == "test/accuracy"].sort_values("cell")
    lines = []
    for _, cell in cells.iterrows():
        if cell["status"] != "ok":
            lines.append(f"{cell['cell']}: {cell['status']}: {cell['reason']}")
        elif cell["method"] not in rows:
            lines.append(
                f"{cell['cell']}: method {cell['method']} is a row of no table "
                "(rows come from each method's display node: conf/method/*.yaml, analysis/rows.py)"
            )
    return lines


def analyze(
    runs_dir: Path | None,
    out: Path,
    wandb_project: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    with_plots: bool = True,
) -> dict[str, list[Path]]:
    if n_resamples < 100:
        raise PadaError(f"--resamples {n_resamples} is too few for a p-value; use at least 1000")
    collected = load(runs_dir, wandb_project)
    out = Path(out)
    collected.save(out / "data")
    rng = np.random.default_rng(seed)
    written = {"data": sorted((out / "data").glob("*.parquet"))}
    built = [tables.table2(collected, rng, n_resamples), tables.ablation(collected, rng, n_resamples)]
    for table in filter(None, built):
        written[table.name] = render.write_table(table, out)
    lines = left_out(collected, [t for t in built if t is not None])
    atomic_write_text(out / "left_out.txt", "".join(f"{line}\n" for line in lines))
    written["left_out"] = [out / "left_out.txt"]
    for line in lines:  # every cell that no table mean counts, and why
        print(f"left out: {line}")
    if with_plots:
        written["plots"] = plots.all_plots(collected, out / "plots")
    return written
