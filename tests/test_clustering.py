"""Pattern categorisation: K by elbow, silhouette fallback, one cluster for few failures."""

from __future__ import annotations

import numpy as np
import pytest

from pada.agent.clustering import BUNDLED_MINILM, cluster, embed


def _blobs(centres: int, per: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centres, 16)) * 10
    x = np.concatenate([m + rng.normal(scale=spread, size=(per, 16)) for m in means])
    return x, np.repeat(np.arange(centres), per)


def _same_partition(a, b) -> bool:
    pairs = {(int(x), int(y)) for x, y in zip(a, b, strict=True)}
    return len(pairs) == len(set(a)) == len(set(b))


def test_elbow_recovers_well_separated_clusters():
    x, truth = _blobs(4, 12, 0.5)
    result = cluster(x, k_max=10, seed=0)
    assert (result.k, result.chosen_by) == (4, "elbow")
    assert _same_partition(result.labels, truth)
    assert result.ks == list(range(2, 11)) and len(result.inertias) == len(result.silhouettes) == 9
    assert result.inertias == sorted(result.inertias, reverse=True)


def test_too_few_failures_make_one_cluster():
    x, _ = _blobs(2, 2, 0.1)
    result = cluster(x, min_per_cluster=3)
    assert (result.k, result.chosen_by, result.labels) == (1, "too_few", [0, 0, 0, 0])


def test_short_k_range_falls_back_to_silhouette():
    x, truth = _blobs(2, 4, 0.1)  # n=8 -> k in [2, 2]: no curve for a knee
    result = cluster(x, min_per_cluster=3)
    assert (result.k, result.chosen_by) == (2, "silhouette") and _same_partition(result.labels, truth)


def test_clustering_is_seeded():
    x, _ = _blobs(5, 6, 3.0)
    assert cluster(x, seed=1).labels == cluster(x, seed=1).labels


@pytest.mark.slow
def test_bundled_minilm_embeds_offline_and_groups_by_meaning():
    texts = ["The student added instead of multiplying.", "Multiplication was replaced by addition.",
             "The model forgot the capital of France.", "It did not recall which city is France's capital."]  # fmt: skip
    vectors, truncated = embed(texts, BUNDLED_MINILM)
    assert vectors.shape == (4, 384) and truncated == 0
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[1, 3]
