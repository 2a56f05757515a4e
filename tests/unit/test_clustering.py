"""Pattern categorisation: K by elbow, silhouette fallback, one cluster for few failures."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

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
    texts = [
        "The student added instead of multiplying.",
        "Multiplication was replaced by addition.",
        "The model forgot the capital of France.",
        "It did not recall which city is France's capital.",
    ]
    vectors, truncated = embed(texts, BUNDLED_MINILM)
    assert vectors.shape == (4, 384) and truncated == 0
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[1, 3]


@pytest.mark.parametrize(
    ("x", "k_range"),
    [
        (np.ones((12, 8)), (2, 10)),  # every analysis embeds to the same vector
        (
            np.ones((12, 8)) + np.random.default_rng(0).normal(scale=1e-9, size=(12, 8)),
            (2, 10),
        ),  # float noise
        (np.ones((12, 8)), (5, 5)),  # the fixed-K path (grouping=fixed_k)
        (np.repeat(np.eye(8)[:3], 4, axis=0), (5, 5)),  # fixed K above the 3 distinct points
    ],
)
def test_fewer_distinct_points_than_clusters_make_one_cluster_with_a_reason(x, k_range):
    result = cluster(x, k_min=k_range[0], k_max=k_range[1], min_per_cluster=1)
    assert (result.k, result.chosen_by, set(result.labels)) == (1, "too_few_distinct", {0})
    assert "distinct" in result.note


def test_k_is_capped_by_the_number_of_distinct_points():
    x = np.repeat(np.eye(8)[:3], 5, axis=0)  # 15 analyses, 3 distinct vectors
    result = cluster(x, k_min=2, k_max=10, min_per_cluster=1)
    assert max(result.ks) == 3 and result.k in (2, 3) and "capped at 3" in result.note
    assert all(-1.0 <= s <= 1.0 for s in result.silhouettes)
    assert len(set(result.labels)) == result.k


def test_grouping_of_identical_analyses_reports_one_pattern(monkeypatch):
    from pada.agent import patterns
    from pada.agent.patterns import Analysis, group

    monkeypatch.setattr(patterns, "embed_fields", lambda rows, model: (np.ones((len(rows), 4)), 0))
    analyses = [Analysis(f"v{i}", "Wrong. Missing skill: s", ("s", "Wrong.")) for i in range(9)]
    cfg = OmegaConf.create(
        {
            "grouping": "kmeans",
            "embedder": "x",
            "k_min": 2,
            "k_max": 10,
            "min_per_cluster": 3,
            "n_init": 2,
            "k": 5,
        }
    )
    for grouping in ("kmeans", "fixed_k"):
        cfg.grouping = grouping
        groups, result = group(analyses, cfg, seed=0)
        assert groups == [list(range(9))] and result.chosen_by == "too_few_distinct"


LONG_ERROR = "The student wrote a long chain of arithmetic that went wrong at one step of the working. " * 40


@pytest.mark.slow
def test_long_analyses_keep_their_missing_skill_apart_and_count_truncations():
    from pada.agent.clustering import embed_fields

    rows = [
        ("Carrying when adding two-digit numbers.", LONG_ERROR),
        ("Converting hours to minutes.", LONG_ERROR),
    ]
    vectors, truncated = embed_fields(rows, BUNDLED_MINILM)
    assert truncated == 2
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.95
    joined, cut = embed([f"{e} Missing skill: {s}" for s, e in rows], BUNDLED_MINILM)  # the old single text
    assert cut == 2 and float(joined[0] @ joined[1]) > 0.999  # the skill fell out of the window
