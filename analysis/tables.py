"""Table 2 and the ablation table as data: cell summaries, paired comparisons, best/second and markers.

Rendering lives in render.py; this module decides what every cell says.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import rows as row_rules
from analysis import stats
from analysis.collect import TEACHER_FAILURES, UNCACHED_DOLLARS, Collected
from pada.display import Display

REL_ROW, DELTA_ROW, MDE_ROW = "rel_improvement", "delta", "mde"
ROW_LABELS = {
    REL_ROW: "Rel. improvement vs best baseline",
    DELTA_ROW: "Δ vs best baseline [95% CI]",
    MDE_ROW: "Min. detectable Δ, 80% power (points)",
}
NOT_DETECTABLE = "not detectable at this n"
COST_COLUMN = "Teacher cost ($/run)"
FAILURE_COLUMN = "Teacher unparsed / re-asks / cut (of requests)"
ALPHA = 0.05  # the marker's family-wise error rate after Holm


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


def column_label(task: str, budget: int) -> str:
    return f"{task} b{budget}"


def row_label(key: str, displays: dict[str, Display] | None = None) -> str:
    """The row's printed name from its method's display (``displays``; None: the shipped YAMLs'); a
    configuration row keeps its differing keys: ``SFT [trainer.max_steps=5]``."""
    if key in ROW_LABELS:
        return ROW_LABELS[key]
    return row_rules.label(row_rules.merged({}) if displays is None else displays, key)


def summarize(collected: Collected, metric: str = "test/accuracy") -> pd.DataFrame:
    """Per (task, budget, method): mean, sample std (ddof=1), finished and missing seeds with reasons."""
    rows = collected.cells[collected.cells["metric"] == metric]
    out = []
    for (task, budget, method), group in rows.groupby(["task", "budget", "method"], sort=True):
        ok = group[group["status"] == "ok"]["value"].astype(float)
        bad = _unfinished(group, other_configuration=False)
        out.append(
            {
                "task": task,
                "budget": int(budget),
                "method": method,
                "mean": ok.mean() if len(ok) else np.nan,
                "std": ok.std(ddof=1) if len(ok) > 1 else np.nan,
                "n_seeds": len(ok),
                "n_missing": len(bad),
                "missing": "; ".join(
                    f"s{s} {st}: {r}"
                    for s, st, r in zip(bad["seed"], bad["status"], bad["reason"], strict=True)
                ),
            }
        )
    return pd.DataFrame(out)


def _unfinished(group: pd.DataFrame, other_configuration: bool) -> pd.DataFrame:
    """The group's unfinished cells of seeds that did not finish, or (``other_configuration``) of seeds that
    did: one configuration and seed is one cell dir, so those are another configuration's cells (whose
    config is in the results.json they lack), never more seeds of this row."""
    unfinished = group[group["status"] != "ok"].sort_values("seed")
    of_finished = unfinished["seed"].isin(set(group[group["status"] == "ok"]["seed"]))
    return unfinished[of_finished if other_configuration else ~of_finished]


def other_configurations(collected: Collected, metric: str = "test/accuracy") -> dict[tuple, str]:
    """(task, budget, method) -> a note on the unfinished cells of another configuration in that row."""
    rows = collected.cells[collected.cells["metric"] == metric]
    notes = {}
    for (task, budget, method), group in rows.groupby(["task", "budget", "method"], sort=True):
        cells = _unfinished(group, other_configuration=True)
        if len(cells):
            seeds = ", ".join(str(int(s)) for s in sorted(set(cells["seed"])))
            where = "; ".join(
                f"{c}: {st}: {r}"
                for c, st, r in zip(cells["cell"], cells["status"], cells["reason"], strict=True)
            )
            notes[(task, int(budget), method)] = (
                f"seed(s) {seeds} also have an unfinished cell of another configuration, not counted here ({where})"
            )
    return notes


def zero_synthetic(collected: Collected) -> dict[tuple[str, int, str], list[int]]:
    """(task, budget, method) -> seeds of finished cells that augmented but added no synthetic example."""
    rows = collected.cells[(collected.cells["metric"] == "data/synthetic") & (collected.cells["value"] == 0)]
    return {
        (t, int(b), m): sorted(int(s) for s in g["seed"])
        for (t, b, m), g in rows.groupby(["task", "budget", "method"], sort=True)
    }


def _matrix(items: pd.DataFrame, task: str, budget: int, method: str) -> pd.DataFrame:
    rows = items[(items["task"] == task) & (items["budget"] == budget) & (items["method"] == method)]
    return rows.pivot_table(index="seed", columns="item_id", values="correct", aggfunc="first")


def paired_matrices(
    items: pd.DataFrame, task: str, budget: int, a: str, b: str, untrained: frozenset[str] | None = None
):
    """Seeds × items 0/1 matrices of a and b on their shared seeds and items. A b run once that is never
    trained (``untrained``: method.train=false in its config, as the base model; None: the shipped
    YAMLs') does not depend on the training seed, so it is paired with every seed of a."""
    untrained = row_rules.shipped_untrained() if untrained is None else untrained
    ma, mb = _matrix(items, task, budget, a), _matrix(items, task, budget, b)
    seeds = ma.index.intersection(mb.index)
    if row_rules.base_name(b) in untrained and len(mb) == 1 and len(ma):
        mb, seeds = pd.DataFrame([mb.iloc[0]] * len(ma), index=ma.index), ma.index
    shared = ma.columns.intersection(mb.columns)
    ma, mb = ma.loc[seeds, shared], mb.loc[seeds, shared]
    complete = ma.notna().all() & mb.notna().all()  # items every paired seed of both methods answered
    return ma.loc[:, complete].to_numpy(float), mb.loc[:, complete].to_numpy(float)


def _compare_one(items, task, budget, a, b, rng, n_resamples, untrained) -> dict | None:
    ma, mb = paired_matrices(items, task, budget, a, b, untrained)
    if ma.size == 0:
        return None
    boot = stats.paired_bootstrap(ma, mb, rng, n_resamples)
    row = {
        "task": task,
        "budget": budget,
        "method": a,
        "baseline": b,
        "diff": boot.diff,
        "ci_low": boot.ci_low,
        "ci_high": boot.ci_high,
        "p_bootstrap": boot.p_value,
        "bootstrap_degenerate": boot.degenerate,
        "n_resamples": boot.n_resamples,
        "n_seeds": boot.n_seeds,
        "n_items": boot.n_items,
        "mcnemar_p_per_seed": " ".join(f"{m.p_value:.4g}" for m in stats.mcnemar_per_seed(ma, mb)),
    }
    if boot.n_seeds > 1:
        row["seed_sd_diff"] = float(np.std(ma.mean(1) - mb.mean(1), ddof=1))
        row["t_degenerate"] = stats.t_degenerate(ma.mean(1), mb.mean(1))
        row["paired_t_p"] = stats.paired_t(ma.mean(1), mb.mean(1))[1]
        row["welch_degenerate"] = stats.welch_degenerate(ma.mean(1), mb.mean(1))
        row["welch_p"] = stats.welch_t(ma.mean(1), mb.mean(1))[1]
    return row


def compare(
    collected: Collected, focus: str, others: list[str], rng: np.random.Generator, n_resamples: int
) -> pd.DataFrame:
    """focus vs each other method in every column: one row per pair, with its combined p (no adjustment:
    the table's claims are adjusted together, ``claims``)."""
    items = collected.items[collected.items["split"] == "test"]
    untrained = frozenset(collected.untrained) | row_rules.shipped_untrained()  # older cells saved no config
    rows = []
    for (task, budget), _ in items.groupby(["task", "budget"], sort=True):
        for other in others:
            row = _compare_one(items, task, int(budget), focus, other, rng, n_resamples, untrained)
            rows += [row] if row else []
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["p_combined"] = combined_p(frame)
    return frame


def claims(comparisons: pd.DataFrame, rivals: dict[tuple[str, int], list[str]], mark: str) -> pd.DataFrame:
    """The table's † claims, Holm-adjusted together; one row per claim.

    ``rivals``: per (task, budget) column, the rows PaDA-Agent is compared with there (the baselines with a
    finished seed). ``mark='focus'``: one claim per column, "PaDA-Agent beats every baseline": an
    intersection–union test, p = the largest of its per-baseline combined p-values, and only when PaDA-Agent's
    Δ is positive against each (else p = 1); a baseline without paired predictions makes the claim untestable
    (p = 1, ``untested`` names it). ``mark='others'``: one claim per (column, row), "full PaDA-Agent beats this
    row". Holm (``multipletests(method="holm")``) runs over this table's claims only.
    """
    rows = []
    for (task, budget), names in sorted(rivals.items()):
        pairs = {n: _comparison(comparisons, task, budget, n) for n in names}
        groups = [names] if mark == "focus" else [[n] for n in names]
        for group in groups:
            missing = [n for n in group if pairs[n] is None]
            found = [pairs[n] for n in group if pairs[n] is not None]
            positive = not missing and all(r["diff"] > 0 for r in found)
            p = max(float(r["p_combined"]) for r in found) if positive else 1.0
            rows.append(
                {
                    "task": task,
                    "budget": budget,
                    "claim": "every baseline" if mark == "focus" else group[0],
                    "rivals": " ".join(group),
                    "p_claim": p,
                    "untested": " ".join(missing),
                }
            )
    frame = pd.DataFrame(rows, columns=["task", "budget", "claim", "rivals", "p_claim", "untested"])
    reject, adjusted = stats.holm(frame["p_claim"].tolist(), ALPHA)
    frame["p_claim_holm"], frame["marker"] = adjusted, reject & (frame["p_claim"] < 1.0)
    return frame


def combined_p(frame: pd.DataFrame) -> pd.Series:
    """max(bootstrap p, paired-t p): a difference counts only when both tests reject. With 3–5 seeds the
    bootstrap alone over-rejects when seed-to-seed variance dominates (18.0% false positives at α=0.05 with 3
    seeds, experiments/bench/analysis_calibration.py); the max stays at ≤5.3% there. A max of valid p-values
    is a valid p-value, so Holm applies to it unchanged. When the paired t is undefined (identical per-seed
    differences over ≥ 2 seeds: ``stats.t_degenerate``, flagged ``t_degenerate`` in the CSV), the bootstrap p
    is used: the seeds then show no spread for it to understate. With one seed no claim is made (p = 1): the
    seed-to-seed spread is unobserved, and an item-level bootstrap alone cannot separate a method effect from
    seed noise. When neither test is defined (every seed × item difference equal, ``bootstrap_degenerate``)
    no claim is made either (p = 1)."""
    t_p = frame["paired_t_p"] if "paired_t_p" in frame else pd.Series(np.nan, index=frame.index)
    return np.fmax(frame["p_bootstrap"], t_p).fillna(1.0).where(frame["n_seeds"] > 1, 1.0)


def _rank_styles(means: dict[str, float]) -> dict[str, str]:
    """Best and second best by mean (ties share a rank)."""
    finite = sorted({m for m in means.values() if np.isfinite(m)}, reverse=True)
    ranks = {v: ("best", "second")[i] for i, v in enumerate(finite[:2])}
    return {k: ranks[v] for k, v in means.items() if v in ranks}


def _comparison(comparisons: pd.DataFrame, task: str, budget: int, baseline: str) -> pd.Series | None:
    if comparisons.empty:
        return None
    hit = comparisons[
        (comparisons["task"] == task)
        & (comparisons["budget"] == budget)
        & (comparisons["baseline"] == baseline)
    ]
    return None if hit.empty else hit.iloc[0]


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
        row = _comparison(self.comparisons, task, budget, best)
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
        """A note on each row whose runs fell short of their synthetic quota: never a quiet mismatch."""
        for row in self.methods:
            if text := shortfall_note(cells, row, self.layout.label(row)):
                self.cells[(row, col)].notes.append(self.note(text))


def _lm_eval_columns(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
    rows = collected.cells[
        collected.cells["metric"].str.startswith("lm_eval/") & collected.cells["method"].isin(methods)
    ]
    out: dict[str, dict[str, str]] = {}
    for (task, budget, metric), group in rows.groupby(["task", "budget", "metric"], sort=True):
        label = f"{column_label(task, int(budget))} [lm-eval {metric.removeprefix('lm_eval/')}]"
        by_method = group.groupby("method")["value"]
        out[label] = {m: _pm(v.mean(), v.std(ddof=1) if len(v) > 1 else None) for m, v in by_method}
    return out


def _pm(mean: float, std: float | None) -> str:
    return f"{mean * 100:.1f}" + ("" if std is None or not np.isfinite(std) else f" ± {std * 100:.1f}")


def _costs(collected: Collected, methods: list[str]) -> dict[str, str]:
    """Mean uncached teacher cost per run (``teacher_usage.uncached.dollars``: what the calls cost without
    the cache, so it does not depend on what the cache held). Runs that lack it fall back to the recorded
    spend, marked ``*``; a method with no teacher spend at all is $0.00 either way."""
    cells = collected.cells[collected.cells["method"].isin(methods) & (collected.cells["status"] == "ok")]
    uncached, billed = (cells[cells["metric"] == metric] for metric in (UNCACHED_DOLLARS, "teacher/dollars"))
    out = {}
    for m in methods:
        mine_uncached, mine_billed = uncached[uncached["method"] == m], billed[billed["method"] == m]
        if mine_billed.empty:
            out[m] = "—"
        elif len(mine_uncached) == len(mine_billed):
            out[m] = f"${mine_uncached['value'].mean():.2f}"
        elif not mine_billed["value"].any():
            out[m] = "$0.00"
        else:
            out[m] = f"${mine_billed['value'].mean():.2f}*"
    return out


def _teacher_failures(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
    """``{FAILURE_COLUMN: {method: text}}``: mean per finished run of the structured answers that never parsed,
    the re-asks and the answers cut at max_tokens, of all teacher requests (``teacher_usage.total``): a method
    whose prompts fail more gets less data for the same calls. Empty when no run records the counts."""
    cells = collected.cells
    rows = cells[cells["method"].isin(methods) & (cells["status"] == "ok")]
    rows = rows[rows["metric"].isin([f"teacher/{k}" for k in TEACHER_FAILURES])]
    if rows.empty:
        return {}
    means = rows.groupby(["method", "metric"])["value"].mean()
    out = {}
    for method in sorted(set(rows["method"])):
        n = {k: means.get((method, f"teacher/{k}"), 0.0) for k in TEACHER_FAILURES}
        counts = " / ".join(_count(n[k]) for k in ("parse_failures", "reasks", "truncated"))
        out[method] = f"{counts} of {_count(n['requests'])}"
    return {FAILURE_COLUMN: out}


def _count(n: float) -> str:
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.1f}"


# Table 2's effort columns, printed whatever the runs record ('—' where a run lacks the field): what each
# method's teacher and data cost per cell, so a reader sees whether the comparison was effort-matched.
EFFORT_COLUMNS = {
    "budget/teacher_calls": "Teacher calls (uncached)",
    "budget/teacher_tokens": "Teacher tokens (uncached)",
    "budget/synthetic": "Synthetic / quota",
}
STEPS_COLUMN = "Opt. steps"  # shown when the runs record optimizer steps


def _effort_columns(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
    """Per method, over its cells: uncached teacher calls and tokens (mean per cell), synthetic examples
    (min–max) against the cell's synthetic quota, and optimizer steps of the tested model (min–max; only
    when recorded). '—': no run of the method records the field."""
    cells = collected.cells[collected.cells["method"].isin(methods)]
    values = {
        metric: cells[cells["metric"] == metric].groupby("method")["value"] for metric in EFFORT_COLUMNS
    }
    out: dict[str, dict[str, str]] = {label: {} for label in EFFORT_COLUMNS.values()}
    for m in methods:
        for metric, label in EFFORT_COLUMNS.items():
            mine = values[metric].get_group(m) if m in values[metric].groups else None
            if mine is None:
                out[label][m] = "—"
            elif metric == "budget/teacher_calls":
                out[label][m] = f"{mine.mean():.0f}" + _budget_of(cells, m, "calls", lambda n: f"{n:.0f}")
            elif metric == "budget/teacher_tokens":
                out[label][m] = _tokens(mine.mean()) + _budget_of(cells, m, "tokens", _tokens)
            else:
                out[label][m] = _against_quota(cells, m)
    steps = cells[cells["metric"] == "budget/steps"]
    if not steps.empty:
        by_method = steps.groupby("method")["value"]
        out[STEPS_COLUMN] = {m: _span(v.min(), v.max()) for m, v in by_method}
    return out


def _budget_of(cells: pd.DataFrame, method: str, key: str, fmt) -> str:
    """' / <teacher_budget.key>' when the method's runs were effort-matched on ``key`` ('/ mixed' when
    they were matched to different budgets), else ''."""
    rows = cells[(cells["method"] == method) & (cells["metric"] == f"budget/teacher_{key}_budget")]
    budgets = rows["value"].unique()
    return "" if len(budgets) == 0 else f" / {fmt(budgets[0])}" if len(budgets) == 1 else " / mixed"


def _synthetic_and_quota(cells: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per cell of ``method``: ``synthetic`` and ``quota`` (NaN where the cell had none)."""
    keys = ["task", "budget", "seed"]
    mine = cells[cells["method"] == method]
    synthetic = mine[mine["metric"] == "budget/synthetic"][[*keys, "value"]].rename(
        columns={"value": "synthetic"}
    )
    quota = mine[mine["metric"] == "budget/synthetic_quota"][[*keys, "value"]].rename(
        columns={"value": "quota"}
    )
    return synthetic.merge(quota, on=keys, how="left")


def _against_quota(cells: pd.DataFrame, method: str) -> str:
    rows = _synthetic_and_quota(cells, method)
    span = _span(rows["synthetic"].min(), rows["synthetic"].max())
    quotas = rows["quota"].dropna().unique()
    if len(quotas) == 0:
        return span
    if len(quotas) == 1:
        return f"{span} / {quotas[0]:.0f}"
    share = rows["synthetic"] / rows["quota"] * 100
    return f"{_span(share.min(), share.max())}% of quota"


def shortfall_note(cells: pd.DataFrame, method: str, label: str) -> str | None:
    """The note for a method whose cells added fewer synthetic examples than their quota, else None."""
    rows = _synthetic_and_quota(cells, method).dropna(subset=["quota"])
    short = rows[rows["synthetic"] < rows["quota"]]
    if short.empty:
        return None
    return (
        f"{label}: {len(short)} of {len(rows)} runs short of the synthetic quota "
        f"({_span(short['synthetic'].min(), short['synthetic'].max())} added; quota "
        f"{_span(short['quota'].min(), short['quota'].max())}); why, per round: results.json data.shortfall"
    )


def _span(low: float, high: float) -> str:
    return f"{low:.0f}" if low == high else f"{low:.0f}–{high:.0f}"


def _tokens(n: float) -> str:
    return "0" if n == 0 else f"{n / 1e3:.0f}k" if n < 1e6 else f"{n / 1e6:.1f}M"


EFFORT_CAPTION = (
    "Effort columns: uncached teacher calls and tokens, as from an empty cache (mean per run; / the cell's "
    "teacher_budget where effort was matched); synthetic "
    "examples added (min–max over runs) / the cell's synthetic quota; optimizer steps of the tested model "
    "(min–max); in these columns —: not recorded by these runs. "
)


FAILURE_CAPTION = (
    " Teacher unparsed / re-asks / cut: mean per run of structured teacher answers that never parsed, "
    "re-asks of malformed answers, and answers cut at max_tokens, of all teacher requests."
)


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
    table_claims = _table_claims(summary, comparisons, others, pairs, mark)
    comparisons = with_power(_with_claims(comparisons, table_claims, mark), len(table_claims))
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
    effort = _effort_columns(collected, methods)
    failures = _teacher_failures(collected, methods)
    extra = {
        **_lm_eval_columns(collected, present),
        **effort,
        COST_COLUMN: _costs(collected, methods),
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


def with_power(comparisons: pd.DataFrame, n_claims: int) -> pd.DataFrame:
    """Each pair's minimum detectable effect (``mde_80``, a fraction like ``diff``) at ``stats.POWER`` for
    its claim's α (``alpha_claim`` = ALPHA / ``n_claims``, the bar of Holm's first step), from the seed sd
    of the per-seed differences (``seed_sd_diff``), and whether the observed Δ reaches it (``detectable``).
    Source: statsmodels ``TTestPower`` (stats.minimum_detectable_effect)."""
    if comparisons.empty or "seed_sd_diff" not in comparisons:
        return comparisons
    out = comparisons.copy()
    out["alpha_claim"] = ALPHA / max(n_claims, 1)
    out["mde_80"] = [
        stats.minimum_detectable_effect(sd, int(n), alpha)
        for sd, n, alpha in zip(out["seed_sd_diff"], out["n_seeds"], out["alpha_claim"], strict=True)
    ]
    out["detectable"] = out["diff"] >= out["mde_80"]
    return out


def mde_text(comparisons: pd.DataFrame, task: str, budget: int) -> str:
    """The MDE row's cell: the largest MDE over the column's pairs in points, with NOT_DETECTABLE when the
    observed Δ over one of them is below its own; or why there is none (one seed, no seed spread)."""
    if comparisons.empty or "mde_80" not in comparisons:
        return "— (1 seed)" if not comparisons.empty else "—"
    pairs = comparisons[(comparisons["task"] == task) & (comparisons["budget"] == budget)]
    if pairs.empty:
        return "—"
    if pairs["mde_80"].isna().any():
        return "— (1 seed)" if (pairs["n_seeds"] < 2).any() else "undefined (no seed spread)"
    text = f"{pairs['mde_80'].max() * 100:.1f}"
    return text if pairs["detectable"].all() else f"{text}; {NOT_DETECTABLE}"


def _table_claims(summary, comparisons, others: list[str], pairs, mark: str) -> pd.DataFrame:
    """The table's † claims: per column, the focus against every other row with a finished seed there."""
    if not len(comparisons):
        columns = ["task", "budget", "claim", "rivals", "p_claim", "untested", "p_claim_holm", "marker"]
        return pd.DataFrame(columns=columns)
    found = summary[summary["method"].isin(others) & (summary["n_seeds"] > 0)]
    rivals = {
        (t, b): sorted(found[(found["task"] == t) & (found["budget"] == b)]["method"]) for t, b in pairs
    }
    return claims(comparisons, {k: v for k, v in rivals.items() if v}, mark)


def with_configurations(methods: list[str], found: set[str]) -> list[str]:
    """``methods`` with each one replaced by its configuration rows (``sft [trainer.max_steps=5]``, see
    analysis.collect.configuration_labels) when the runs hold several configurations of it."""
    out = []
    for method in methods:
        variants = sorted(m for m in found if m.startswith(f"{method} ["))
        out += variants if variants and method not in found else [method, *variants]
    return out


def _with_claims(comparisons: pd.DataFrame, table_claims: pd.DataFrame, mark: str) -> pd.DataFrame:
    """The comparisons CSV with each pair's claim: its p, Holm-adjusted p and whether † was given."""
    if comparisons.empty:
        return comparisons
    columns = ["p_claim", "p_claim_holm", "marker"]
    if mark == "focus":
        keyed = table_claims[["task", "budget", *columns]]
        return comparisons.merge(keyed, on=["task", "budget"], how="left")
    keyed = table_claims.rename(columns={"claim": "baseline"})[["task", "budget", "baseline", *columns]]
    return comparisons.merge(keyed, on=["task", "budget", "baseline"], how="left")


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
