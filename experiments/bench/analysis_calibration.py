"""How often does each across-seed test call a difference significant when there is none (and when there is)?

Simulated per-item correctness (shared item difficulty, a per-seed training shift of sd SEED_SD, item noise);
not a result about any method. Usage: PYTHONPATH=. python experiments/bench/analysis_calibration.py
"""

import sys

import numpy as np

from analysis.stats import paired_bootstrap, paired_t

ITEMS, SIMS, RESAMPLES, ALPHA = 200, 300, 1000, 0.05


def simulate(n_seeds: int, seed_sd: float, effect: float, rng: np.random.Generator):
    difficulty = rng.uniform(size=ITEMS)

    def method(level: float) -> np.ndarray:
        shift = rng.normal(0, seed_sd, size=(n_seeds, 1))
        return (difficulty + rng.normal(0, 0.15, size=(n_seeds, ITEMS)) < level + shift).astype(float)

    return method(0.5 + effect), method(0.5)


def rates(n_seeds: int, seed_sd: float, effect: float) -> dict[str, float]:
    rng, hits = np.random.default_rng(1), {"bootstrap": 0, "paired_t": 0, "both": 0}
    for k in range(SIMS):
        a, b = simulate(n_seeds, seed_sd, effect, rng)
        boot = paired_bootstrap(a, b, np.random.default_rng(k), RESAMPLES).p_value < ALPHA
        t = paired_t(a.mean(1), b.mean(1))[1] < ALPHA
        hits["bootstrap"] += boot
        hits["paired_t"] += t
        hits["both"] += boot and t
    return {k: v / SIMS for k, v in hits.items()}


if __name__ == "__main__":
    grid = [(s, sd, e) for e in (0.0, 0.05) for s in (3, 5) for sd in (0.0, 0.03, 0.08)]
    for n_seeds, seed_sd, effect in grid if len(sys.argv) == 1 else [tuple(map(float, sys.argv[1:]))]:
        r = rates(int(n_seeds), seed_sd, effect)
        print(
            f"seeds={int(n_seeds)} seed_sd={seed_sd} effect={effect}: "
            + " ".join(f"{k}={v:.3f}" for k, v in r.items()),
            flush=True,
        )
