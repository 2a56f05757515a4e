"""Zero variance is undefined, never a p from float noise (issue 29.14; scipy#14418): every test in
analysis/stats.py whose statistic divides by a spread reports NaN and a flag when that spread is zero."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps
from test_analysis_trust import COL, _collected

from analysis import stats, tables


def test_welch_with_zero_variance_in_both_groups_is_undefined():
    t, p = stats.welch_t([0.5, 0.5, 0.5], [0.4, 0.4, 0.4])  # scipy: t ≈ 2.5e15, p = 1.5e-31
    assert math.isnan(t) and math.isnan(p)
    assert stats.welch_degenerate([0.5, 0.5, 0.5], [0.4, 0.4, 0.4])
    assert math.isnan(stats.welch_t([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])[1])  # scipy: t = inf, p = 0


def test_welch_with_spread_in_one_group_is_scipys():
    a, b = [0.5, 0.5, 0.5], [0.4, 0.45, 0.41]
    assert not stats.welch_degenerate(a, b)
    with warnings.catch_warnings():  # scipy warns of a constant group; the test itself is defined
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = sps.ttest_ind(a, b, equal_var=False)
    assert stats.welch_t(a, b) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)


@pytest.mark.parametrize("d", [1.0, 0.0, -1.0])
def test_bootstrap_of_constant_differences_is_undefined(d):
    """Every seed × item difference equal: every replicate equals the observed Δ, so the bootstrap has no
    spread to compare it with; its p (1/(B+1) or 1) would be an artefact of the resampling, not evidence."""
    a = np.full((3, 20), max(d, 0.0))
    b = a - d
    result = stats.paired_bootstrap(a, b, np.random.default_rng(0), 500)
    assert result.degenerate and math.isnan(result.p_value)
    assert result.diff == d and result.ci_low == result.ci_high == d


def test_bootstrap_with_any_spread_is_defined():
    a = np.ones((3, 20))
    b = np.zeros((3, 20))
    b[0, 0] = 1.0
    result = stats.paired_bootstrap(a, b, np.random.default_rng(0), 500)
    assert not result.degenerate and result.p_value == pytest.approx(1 / 501)


def test_table2_flags_an_undefined_welch_and_makes_no_claim_on_nothing():
    """Identical per-seed accuracies in both rows (4 seeds each): Welch is undefined and flagged in the CSV."""
    collected = _collected({"pada": [120, 120, 120, 120], "sft": [100, 100, 100, 100]})
    row = tables.table2(collected, np.random.default_rng(0), 500).comparisons.iloc[0]
    assert row["welch_degenerate"] and math.isnan(row["welch_p"])
    assert not row["bootstrap_degenerate"]


def test_combined_p_with_no_defined_test_makes_no_claim():
    import pandas as pd

    frame = pd.DataFrame({"p_bootstrap": [np.nan, 0.01], "paired_t_p": [np.nan, np.nan], "n_seeds": [3, 3]})
    assert tables.combined_p(frame).tolist() == [1.0, 0.01]


def test_no_dagger_when_every_test_is_undefined():
    """PaDA right on every item of every seed, SFT on none: every difference is +1, no test has a spread."""
    collected = _collected({"pada": [200, 200, 200], "sft": [0, 0, 0]})
    table = tables.table2(collected, np.random.default_rng(0), 500)
    row = table.comparisons.iloc[0]
    assert row["bootstrap_degenerate"] and row["t_degenerate"] and row["welch_degenerate"]
    assert row["p_combined"] == 1.0 and not table.cells[("pada", COL)].marker
