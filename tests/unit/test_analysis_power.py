"""Honest power (issue 28.3): Table 2 prints, per column, the minimum detectable effect of its claim's
paired t at 80% power, and says "not detectable at this n" where the observed lead is below it."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from test_analysis_trust import COL, N_ITEMS, _collected

from analysis import render, stats, tables


def _power_by_hand(effect: float, sd: float, n: int, alpha: float) -> float:
    """Two-sided paired t's power from scipy's noncentral t (not statsmodels): the cross-check."""
    df, nc = n - 1, effect / sd * math.sqrt(n)
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


@pytest.mark.parametrize(
    "n,alpha,sd", [(5, 0.05, 1.84), (5, 0.05 / 6, 1.84), (5, 0.05 / 6, 2.9), (3, 0.05, 1.0)]
)
def test_mde_has_80_percent_power_by_scipys_noncentral_t(n, alpha, sd):
    mde = stats.minimum_detectable_effect(sd, n, alpha)
    assert _power_by_hand(mde, sd, n, alpha) == pytest.approx(0.8, abs=1e-6)


def test_mde_at_the_issues_design_points():
    """Issue 28: at 5 seeds ≈3.1 points at α=0.05, ≈5.1 at α/6 (sd ≈1.84), ≈8 at α/6 with sd 2.9."""
    assert stats.minimum_detectable_effect(1.84, 5, 0.05) == pytest.approx(3.09, abs=0.01)
    assert stats.minimum_detectable_effect(1.84, 5, 0.05 / 6) == pytest.approx(5.08, abs=0.01)
    assert stats.minimum_detectable_effect(2.9, 5, 0.05 / 6) == pytest.approx(8.00, abs=0.01)


def test_mde_is_undefined_without_spread_or_with_one_seed():
    assert math.isnan(stats.minimum_detectable_effect(0.0, 5, 0.05))
    assert math.isnan(stats.minimum_detectable_effect(float("nan"), 5, 0.05))
    assert math.isnan(stats.minimum_detectable_effect(2.0, 1, 0.05))


@pytest.mark.parametrize("effect,alpha,expected", [(2.0, 0.05, 19), (1.0, 0.05 / 6, 106)])
def test_seeds_needed_is_the_fewest_with_80_percent_power(effect, alpha, expected):
    n = stats.seeds_needed(effect, 2.9, alpha)
    assert n == expected
    assert _power_by_hand(effect, 2.9, n, alpha) >= 0.8 > _power_by_hand(effect, 2.9, n - 1, alpha)
    with pytest.raises(ValueError):
        stats.seeds_needed(0.0, 2.9, alpha)


def test_table2_prints_the_mde_and_says_not_detectable_when_the_lead_is_below_it():
    sft = [100, 104, 98, 102, 101]
    pada = [s + d for s, d in zip(sft, [2, 10, 0, 6, 4], strict=True)]  # +4.4 items = +2.2 points
    table = tables.table2(_collected({"pada": pada, "sft": sft}), np.random.default_rng(0), 500)
    sd = np.std(np.array([2, 10, 0, 6, 4]) / N_ITEMS, ddof=1)
    mde = stats.minimum_detectable_effect(sd, 5, 0.05)  # one column: one claim, α = 0.05
    row = table.comparisons.iloc[0]
    assert row["seed_sd_diff"] == pytest.approx(sd) and row["alpha_claim"] == 0.05
    assert row["mde_80"] == pytest.approx(mde) and not row["detectable"]
    text = table.cells[(tables.MDE_ROW, COL)].text
    assert text == f"{mde * 100:.1f}; not detectable at this n"
    assert tables.MDE_ROW in table.rows and "80% power" in table.caption
    assert "not detectable at this n" in render.to_markdown(table)


def test_table2_prints_only_the_mde_where_the_lead_reaches_it():
    sft = [100, 104, 98, 102, 101]
    pada = [s + d for s, d in zip(sft, [20, 22, 21, 23, 20], strict=True)]
    table = tables.table2(_collected({"pada": pada, "sft": sft}), np.random.default_rng(0), 500)
    row = table.comparisons.iloc[0]
    assert row["detectable"] and row["diff"] >= row["mde_80"]
    assert table.cells[(tables.MDE_ROW, COL)].text == f"{row['mde_80'] * 100:.1f}"


def test_the_column_mde_is_the_largest_over_the_rivals_the_claim_must_beat():
    sft = [100, 104, 98, 102, 101]
    auggpt = [90, 91, 92, 93, 94]
    pada = [s + d for s, d in zip(sft, [20, 22, 21, 23, 20], strict=True)]
    table = tables.table2(
        _collected({"pada": pada, "sft": sft, "auggpt": auggpt}), np.random.default_rng(0), 500
    )
    mdes = table.comparisons["mde_80"]
    assert table.cells[(tables.MDE_ROW, COL)].text.startswith(f"{mdes.max() * 100:.1f}")


def test_one_seed_and_no_spread_say_why_there_is_no_mde():
    one = tables.table2(_collected({"pada": [150], "sft": [100]}), np.random.default_rng(0), 500)
    assert one.cells[(tables.MDE_ROW, COL)].text == "— (1 seed)"
    flat = tables.table2(
        _collected({"pada": [110, 120, 130], "sft": [100, 110, 120]}), np.random.default_rng(0), 500
    )
    assert flat.cells[(tables.MDE_ROW, COL)].text == "undefined (no seed spread)"


def test_one_seed_prints_no_delta_ci_the_items_alone_cannot_support():
    """Issue 27: with one seed the bootstrap resamples items only, so a CI would leave out the seed-to-seed
    spread that decides the claim; the Δ row says why it is empty, like the MDE row."""
    one = tables.table2(_collected({"pada": [150], "sft": [100]}), np.random.default_rng(0), 500)
    assert one.cells[(tables.DELTA_ROW, COL)].text == "— (1 seed)"
    two = tables.table2(_collected({"pada": [150, 152], "sft": [100, 99]}), np.random.default_rng(0), 500)
    assert two.cells[(tables.DELTA_ROW, COL)].text.startswith("+")
