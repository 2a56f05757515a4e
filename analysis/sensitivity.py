"""Where the SIMULATION's result comes from (issue 28): PaDA-Agent's lead over the equal-information control
in each condition `make demo` runs, as a small table beside Table 2.

A condition is a runs dir holding the ``role: ours`` method and a ``role: control`` method (sft_val) on the
same seeds: the demo as built, the demo with uninformative error analyses (``teacher.analysis_fidelity=0``)
and a world with one hidden group (targeting cannot help). Each row: both means, the paired Δ with its
two-level bootstrap CI, p = max(bootstrap p, paired-t p) as in Table 2, and the paired t's minimum
detectable Δ at 80% power (α = 0.05: each condition is its own question, not a † claim), with the setting
each condition's cells actually ran (read from their saved configs, not from the condition's name).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import rows as row_rules
from analysis import tables
from analysis.collect import collect_runs
from pada.errors import PadaError
from pada.io import atomic_write_text, read_json

CAPTION = (
    "SIMULATION (not a measured result). Sensitivity: {ours}'s lead over the equal-information control in "
    "each condition, test accuracy (%) mean ± std over seeds; Δ in points, paired on seeds and test items, "
    "95% two-level bootstrap CI; p = max(bootstrap p, paired-t p); MDE: the Δ a paired t detects with 80% "
    "power at α = 0.05 from the seed sd of the per-seed differences. Analysis fidelity: the share of the "
    "oracle's error analyses that read the failed item (teacher.analysis_fidelity); hidden groups: the "
    "world's skill × phrasing × magnitude groups with items. In the simulated world an analysis names the "
    "failed item's hidden group in the words the generator reads back, so the main lead is the mechanism "
    "the paper claims, supplied by construction; the controls show how much of it survives without it."
)


def parse_condition(text: str) -> tuple[str, Path]:
    """``NAME=RUNS_DIR`` -> (name, path); PadaError (one line) for anything else."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise PadaError(f"--sensitivity takes NAME=RUNS_DIR, got {text!r}")
    return name.strip(), Path(path.strip())


def _setting(runs_dir: Path, method: str) -> str:
    """The analysis fidelity and hidden-group count the method's finished cells ran with."""
    seen = set()
    for results_path in sorted(runs_dir.glob(f"*-{method}-s*-*/results.json")):
        config = (read_json(results_path).get("provenance") or {}).get("config") or {}
        fidelity = (config.get("teacher") or {}).get("analysis_fidelity")
        seen.add((fidelity, _groups((config.get("task") or {}).get("frequencies"))))
    return "; ".join(
        f"fidelity {'—' if f is None else f}, {'—' if g is None else g} hidden group{'s' * (g != 1)}"
        for f, g in sorted(seen, key=str)
    )


def _groups(frequencies: dict[str, Any] | None) -> int | None:
    if not frequencies:
        return None
    counts = [
        sum(1 for v in (values.values() if isinstance(values, dict) else values) if v)
        for values in frequencies.values()
    ]
    return math.prod(counts)


def condition_rows(name: str, runs_dir: Path, rng: np.random.Generator, n_resamples: int) -> list[dict]:
    """One row per (column, control) of one condition's runs dir; PadaError when it lacks either method."""
    collected = collect_runs(runs_dir)
    layout = tables.layout_of(collected)
    found = set(collected.cells["method"])
    controls = sorted(m for m in found if row_rules.display(layout.displays, m).role == "control")
    if layout.focus not in found or not controls:
        raise PadaError(
            f"sensitivity condition '{name}' ({runs_dir}) needs finished cells of the 'ours' method and of a "
            f"control (display.role=control, e.g. sft_val); found {', '.join(sorted(found))}"
        )
    comparisons = tables.with_power(tables.compare(collected, layout.focus, controls, rng, n_resamples), 1)
    means = tables.summarize(collected).set_index(["task", "budget", "method"])
    out = []
    for _, pair in comparisons.iterrows():
        ours, control = (
            means.loc[(pair["task"], pair["budget"], m)] for m in (layout.focus, pair["baseline"])
        )
        out.append(
            {
                "condition": name,
                "setting": _setting(runs_dir, layout.focus),
                "column": tables.column_label(pair["task"], int(pair["budget"])),
                "seeds": int(pair["n_seeds"]),
                "ours": _pm(ours),
                "control": f"{_pm(control)} ({layout.label(pair['baseline'])})",
                "delta": f"{pair['diff'] * 100:+.1f} [{pair['ci_low'] * 100:+.1f}, {pair['ci_high'] * 100:+.1f}]",
                "p": tables.combined_p(pair.to_frame().T).iloc[0],
                "mde": pair.get("mde_80", float("nan")),
                "detectable": bool(pair.get("detectable", False)),
                "label": layout.label(layout.focus),
            }
        )
    return out


def _pm(row: pd.Series) -> str:
    std = row["std"]
    return f"{row['mean'] * 100:.1f}" + ("" if not np.isfinite(std) else f" ± {std * 100:.1f}")


def sensitivity(
    conditions: list[tuple[str, Path]], rng: np.random.Generator, n_resamples: int
) -> pd.DataFrame:
    """The sensitivity table: one row per condition, column and control (see the module docstring)."""
    return pd.DataFrame([r for name, d in conditions for r in condition_rows(name, d, rng, n_resamples)])


def render(frame: pd.DataFrame, tablefmt: str = "pipe") -> str:
    """The table with its caption (``tablefmt``: "pipe" for Markdown, "simple" for a terminal)."""
    shown = pd.DataFrame(
        {
            "Condition": frame["condition"],
            "Setting": frame["setting"],
            "Column": frame["column"],
            "Seeds": frame["seeds"],
            frame["label"].iloc[0]: frame["ours"],
            "Control": frame["control"],
            "Δ [95% CI]": frame["delta"],
            "p": [f"{p:.3g}" for p in frame["p"]],
            "MDE 80%": [_mde(m, d) for m, d in zip(frame["mde"], frame["detectable"], strict=True)],
        }
    )
    caption = CAPTION.format(ours=frame["label"].iloc[0])
    return f"{caption}\n\n{shown.to_markdown(index=False, tablefmt=tablefmt)}\n"


def _mde(mde: float, detectable: bool) -> str:
    if not np.isfinite(mde):
        return "—"
    return f"{mde * 100:.1f}" + ("" if detectable else f"; {tables.NOT_DETECTABLE}")


def write(
    conditions: list[tuple[str, Path]], out: Path, rng: np.random.Generator, n_resamples: int
) -> list[Path]:
    """sensitivity.{md,txt,csv} under ``out``; returns their paths."""
    frame = sensitivity(conditions, rng, n_resamples)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        out / "sensitivity.md": render(frame, "pipe"),
        out / "sensitivity.txt": render(frame, "simple"),
        out / "sensitivity.csv": frame.drop(columns=["label"]).to_csv(index=False, float_format="%.6g"),
    }
    for path, text in paths.items():
        atomic_write_text(path, text)
    return list(paths)
