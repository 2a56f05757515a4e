"""Significance tests for few-seed comparisons of per-item correctness. Pure functions of arrays.

Conventions: ``a`` and ``b`` are (seeds × items) 0/1 matrices for two methods, paired on both axes
(row s is the same training seed, column i the same test item). Differences are ``a − b``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

# Resample rows are drawn in blocks so 10k resamples × ~1.3k items stay within a few MB of memory.
_BLOCK = 1000


@dataclass(frozen=True)
class BootstrapResult:
    diff: float  # observed mean(a) − mean(b)
    ci_low: float
    ci_high: float
    p_value: float  # two-sided, from the null-centred bootstrap distribution
    n_resamples: int
    n_seeds: int
    n_items: int
    confidence: float
    degenerate: bool = False  # every seed × item difference equal: no spread, p undefined (NaN)


def _resampled_diffs(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Crossed two-level bootstrap: each replicate draws seeds and items with replacement; the same item
    draw applies to every drawn seed, since the test items are shared across seeds (crossed, not nested).
    Seed draws become multinomial weights (w_s · d / S is the replicate's per-item mean over seeds), item
    draws are gathered by index."""
    n_seeds, n_items = d.shape
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _BLOCK):
        size = min(_BLOCK, n_resamples - start)
        w_seed = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=size)
        per_item = w_seed @ d / n_seeds
        items = rng.integers(0, n_items, size=(size, n_items))
        out[start : start + size] = np.take_along_axis(per_item, items, axis=1).mean(axis=1)
    return out


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Two-level paired bootstrap (seeds, then items) of mean(a) − mean(b): percentile CI and p-value.

    p = (1 + #{|t* − t| ≥ |t|}) / (B + 1): the share of null-centred replicates at least as extreme as the
    observed difference (the +1 keeps p > 0, the smallest a B-resample bootstrap can honestly claim).
    When every difference a − b is the same (``zero_spread``), p is NaN and ``degenerate`` is True.
    """
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired matrices must have one non-empty shape, got {a.shape} and {b.shape}")
    d = a - b
    observed = float(d.mean())
    diffs = _resampled_diffs(d, n_resamples, rng)
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    extreme = np.count_nonzero(np.abs(diffs - observed) >= abs(observed) - 1e-12)
    p = (1 + extreme) / (n_resamples + 1)
    degenerate = zero_spread(d)
    if degenerate:  # every replicate equals the observed Δ: 1/(B+1) or 1 would be the resampling's artefact
        p = float("nan")
    return BootstrapResult(
        observed, float(low), float(high), float(p), n_resamples, *d.shape, confidence, degenerate
    )


@dataclass(frozen=True)
class McNemarResult:
    b_only: int  # items a got wrong and b right
    a_only: int  # items a got right and b wrong
    p_value: float


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> McNemarResult:
    """Exact McNemar on one seed's paired items: a two-sided binomial test on the discordant pairs."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = 1.0 if n == 0 else min(1.0, 2 * stats.binom.cdf(min(a_only, b_only), n, 0.5))
    return McNemarResult(b_only=b_only, a_only=a_only, p_value=float(p))


def mcnemar_per_seed(a: np.ndarray, b: np.ndarray) -> list[McNemarResult]:
    return [
        mcnemar_exact(row_a, row_b) for row_a, row_b in zip(np.atleast_2d(a), np.atleast_2d(b), strict=True)
    ]


# Values closer together than this are identical: their spread is floating-point noise (accuracies are
# fractions, so float error of a mean over a few thousand items is ~1e-16).
DEGENERATE_SPREAD = 1e-12


def zero_spread(values: np.ndarray) -> bool:
    """True when ``values`` hold at least two numbers and all are equal up to ``DEGENERATE_SPREAD``."""
    values = np.asarray(values, float)
    return values.size > 1 and float(np.ptp(values)) <= DEGENERATE_SPREAD


def t_degenerate(a_means: np.ndarray, b_means: np.ndarray) -> bool:
    """True when every per-seed difference a_s − b_s is the same: the paired t's denominator is zero (or
    float noise), so its t is ±inf or 0/0 and its p (≈1e-32 from noise) means nothing."""
    return zero_spread(np.asarray(a_means, float) - np.asarray(b_means, float))


def welch_degenerate(a_means: np.ndarray, b_means: np.ndarray) -> bool:
    """True when both groups have zero spread: Welch's denominator sqrt(s_a²/n_a + s_b²/n_b) is zero (or
    float noise), so scipy reports t ≈ ±1e15 and p ≈ 1e-31 for [.5,.5,.5] vs [.4,.4,.4] (scipy#14418)."""
    return zero_spread(a_means) and zero_spread(b_means)


def paired_t(a_means: np.ndarray, b_means: np.ndarray) -> tuple[float, float]:
    """Paired t-test across seeds (seed s of a paired with seed s of b): (t, two-sided p).

    Undefined (NaN, NaN) when the per-seed differences have zero variance (``t_degenerate``)."""
    if t_degenerate(a_means, b_means):
        return float("nan"), float("nan")
    with warnings.catch_warnings():  # identical seeds give a NaN t; it is reported, not warned about
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_rel(a_means, b_means)
    return float(result.statistic), float(result.pvalue)


def welch_t(a_means: np.ndarray, b_means: np.ndarray) -> tuple[float, float]:
    """Welch's unequal-variance t-test across seeds: (t, two-sided p).

    Undefined (NaN, NaN) when neither group varies (``welch_degenerate``); one constant group is fine."""
    if welch_degenerate(a_means, b_means):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(a_means, b_means, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def holm(p_values: list[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm step-down adjustment: (reject, adjusted p). statsmodels' default is 'hs' (Holm–Šidák), so the
    method is named explicitly."""
    if len(p_values) == 0:
        return np.array([], bool), np.array([], float)
    reject, adjusted, _, _ = multipletests(np.asarray(p_values, float), alpha=alpha, method="holm")
    return reject, adjusted


def wilcoxon_min_p(n_seeds: int) -> float:
    """Smallest two-sided exact Wilcoxon signed-rank p with n paired seeds: 2/2^n (all signs agree).
    With ≤5 seeds it is ≥0.0625, so Wilcoxon can never reach p<0.05; we do not use it for markers."""
    return 2.0 / 2**n_seeds


POWER = (
    0.8  # the conventional design power (Cohen 1988): a real effect of the MDE's size is missed 1 time in 5
)


def _t_power() -> TTestPower:
    return TTestPower()  # the noncentral t with n − 1 degrees of freedom: the one-sample (paired) t's power


def minimum_detectable_effect(sd_diff: float, n_seeds: int, alpha: float, power: float = POWER) -> float:
    """The smallest true mean paired difference that a two-sided paired t across ``n_seeds`` seeds detects
    with probability ``power`` at level ``alpha``, in the units of ``sd_diff`` (the sample sd, ddof=1, of
    the per-seed differences a_s − b_s): statsmodels' ``TTestPower().solve_power`` effect size (Cohen's d
    of the differences) times ``sd_diff``. NaN when it is undefined: fewer than 2 seeds, or a zero or NaN
    ``sd_diff`` (as every test here, zero variance is not a number)."""
    if n_seeds < 2 or not np.isfinite(sd_diff) or sd_diff <= DEGENERATE_SPREAD:
        return float("nan")
    d = _t_power().solve_power(effect_size=None, nobs=n_seeds, alpha=alpha, power=power)
    return float(d) * float(sd_diff)


def seeds_needed(effect: float, sd_diff: float, alpha: float, power: float = POWER) -> int:
    """The fewest seeds at which a two-sided paired t detects a true mean difference ``effect`` with
    probability ``power`` at level ``alpha``, given the per-seed differences' sd ``sd_diff`` (same units):
    statsmodels' ``TTestPower().solve_power(nobs=None)``, rounded up. Raises ValueError for a non-positive
    ``effect`` or ``sd_diff``."""
    if effect <= 0 or sd_diff <= 0:
        raise ValueError(f"effect and sd_diff must be positive, got {effect} and {sd_diff}")
    n = _t_power().solve_power(effect_size=effect / sd_diff, nobs=None, alpha=alpha, power=power)
    return max(2, math.ceil(float(np.squeeze(n)) - 1e-9))
