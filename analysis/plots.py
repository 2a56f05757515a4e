"""Figures (matplotlib, Agg): accuracy vs budget, per-iteration validation curves, per-pattern accuracy.

Each figure is written as PNG and PDF; titles carry the SIMULATION / FIXTURE label when the data do.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: analysis runs on login nodes and in CI

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator, ScalarFormatter  # noqa: E402

from analysis.collect import Collected  # noqa: E402
from analysis.rows import merged  # noqa: E402
from analysis.tables import row_label, summarize  # noqa: E402

FORMATS = ("png", "pdf")


def _label(collected: Collected) -> str:
    return ("SIMULATION " if collected.simulation else "") + ("FIXTURE " if collected.fixture else "")


def file_stem(stem: str) -> str:
    """``stem`` as a file name: each run of characters other than letters, digits, ``.``, ``_`` and ``-`` (a
    row label that names differing config values can hold "/", spaces, "=" or "…") becomes ``_``, and a
    changed stem gets 8 hex digits of its sha256 so two labels never share a file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_.")
    return stem if safe == stem else f"{safe}-{hashlib.sha256(stem.encode()).hexdigest()[:8]}"


def _save(fig: plt.Figure, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(stem)
    for ax in fig.axes:
        ax.title.set_fontsize(9)  # titles carry the data label and the column name: keep them on one line
    paths = []
    for fmt in FORMATS:
        path = out / f"{stem}.{fmt}"
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        tmp.replace(path)
        paths.append(path)
    plt.close(fig)
    return paths


def _dodge(k: int, n: int, step: float) -> float:
    """Offset of the k-th of n series, centred on 0: points of one x side by side, not on top of each other."""
    return (k - (n - 1) / 2) * step


def _percent_limits(ax: plt.Axes, axis: str = "y") -> None:
    """An accuracy axis stays within 0-100 %; a flat one (every value equal) shows the whole range."""
    get, set_ = (ax.get_ylim, ax.set_ylim) if axis == "y" else (ax.get_xlim, ax.set_xlim)
    lo, hi = get()
    set_((0, 100) if hi - lo < 1 else (max(lo, 0), min(hi, 100)))


def _legend_outside(ax: plt.Axes, reverse: bool = False, **kwargs) -> None:
    """Right of the axes: inside, it covered points or error bars (savefig's tight bbox widens the figure).
    ``reverse``: for horizontal bars, whose first series is drawn lowest."""
    handles, labels = ax.get_legend_handles_labels()
    if reverse:
        handles, labels = handles[::-1], labels[::-1]
    ax.legend(
        handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, **kwargs
    )


def accuracy_vs_budget(collected: Collected, out: Path) -> list[Path]:
    summary = summarize(collected).dropna(subset=["mean"])
    paths = []
    for task, rows in summary.groupby("task", sort=True):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        n = rows["method"].nunique()
        for k, (method, group) in enumerate(rows.groupby("method", sort=True)):
            group = group.sort_values("budget")
            x = group["budget"] * 2 ** _dodge(k, n, 0.04)  # log axis: a multiplicative nudge
            ax.errorbar(
                x,
                group["mean"] * 100,
                yerr=group["std"].fillna(0) * 100,
                marker="o",
                capsize=3,
                label=row_label(method, merged(collected.displays)),
            )
        _percent_limits(ax)
        ax.set_xscale("log", base=2)
        ax.set_xlim(
            rows["budget"].min() / 1.5, rows["budget"].max() * 1.5
        )  # one budget: not a zoom on the nudge
        ax.xaxis.set_major_locator(FixedLocator(sorted(rows["budget"].unique())))  # the budgets run, not 2^k
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set(
            xlabel="seed budget (examples)",
            ylabel="test accuracy (%)",
            title=f"{_label(collected)}{task}: mean ± std (ddof=1) over seeds",
        )
        _legend_outside(ax)
        paths += _save(fig, out, f"accuracy_vs_budget_{task}")
    return paths


def iteration_curves(collected: Collected, out: Path) -> list[Path]:
    rows = collected.iterations.dropna(subset=["val_accuracy"])
    paths = []
    for (task, budget), group in rows.groupby(["task", "budget"], sort=True):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        n = group["method"].nunique()
        for k, (method, by_method) in enumerate(group.groupby("method", sort=True)):
            curve = by_method.groupby("iteration")["val_accuracy"].agg(["mean", "std"]).reset_index()
            ax.errorbar(
                curve["iteration"] + _dodge(k, n, 0.04),
                curve["mean"] * 100,
                yerr=curve["std"].fillna(0) * 100,
                marker="o",
                capsize=3,
                label=row_label(method, merged(collected.displays)),
            )
        _percent_limits(ax)
        ax.set(
            xlabel="iteration (0 = trained on the seed set only)",
            ylabel="validation accuracy (%)",
            title=f"{_label(collected)}{task} b{budget}: validation accuracy, mean ± std over seeds",
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are whole numbers: no 0.5 ticks
        _legend_outside(ax)
        paths += _save(fig, out, f"iterations_{task}_b{budget}")
    return paths


def pattern_accuracy(collected: Collected, out: Path) -> list[Path]:
    """Bars per pattern and iteration; skipped (no files) when no method wrote patterns.json."""
    rows = collected.patterns.dropna(subset=["accuracy"])
    paths = []
    for (task, budget, method), group in rows.groupby(["task", "budget", "method"], sort=True):
        table = group.groupby(["pattern", "iteration"])["accuracy"].mean().unstack("iteration") * 100
        table.index = [textwrap.fill(str(name), 32) for name in table.index]  # long names: wrap, not squeeze
        fig, ax = plt.subplots(figsize=(5, max(3.5, 0.5 * len(table) + 1)))
        table.plot.barh(ax=ax)
        _percent_limits(ax, "x")
        ax.set(
            xlabel="accuracy on the pattern's items at the next iteration (%)",
            ylabel="",
            title=f"{_label(collected)}{task} b{budget} {row_label(method, merged(collected.displays))}: per-pattern accuracy",
        )
        _legend_outside(ax, reverse=True, title="found at iteration")
        paths += _save(fig, out, f"patterns_{task}_b{budget}_{method}")
    return paths


def all_plots(collected: Collected, out: Path) -> list[Path]:
    return (
        accuracy_vs_budget(collected, out)
        + iteration_curves(collected, out)
        + pattern_accuracy(collected, out)
    )
