"""Table 2's columns beside accuracy: lm-eval scores, teacher effort (calls, tokens, synthetic examples
against the quota, optimizer steps), teacher cost and teacher failures, one text per method; and the
column names (``column_label``: ``gsm8k b128``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from analysis.collect import TEACHER_FAILURES, UNCACHED_DOLLARS, Collected
from pada.selection_bias import is_multiple_choice, selection_bias

COST_COLUMN = "Teacher cost ($/run)"
FAILURE_COLUMN = "Teacher unparsed / re-asks / cut (of requests)"

# Table 2's effort columns, printed whatever the runs record ('—' where a run lacks the field): what each
# method's teacher and data cost per cell, so a reader sees whether the comparison was effort-matched.
EFFORT_COLUMNS = {
    "budget/teacher_calls": "Teacher calls (uncached)",
    "budget/teacher_tokens": "Teacher tokens (uncached)",
    "budget/synthetic": "Synthetic / quota",
}

STOPPED_AT_TARGET = "top_up/stopped/target_reached"  # the one stop that leaves a round not short

STEPS_COLUMN = "Opt. steps"  # shown when the runs record optimizer steps

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


def column_label(task: str, budget: int) -> str:
    return f"{task} b{budget}"


def lm_eval_columns(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
    rows = collected.cells[
        collected.cells["metric"].str.startswith("lm_eval/") & collected.cells["method"].isin(methods)
    ]
    out: dict[str, dict[str, str]] = {}
    for (task, budget, metric), group in rows.groupby(["task", "budget", "metric"], sort=True):
        label = f"{column_label(task, int(budget))} [lm-eval {metric.removeprefix('lm_eval/')}]"
        by_method = group.groupby("method")["value"]
        out[label] = {m: _pm(v.mean(), v.std(ddof=1) if len(v) > 1 else None) for m, v in by_method}
    return out


KAPPA_LABEL = "Cohen's κ (chance %)"
RSTD_LABEL = "RStd (lowest recall %)"
KAPPA_CAPTION = (
    f" {KAPPA_LABEL}, for multiple-choice columns: Cohen's κ between each run's extracted answers and the gold "
    "letters (sklearn cohen_kappa_score; no answer is its own label), mean ± sd over seeds, and in "
    "parentheses the mean chance accuracy p_e = Σ_L p(answer L)·p(gold L): what a run would score answering "
    "with its own letter frequencies, blind to the question. κ near 0: accuracy is the letter preference."
    f" {RSTD_LABEL}: the selection bias of Zheng et al. 2024 (ICLR), the standard deviation over the gold "
    "letters of a run's recall on the items whose answer is that letter, in points, mean ± sd over seeds "
    "(0: no letter favoured), and in parentheses the letter with the lowest mean recall and that recall."
)


def chance_agreement(answers: pd.Series, gold: pd.Series) -> tuple[float, float]:
    """(Cohen's κ, p_e) of one run's answers against the gold labels, both of length n (Cohen 1960,
    "A coefficient of agreement for nominal scales": κ = (p_o - p_e) / (1 - p_e), p_e = Σ_k p(answer k) ·
    p(gold k) from the two marginals). κ is NaN when p_e = 1 (one label on both sides)."""
    p_e = float((answers.value_counts(normalize=True) * gold.value_counts(normalize=True)).sum())
    kappa = cohen_kappa_score(answers, gold) if p_e < 1 else float("nan")
    return float(kappa), p_e


def _letter_stats(run: pd.DataFrame) -> dict[str, float]:
    """κ, p_e, RStd (points) and the recall (0-1) of each of its gold letters, of one run's items."""
    kappa, p_e = chance_agreement(run["answer"], run["gold"])
    bias = selection_bias(list(run["answer"]), list(run["gold"]))
    recalls = {f"recall {k}": bias.hits[k] / bias.totals[k] for k in bias.totals}
    return {"kappa": kappa, "p_e": p_e, "rstd": bias.rstd, **recalls}


def agreement_columns(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
    """Per task/budget column whose test gold answers are all single capital letters, two columns: per
    method ``"κ ± sd (p_e %)"`` over its runs (``chance_agreement``) and ``"RStd ± sd (L recall %)"``
    (``pada.selection_bias``, L the letter with the lowest mean recall); ``{}`` when no column qualifies."""
    items = collected.items[collected.items["method"].isin(methods)].dropna(subset=["answer", "gold"])
    lettered = items.groupby(["task", "budget"])["gold"].transform(lambda g: is_multiple_choice(list(g)))
    items = items[lettered.astype(bool)]
    if items.empty:
        return {}
    keys = ["task", "budget", "method", "seed"]
    # one row per run; a letter that is never gold in a run is NaN in its "recall L" column
    per_run = pd.DataFrame(
        [
            {**dict(zip(keys, key, strict=True)), **_letter_stats(run)}
            for key, run in items.groupby(keys, sort=True)
        ]
    )
    out: dict[str, dict[str, str]] = {}
    for (task, budget), rows in per_run.groupby(["task", "budget"], sort=True):
        label = column_label(task, int(budget))
        out[f"{label} [{KAPPA_LABEL}]"] = {
            method: f"{_spread(run['kappa'], '.2f')} ({run['p_e'].mean() * 100:.1f})"
            for method, run in rows.groupby("method")
        }
        out[f"{label} [{RSTD_LABEL}]"] = {
            method: f"{_spread(run['rstd'], '.1f')} ({_lowest_recall(run)})"
            for method, run in rows.groupby("method")
        }
    return out


def _spread(values: pd.Series, fmt: str) -> str:
    """ "mean ± sd" of one method's runs (sd with ddof 1; no "± sd" for one run or a NaN sd)."""
    sd = values.std(ddof=1) if len(values) > 1 else None
    spread = "" if sd is None or not np.isfinite(sd) else f" ± {sd:{fmt}}"
    return f"{values.mean():{fmt}}{spread}"


def _lowest_recall(runs: pd.DataFrame) -> str:
    """The gold letter with the lowest mean recall over ``runs`` and that recall in %, e.g. "B 0.2"; a letter's
    mean is over the runs in which it is gold at least once (a letter gold in none of them is left out)."""
    recalls = runs.filter(like="recall ").mean().dropna()
    letter = min(recalls.index, key=lambda k: (recalls[k], k))
    return f"{letter.removeprefix('recall ')} {recalls[letter] * 100:.1f}"


def _pm(mean: float, std: float | None) -> str:
    return f"{mean * 100:.1f}" + ("" if std is None or not np.isfinite(std) else f" ± {std * 100:.1f}")


def costs(collected: Collected, methods: list[str]) -> dict[str, str]:
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


def teacher_failures(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
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


def effort_columns(collected: Collected, methods: list[str]) -> dict[str, dict[str, str]]:
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
    """The note for a method whose cells added fewer synthetic examples than their quota, else None; it
    ends with why the short runs' budget_match top-ups stopped (``_short_because``)."""
    rows = _with_top_ups(cells, method, _synthetic_and_quota(cells, method).dropna(subset=["quota"]))
    short = rows[rows["synthetic"] < rows["quota"]]
    if short.empty:
        return None
    because = _short_because(short)
    return (
        f"{label}: {len(short)} of {len(rows)} runs short of the synthetic quota "
        f"({_span(short['synthetic'].min(), short['synthetic'].max())} added; quota "
        f"{_span(short['quota'].min(), short['quota'].max())}); why, per round: results.json data.shortfall"
        + (f"; {because}" if because else "")
    )


def top_up_note(cells: pd.DataFrame, method: str, label: str) -> str | None:
    """The note on a method's budget_match top-ups (results.json ``data.top_up``, ``top_up/*`` metrics):
    how many runs needed them, the rounds short after ``propose``, the top-ups run and the examples they
    added; "not recorded" for runs older than the record (never 0). None for a method that did not
    augment, or whose runs had no budget_match target (nothing to top up)."""
    augmented = _synthetic_and_quota(cells, method).dropna(subset=["quota"])  # a quota: the cell augmented
    rows = _with_top_ups(cells, method, augmented)
    if rows.empty:
        return None
    recorded = rows.dropna(subset=["top_up/rounds"])
    if recorded.empty:
        return f"{label}: budget_match top-ups not recorded by these runs (results.json before fairness 1.8)"
    if not recorded["top_up/rounds"].any():
        return None
    unrecorded = len(rows) - len(recorded)
    return (
        f"{label}: budget_match top-ups in {int((recorded['top_up/needed'] > 0).sum())} of {len(recorded)} "
        f"runs ({recorded['top_up/needed'].sum():.0f} augment rounds short after propose; "
        f"{recorded['top_up/used'].sum():.0f} top-ups added {recorded['top_up/added'].sum():.0f} examples; "
        "per round: results.json data.top_up)"
        + (f"; not recorded by {unrecorded} runs" if unrecorded else "")
    )


def _with_top_ups(cells: pd.DataFrame, method: str, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (one per cell of ``method``) with a column per ``top_up/*`` metric: NaN where the cell does
    not record it."""
    keys = ["task", "budget", "seed"]
    mine = cells[(cells["method"] == method) & cells["metric"].str.startswith("top_up/")]
    wide = mine.pivot_table(index=keys, columns="metric", values="value", aggfunc="first").reset_index()
    out = rows.merge(wide, on=keys, how="left") if not wide.empty else rows.copy()
    for column in ("top_up/rounds", "top_up/needed", "top_up/used", "top_up/added"):
        out[column] = out.get(column, np.nan)
    return out


def _short_because(short: pd.DataFrame) -> str:
    """Why the short runs' top-ups stopped: each reason other than target_reached with its runs, the runs
    without a budget_match target, the runs that do not record top-ups."""
    reasons = sorted(c for c in short.columns if c.startswith("top_up/stopped/") and c != STOPPED_AT_TARGET)
    runs = {r.removeprefix("top_up/stopped/"): int((short[r] > 0).sum()) for r in reasons}
    parts = [f"{reason} ({_runs(n)})" for reason, n in runs.items() if n]
    texts = ["top-ups stopped: " + ", ".join(parts)] if parts else []
    if untargeted := int((short["top_up/rounds"] == 0).sum()):
        texts.append(f"top-ups: none, no budget_match target ({_runs(untargeted)})")
    if unrecorded := int(short["top_up/rounds"].isna().sum()):
        texts.append(f"top-ups: not recorded ({_runs(unrecorded)})")
    return "; ".join(texts)


def _runs(n: int) -> str:
    return f"{n} run" + ("" if n == 1 else "s")


def _span(low: float, high: float) -> str:
    return f"{low:.0f}" if low == high else f"{low:.0f}–{high:.0f}"


def _tokens(n: float) -> str:
    return "0" if n == 0 else f"{n / 1e3:.0f}k" if n < 1e6 else f"{n / 1e6:.1f}M"
