"""Table 2 and the ablation table as data: cell summaries, paired comparisons, best/second and markers.

Rendering lives in render.py; this module decides what every cell says, from the statistics of
comparisons.py and the side columns of columns.py (re-exported here: callers import them from tables).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import rows as row_rules
from analysis import stats
from analysis.collect import Collected
from analysis.columns import (
    COST_COLUMN,
    EFFORT_CAPTION,
    EFFORT_COLUMNS,
    FAILURE_CAPTION,
    FAILURE_COLUMN,
    KAPPA_CAPTION,
    STEPS_COLUMN,
    agreement_columns,
    column_label,
    costs,
    effort_columns,
    lm_eval_columns,
    shortfall_note,
    teacher_failures,
    top_up_note,
)
from analysis.comparisons import (
    ALPHA,
    NOT_DETECTABLE,
    combined_p,
    compare,
    comparison_of,
    focus_claims,
    mde_text,
    other_configurations,
    paired_matrices,
    summarize,
    with_claims,
    with_power,
    zero_synthetic,
)
from pada.display import Display

# Re-exported: the analysis, notebooks and tests read these from tables.
__all__ = [
    "COST_COLUMN",
    "EFFORT_COLUMNS",
    "FAILURE_COLUMN",
    "NOT_DETECTABLE",
    "STEPS_COLUMN",
    "Table",
    "TableCell",
    "ablation",
    "column_label",
    "combined_p",
    "compare",
    "layout_of",
    "paired_matrices",
    "row_label",
    "stats",
    "summarize",
    "table2",
    "with_power",
]


REL_ROW, DELTA_ROW, MDE_ROW = "rel_improvement", "delta", "mde"

ROW_LABELS = {
    REL_ROW: "Rel. improvement vs best baseline",
    DELTA_ROW: "Δ vs best baseline [95% CI]",
    MDE_ROW: "Min. detectable Δ, 80% power (points)",
}


@dataclass
class TableCell:
    """One entry of a rendered table (a method × column): mean ± std, or pre-formatted text, its markers
    and note letters. Not the runner's ``pada.run.runner.Cell`` (one experiment cell: task × budget × seed
    × method)."""

    mean: float | None = None  # a fraction; rendered as a percentage
    std: float | None = None
    text: str | None = None  # pre-formatted content (cost, relative improvement)
    marker: bool = False
    notes: list[str] = field(default_factory=list)
    style: str | None = None  # "best" | "second"


@dataclass
class Table:
    name: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], TableCell]
    caption: str
    notes: dict[str, str]
    numbers: pd.DataFrame  # the numeric content, one row per (method, column): the CSV
    comparisons: pd.DataFrame
    displays: dict[str, Display] = field(default_factory=dict)  # row labels (analysis/rows.py)

    def label(self, row: str) -> str:
        return row_label(row, self.displays)

    def labels(self) -> list[str]:
        """The printed row names; two rows with one label (a method composed from another keeps its
        display) are told apart by their method names: ``SFT (dup_seeds)``."""
        labels = [self.label(r) for r in self.rows]
        return [f"{x} ({r})" if labels.count(x) > 1 else x for x, r in zip(labels, self.rows, strict=True)]


@dataclass(frozen=True)
class Layout:
    """What the methods' display nodes decide for one analysis (analysis/rows.py): ``focus``, the method
    every † claim and improvement row is about (None: no claims), and each row's label."""

    focus: str | None
    displays: dict[str, Display]

    def label(self, row: str) -> str:
        return row_label(row, self.displays)


def layout_of(collected: Collected) -> Layout:
    displays = row_rules.merged(collected.displays)
    return Layout(row_rules.focus_of(displays, set(collected.cells["method"])), displays)


def row_label(key: str, displays: dict[str, Display] | None = None) -> str:
    """The row's printed name from its method's display (``displays``; None: the shipped YAMLs'); a
    configuration row keeps its differing keys: ``SFT [trainer.max_steps=5]``."""
    if key in ROW_LABELS:
        return ROW_LABELS[key]
    return row_rules.label(row_rules.merged({}) if displays is None else displays, key)


def _rank_styles(means: dict[str, float]) -> dict[str, str]:
    """Best and second best by mean (ties share a rank)."""
    finite = sorted({m for m in means.values() if np.isfinite(m)}, reverse=True)
    ranks = {v: ("best", "second")[i] for i, v in enumerate(finite[:2])}
    return {k: ranks[v] for k, v in means.items() if v in ranks}


class _Builder:
    def __init__(
        self,
        name: str,
        methods: list[str],
        summary: pd.DataFrame,
        comparisons: pd.DataFrame,
        claims: pd.DataFrame,
        layout: Layout,
    ):
        self.name, self.methods, self.comparisons, self.claims = name, methods, comparisons, claims
        self.layout, self.focus = layout, layout.focus
        self.summary = summary[summary["method"].isin(methods)]
        self.cells: dict[tuple[str, str], TableCell] = {}
        self.notes: dict[str, str] = {}
        self.zero_synthetic: dict[tuple[str, int, str], list[int]] = {}  # flagged in every table
        self.other_configurations: dict[tuple[str, int, str], str] = {}  # noted in every table

    def note(self, text: str) -> str:
        for key, value in self.notes.items():
            if value == text:
                return key
        key = string.ascii_lowercase[len(self.notes) % 26] * (1 + len(self.notes) // 26)
        self.notes[key] = text
        return key

    def accuracy_column(self, task: str, budget: int, mark: str) -> None:
        col = column_label(task, budget)
        rows = self.summary[(self.summary["task"] == task) & (self.summary["budget"] == budget)]
        means = {}
        for method in self.methods:
            hit = rows[rows["method"] == method]
            if hit.empty:
                self.cells[(method, col)] = TableCell(
                    notes=[self.note(f"{self.layout.label(method)}: no run in this column")]
                )
                continue
            r = hit.iloc[0]
            cell = TableCell(
                mean=r["mean"] if r["n_seeds"] else None, std=r["std"] if r["n_seeds"] > 1 else None
            )
            if zero := self.zero_synthetic.get((task, budget, method)):
                cell.notes.append(
                    self.note(
                        f"{self.layout.label(method)}, {col}: seed(s) {', '.join(map(str, zero))} "
                        "added zero synthetic examples (trained on the seed set only)"
                    )
                )
            if r["n_missing"]:
                cell.notes.append(
                    self.note(
                        f"{self.layout.label(method)}, {col}: {r['n_seeds']} of "
                        f"{r['n_seeds'] + r['n_missing']} seeds finished ({r['missing']})"
                    )
                )
            if other := self.other_configurations.get((task, budget, method)):
                cell.notes.append(self.note(f"{self.layout.label(method)}, {col}: {other}"))
            self.cells[(method, col)] = cell
            means[method] = r["mean"]
        for method, style in _rank_styles(means).items():
            self.cells[(method, col)].style = style
        self._mark(task, budget, col, means, mark)

    def _mark(self, task: str, budget: int, col: str, means: dict[str, float], mark: str) -> None:
        if self.claims.empty:
            return
        hits = self.claims[(self.claims["task"] == task) & (self.claims["budget"] == budget)]
        for _, claim in hits.iterrows():
            row = self.focus if mark == "focus" else claim["claim"]
            if (row, col) in self.cells:
                self.cells[(row, col)].marker = bool(claim["marker"])
            if claim["untested"]:
                self.cells[(row, col)].notes.append(
                    self.note(
                        f"{self.layout.label(row)}, {col}: † not tested, no paired per-item predictions of {claim['untested']}"
                    )
                )

    def improvement_rows(self, task: str, budget: int) -> None:
        col = column_label(task, budget)
        means = {m: self.cells[(m, col)].mean for m in self.methods if self.cells[(m, col)].mean is not None}
        others = {m: v for m, v in means.items() if m != self.focus}
        self.cells[(MDE_ROW, col)] = TableCell(text=mde_text(self.comparisons, task, budget))
        if self.focus not in means or not others:
            self.cells[(REL_ROW, col)] = self.cells[(DELTA_ROW, col)] = TableCell(text="—")
            return
        best = max(others, key=others.get)
        rel = (means[self.focus] - others[best]) / others[best] * 100 if others[best] else None
        self.cells[(REL_ROW, col)] = TableCell(
            text=f"{rel:+.1f}%" if rel is not None else "n/a (best baseline 0%)"
        )
        row = comparison_of(self.comparisons, task, budget, best)
        if row is None:
            delta = "—"
        elif row["n_seeds"] < 2:  # a bootstrap over items alone leaves out the seed spread the claim rests on
            delta = "— (1 seed)"
        else:
            delta = f"{row['diff'] * 100:+.1f} [{row['ci_low'] * 100:+.1f}, {row['ci_high'] * 100:+.1f}]"
        self.cells[(DELTA_ROW, col)] = TableCell(text=delta)

    def extra_column(self, col: str, values: dict[str, str]) -> None:
        for row in self.methods:
            self.cells[(row, col)] = TableCell(text=values.get(row, ""))

    def flag_shortfalls(self, cells: pd.DataFrame, col: str) -> None:
        """A note on each row whose runs fell short of their synthetic quota (never a quiet mismatch), and
        one on the budget_match top-ups each row's runs needed."""
        for row in self.methods:
            for note in (shortfall_note, top_up_note):
                if text := note(cells, row, self.layout.label(row)):
                    self.cells[(row, col)].notes.append(self.note(text))


def _label_prefix(collected: Collected) -> str:
    prefix = "SIMULATION (not a measured result). " if collected.simulation else ""
    return prefix + ("FIXTURE (made-up numbers). " if collected.fixture else "")


def _caption(
    collected: Collected,
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    claims: pd.DataFrame,
    kind: str,
    focus_label: str,
) -> str:
    finished = summary["n_seeds"][summary["n_seeds"] > 0]
    seeds = sorted(finished.unique().tolist()) or [0]
    n_seeds = f"{seeds[-1]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
    marker = _marker_caption(comparisons, claims, kind, focus_label)
    plural = "" if n_seeds == "1" else "s"
    return (
        f"{_label_prefix(collected)}Test accuracy (%), mean ± sample std (ddof=1) over {n_seeds} seed{plural}. "
        f"Bold: best; underlined: second best per column. {marker} Per-seed exact McNemar, paired t and "
        f"Welch t across seeds are in the comparisons CSV (Wilcoxon is not used: with ≤5 seeds its "
        f"smallest p is 0.0625). Teacher cost: mean uncached teacher cost per run in USD (the calls priced as "
        f"if none came from the cache); *: runs without that figure, their recorded spend (cache-dependent). "
        f"{EFFORT_CAPTION}"
        f"— : no finished seed; letters refer to the notes below."
    )


def _marker_caption(comparisons: pd.DataFrame, claims: pd.DataFrame, kind: str, ours: str) -> str:
    """The caption's † sentence; ``ours``: the focus method's label (PaDA-Agent)."""
    if comparisons.empty:
        return f"† not computed: it needs per-item test predictions of {ours} and of another row."
    resamples = int(comparisons["n_resamples"].iloc[0])
    pair = (
        f"against each, both a two-level paired bootstrap over seeds and test items ({resamples:,} "
        f"resamples) and a paired t-test across seeds reject (p = max of the two; the bootstrap alone where "
        f"the t is undefined)"
    )
    holm = f"Holm-adjusted over this table's {len(claims)} † claims, p<{ALPHA}"
    return {
        "focus": f"† {ours} beats every baseline in its column: {pair}; the claim's p is the largest of "
        f"its per-baseline p-values, {holm}. Δ: {ours} minus the best baseline in points with "
        "its 95% percentile bootstrap CI.",
        "others": f"† Full {ours} beats this row: {pair}, {holm}.",
    }[kind]


def _numbers(builder: _Builder, comparisons: pd.DataFrame) -> pd.DataFrame:
    frame = builder.summary.copy()
    frame["style"] = [
        builder.cells.get((m, column_label(t, b)), TableCell()).style or ""
        for m, t, b in zip(frame["method"], frame["task"], frame["budget"], strict=True)
    ]
    frame["marker"] = [
        builder.cells.get((m, column_label(t, b)), TableCell()).marker
        for m, t, b in zip(frame["method"], frame["task"], frame["budget"], strict=True)
    ]
    return frame.sort_values(["task", "budget", "method"]).reset_index(drop=True)


def build_table(
    collected: Collected,
    name: str,
    methods: list[str],
    mark: str,
    rng: np.random.Generator,
    n_resamples: int = 10_000,
    improvement_rows: bool = True,
    layout: Layout | None = None,
) -> Table:
    """``mark='focus'``: † on the focus (``layout.focus``, PaDA-Agent) where it beats every other row;
    ``'others'``: † on each row the focus beats. ``layout`` None: from ``collected`` (analysis/rows.py)."""
    layout = layout or layout_of(collected)
    focus = layout.focus
    summary = summarize(collected)
    methods = with_configurations(methods, set(summary["method"]))
    present = [m for m in methods if m in set(summary["method"])]  # rows with runs; every row is shown
    others = [m for m in present if m != focus]
    comparisons = compare(collected, focus, others, rng, n_resamples) if focus in present else pd.DataFrame()
    pairs = sorted({(t, int(b)) for t, b in zip(summary["task"], summary["budget"], strict=True)})
    table_claims = focus_claims(summary, comparisons, others, pairs, mark)
    comparisons = with_power(with_claims(comparisons, table_claims, mark), len(table_claims))
    builder = _Builder(name, methods, summary, comparisons, table_claims, layout)
    builder.zero_synthetic = zero_synthetic(collected)
    builder.other_configurations = other_configurations(collected)
    rows = list(methods)
    for task, budget in pairs:
        builder.accuracy_column(task, budget, mark)
        if improvement_rows and focus in present:
            builder.improvement_rows(task, budget)
    if improvement_rows and focus in present and pairs:
        rows += [REL_ROW, DELTA_ROW, MDE_ROW]
    effort = effort_columns(collected, methods)
    failures = teacher_failures(collected, methods)
    agreement = agreement_columns(collected, present)
    extra = {
        **lm_eval_columns(collected, present),
        **agreement,
        **effort,
        COST_COLUMN: costs(collected, methods),
        **failures,
    }
    for col, values in extra.items():
        builder.extra_column(col, values)
    builder.flag_shortfalls(collected.cells, EFFORT_COLUMNS["budget/synthetic"])
    columns = [column_label(t, b) for t, b in pairs] + list(extra)
    shown = summary[summary["method"].isin(methods)]
    caption = _caption(collected, shown, comparisons, table_claims, mark, layout.label(focus or "ours")) + (
        FAILURE_CAPTION if failures else ""
    )
    caption += KAPPA_CAPTION if agreement else ""
    caption += POWER_CAPTION if MDE_ROW in rows else ""
    numbers = _numbers(builder, comparisons)
    return Table(
        name, rows, columns, builder.cells, caption, builder.notes, numbers, comparisons, layout.displays
    )


POWER_CAPTION = (
    f" Min. detectable Δ: the lead over a row that a two-sided paired t across the seeds detects with "
    f"{stats.POWER:.0%} power at the claim's level ({ALPHA} / the table's claims: Holm's first step), from the "
    "observed seed sd of the per-seed differences (statsmodels TTestPower); the largest over the rows the "
    f"claim must beat, '{NOT_DETECTABLE}' where the observed Δ over one of them is below its own. The † also "
    "needs the bootstrap, so its power is at most this."
)


def with_configurations(methods: list[str], found: set[str]) -> list[str]:
    """``methods`` with each one replaced by its configuration rows (``sft [trainer.max_steps=5]``, see
    analysis.collect.configuration_labels) when the runs hold several configurations of it."""
    out = []
    for method in methods:
        variants = sorted(m for m in found if m.startswith(f"{method} ["))
        out += variants if variants and method not in found else [method, *variants]
    return out


def table2(collected: Collected, rng: np.random.Generator, n_resamples: int = 10_000) -> Table:
    """Table 2: the baselines, controls and other methods the runs hold, the focus last (analysis/rows.py;
    the caption names the baselines no run holds); the † and Δ rows compare the focus with every other row."""
    layout = layout_of(collected)
    found = set(collected.cells["method"])
    methods = row_rules.table2_methods(layout.displays, found, layout.focus)
    table = build_table(collected, "table2", methods, "focus", rng, n_resamples, layout=layout)
    if missing := row_rules.not_run(layout.displays, found, layout.focus):
        table.caption += f" Not run, so not rows: {', '.join(layout.label(m) for m in missing)}."
    return table


def ablation(collected: Collected, rng: np.random.Generator, n_resamples: int = 10_000) -> Table | None:
    """The focus and its ablations (display.role=ablation, display.parent=the focus) the runs hold."""
    layout = layout_of(collected)
    methods = row_rules.ablation_methods(layout.displays, set(collected.cells["method"]), layout.focus)
    if len(methods) <= 1:
        return None
    return build_table(
        collected, "ablation", methods, "others", rng, n_resamples, improvement_rows=False, layout=layout
    )
