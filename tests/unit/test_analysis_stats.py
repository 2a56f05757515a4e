"""Every statistic against scipy / statsmodels on the same data."""

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from analysis import stats


def _pair(seed: int, n_seeds: int, n_items: int, pa: float, pb: float):
    rng = np.random.default_rng(seed)
    latent = rng.uniform(size=(n_seeds, n_items))  # shared item difficulty: the pairs are correlated
    return (latent < pa).astype(float), (latent + rng.normal(0, 0.1, latent.shape) < pb).astype(float)


@pytest.mark.parametrize("seed", range(6))
def test_mcnemar_exact_equals_statsmodels(seed):
    a, b = _pair(seed, 1, 40 + 10 * seed, 0.6, 0.5)
    ours = stats.mcnemar_exact(a[0], b[0])
    table = [
        [np.sum((a[0] == 1) & (b[0] == 1)), ours.a_only],
        [ours.b_only, np.sum((a[0] == 0) & (b[0] == 0))],
    ]
    assert ours.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)


def test_mcnemar_known_counts_and_no_discordance():
    a = np.array([1] * 9 + [0] * 1 + [1] * 5, bool)
    b = np.array([0] * 9 + [1] * 1 + [1] * 5, bool)
    result = stats.mcnemar_exact(a, b)
    assert (result.a_only, result.b_only) == (9, 1)
    assert result.p_value == pytest.approx(2 * 11 / 1024)  # 2·P(X≤1), X~Bin(10, ½)
    assert stats.mcnemar_exact(a, a).p_value == 1.0


def test_mcnemar_per_seed_one_result_per_row():
    a, b = _pair(1, 3, 50, 0.6, 0.4)
    results = stats.mcnemar_per_seed(a, b)
    assert [r.p_value for r in results] == [stats.mcnemar_exact(a[s], b[s]).p_value for s in range(3)]


def test_bootstrap_single_seed_matches_scipy_paired_percentile():
    a, b = _pair(2, 1, 300, 0.55, 0.45)
    ours = stats.paired_bootstrap(a, b, np.random.default_rng(0), n_resamples=20_000)
    ref = sps.bootstrap(
        (a[0], b[0]),
        lambda x, y, axis: x.mean(axis) - y.mean(axis),
        paired=True,
        vectorized=True,
        n_resamples=20_000,
        method="percentile",
        rng=np.random.default_rng(1),
    )
    assert ours.diff == pytest.approx(a.mean() - b.mean())
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.008)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.008)
    assert ours.n_resamples == 20_000 and (ours.n_seeds, ours.n_items) == (1, 300)


def test_bootstrap_single_item_matches_scipy_over_seeds():
    seed_means_a = np.array([[0.52], [0.55], [0.49], [0.58], [0.51]])
    seed_means_b = np.array([[0.47], [0.50], [0.48], [0.49], [0.50]])
    ours = stats.paired_bootstrap(seed_means_a, seed_means_b, np.random.default_rng(0), n_resamples=20_000)
    ref = sps.bootstrap(
        (seed_means_a[:, 0] - seed_means_b[:, 0],),
        np.mean,
        n_resamples=20_000,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert ours.ci_low == pytest.approx(ref.low, abs=0.003)
    assert ours.ci_high == pytest.approx(ref.high, abs=0.003)


def test_bootstrap_two_levels_widen_the_interval_over_items_only():
    a, b = _pair(3, 5, 200, 0.6, 0.5)
    shift = np.array([0.1, -0.1, 0.05, -0.05, 0.0])[:, None]  # seed-level variation in a's advantage
    a = np.clip(a + (np.random.default_rng(0).uniform(size=a.shape) < np.abs(shift)) * np.sign(shift), 0, 1)
    both = stats.paired_bootstrap(a, b, np.random.default_rng(0), n_resamples=5000)
    items_only = stats.paired_bootstrap(a.reshape(1, -1), b.reshape(1, -1), np.random.default_rng(0), 5000)
    assert both.diff == pytest.approx(items_only.diff)
    assert both.ci_high - both.ci_low > items_only.ci_high - items_only.ci_low


def test_bootstrap_p_value_is_seeded_and_bounded():
    a, b = _pair(4, 3, 80, 0.7, 0.3)
    first = stats.paired_bootstrap(a, b, np.random.default_rng(7), n_resamples=999)
    again = stats.paired_bootstrap(a, b, np.random.default_rng(7), n_resamples=999)
    assert first == again
    assert first.p_value == pytest.approx(1 / 1000)  # a huge effect: no null replicate is as extreme
    same = stats.paired_bootstrap(a, a, np.random.default_rng(7), n_resamples=999)
    assert (same.diff, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)
    assert same.degenerate and np.isnan(same.p_value)  # no spread at all: undefined, never read as p = 1


def test_bootstrap_rejects_unpaired_shapes():
    with pytest.raises(ValueError, match="paired matrices"):
        stats.paired_bootstrap(np.ones((2, 3)), np.ones((2, 4)), np.random.default_rng(0))


def test_paired_t_and_welch_equal_scipy_and_formula():
    a, b = np.array([0.52, 0.55, 0.49, 0.58]), np.array([0.47, 0.50, 0.48, 0.49])
    d = a - b
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    assert stats.paired_t(a, b) == pytest.approx((t, 2 * sps.t.sf(abs(t), len(d) - 1)))
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 4
    welch = (a.mean() - b.mean()) / np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 3)
    assert stats.welch_t(a, b) == pytest.approx((welch, 2 * sps.t.sf(abs(welch), dof)))


def test_holm_equals_statsmodels_holm_not_its_default():
    p = [0.01, 0.04, 0.03, 0.005]
    reject, adjusted = stats.holm(p)
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])  # sorted p·(m−k), running max
    assert reject.tolist() == [True, False, False, True]
    assert adjusted.tolist() == pytest.approx(multipletests(p, method="holm")[1].tolist())
    assert adjusted.tolist() != pytest.approx(multipletests(p)[1].tolist())  # default 'hs' differs


def test_holm_of_nothing_is_empty():
    reject, adjusted = stats.holm([])
    assert reject.size == adjusted.size == 0


@pytest.mark.parametrize("n", [3, 4, 5])
def test_wilcoxon_cannot_reach_005_with_five_or_fewer_seeds(n):
    all_positive = np.arange(1, n + 1) / 100  # the most extreme data possible: every seed favours a
    p = sps.wilcoxon(all_positive, method="exact").pvalue
    assert p == pytest.approx(stats.wilcoxon_min_p(n)) and p > 0.05


def test_wilcoxon_min_p_six_seeds():
    assert stats.wilcoxon_min_p(5) == 0.0625 and stats.wilcoxon_min_p(6) == pytest.approx(0.03125)
