"""The statistics behind Table 2 and the ablation table: per-cell summaries, paired comparisons of the focus
method with every other row, the table's † claims (Holm) and the minimum detectable effect per pair.

tables.py lays these out; nothing here formats a table cell except ``mde_text`` (the MDE row's text).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import rows as row_rules
from analysis import stats
from analysis.collect import Collected

ALPHA = 0.05  # the marker's family-wise error rate after Holm
NOT_DETECTABLE = "not detectable at this n"


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
        pairs = {n: comparison_of(comparisons, task, budget, n) for n in names}
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


def comparison_of(comparisons: pd.DataFrame, task: str, budget: int, baseline: str) -> pd.Series | None:
    if comparisons.empty:
        return None
    hit = comparisons[
        (comparisons["task"] == task)
        & (comparisons["budget"] == budget)
        & (comparisons["baseline"] == baseline)
    ]
    return None if hit.empty else hit.iloc[0]


def focus_claims(summary, comparisons, others: list[str], pairs, mark: str) -> pd.DataFrame:
    """The table's † claims: per column, the focus against every other row with a finished seed there."""
    if not len(comparisons):
        columns = ["task", "budget", "claim", "rivals", "p_claim", "untested", "p_claim_holm", "marker"]
        return pd.DataFrame(columns=columns)
    found = summary[summary["method"].isin(others) & (summary["n_seeds"] > 0)]
    rivals = {
        (t, b): sorted(found[(found["task"] == t) & (found["budget"] == b)]["method"]) for t, b in pairs
    }
    return claims(comparisons, {k: v for k, v in rivals.items() if v}, mark)


def with_claims(comparisons: pd.DataFrame, table_claims: pd.DataFrame, mark: str) -> pd.DataFrame:
    """The comparisons CSV with each pair's claim: its p, Holm-adjusted p and whether † was given."""
    if comparisons.empty:
        return comparisons
    columns = ["p_claim", "p_claim_holm", "marker"]
    if mark == "focus":
        keyed = table_claims[["task", "budget", *columns]]
        return comparisons.merge(keyed, on=["task", "budget"], how="left")
    keyed = table_claims.rename(columns={"claim": "baseline"})[["task", "budget", "baseline", *columns]]
    return comparisons.merge(keyed, on=["task", "budget", "baseline"], how="left")


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
