"""Pattern categorisation: embed the error analyses, k-means them, choose K by the elbow.

The paper embeds with all-mpnet-base-v2 and picks K by the elbow method; it does not say how the elbow is
found, what happens without a knee, or with few failures. Here: Kneedle (kneed) on the inertia curve, the
best silhouette when kneed finds no knee, one cluster when there are too few failures to split, and K
capped by the number of distinct points (identical analyses cannot be split: one cluster when all embed alike).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from pada.errors import PadaError
from pada.methods.embedders import BUNDLED_MINILM, resolve_embedder_path

SILHOUETTE_SAMPLE = 2000  # exact below it; a seeded sample above it, since the score costs O(n^2)


@dataclass
class Clustering:
    labels: list[int]
    k: int
    chosen_by: str  # elbow | silhouette | too_few | too_few_distinct
    ks: list[int]
    inertias: list[float]
    silhouettes: list[float]
    note: str = ""  # why K is smaller than asked for, in words for the report; empty when it is not
    embedding_truncated: int = 0  # analyses with a field cut at the embedder's max_seq_length (set by group)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_encoder(model: str, device: str = "cpu") -> Any:
    """The sentence-transformers encoder; PadaError when it can be neither found locally nor downloaded."""
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(resolve_embedder_path(model), device=device)
    except OSError as error:  # what huggingface_hub raises for a model it cannot find or fetch (offline)
        raise PadaError(
            f"cannot load the embedding model {model!r} ({str(error).splitlines()[0]}); download "
            f"it, pass a local dir, or use method.patterns.embedder={BUNDLED_MINILM}"
        ) from error


def encode(encoder: Any, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Unit-normalised embeddings (n, dim) and a boolean mask (n,) of the texts cut at ``max_seq_length``."""
    lengths = [len(ids) for ids in encoder.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    cut = np.array([n > encoder.max_seq_length for n in lengths], dtype=bool)
    vectors = encoder.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32), cut


def embed(texts: list[str], model: str, batch_size: int = 64, device: str = "cpu") -> tuple[np.ndarray, int]:
    """Unit-normalised embeddings (n, dim) (so Euclidean k-means is cosine clustering) and the truncated count."""
    vectors, cut = encode(load_encoder(model, device), texts, batch_size)
    return vectors, int(cut.sum())


def embed_fields(
    rows: list[tuple[str, ...]], model: str, batch_size: int = 64, device: str = "cpu"
) -> tuple[np.ndarray, int]:
    """Each field embedded on its own, the unit vectors concatenated and scaled to unit norm: (n, f * dim).

    A long first field cannot push a later one out of the embedder's ``max_seq_length`` window, and the
    cosine of two rows is the mean of their fields' cosines. Returns the vectors and how many rows had a
    field cut at ``max_seq_length``. Every row must have the same number of fields.
    """
    if not rows:
        return np.zeros((0, 0), dtype=np.float32), 0
    encoder = load_encoder(model, device)
    columns = [encode(encoder, list(column), batch_size) for column in zip(*rows, strict=True)]
    vectors = np.concatenate([v for v, _ in columns], axis=1) / np.sqrt(len(columns))
    cut = np.any(np.stack([c for _, c in columns]), axis=0)
    return vectors.astype(np.float32), int(cut.sum())


def _kmeans(x: np.ndarray, k: int, n_init: int, seed: int) -> KMeans:
    # n_init explicit: scikit-learn's 'auto' means a single k-means++ init since 1.4
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)


def _silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    # O(n^2): above SILHOUETTE_SAMPLE points, score a seeded sample (it only breaks ties when kneed finds no knee)
    sample = SILHOUETTE_SAMPLE if len(x) > SILHOUETTE_SAMPLE else None
    if not 2 <= len(set(labels.tolist())) <= len(x) - 1:  # undefined (sklearn raises): the worst score
        return -1.0
    return float(silhouette_score(x, labels, sample_size=sample, random_state=seed))


DISTINCT_DECIMALS = 6  # rows equal to this many decimals count as one point (float noise of the embedder)


def distinct_points(x: np.ndarray) -> int:
    """How many different rows ``x`` (n, d) has, after rounding to ``DISTINCT_DECIMALS`` decimals."""
    return (
        len(np.unique(np.round(np.asarray(x, dtype=np.float64), DISTINCT_DECIMALS), axis=0)) if len(x) else 0
    )


def cluster(
    x: np.ndarray, k_min: int = 2, k_max: int = 10, min_per_cluster: int = 3, n_init: int = 10, seed: int = 0
) -> Clustering:
    """Cluster the rows of ``x`` (n, d); K in [k_min, min(k_max, n // min_per_cluster, n - 1, distinct rows)].

    When that range is empty every row gets label 0 (K = 1) and ``note`` says why; never raises for a
    degenerate input (silhouette is undefined for one label, k-means cannot make more clusters than points).
    """
    n, distinct = len(x), distinct_points(x)
    upper = min(k_max, n // min_per_cluster, n - 1)
    if upper < k_min:
        note = f"{n} analyses are too few for {k_min} clusters of at least {min_per_cluster}"
        return Clustering([0] * n, 1, "too_few", [], [], [], note)
    if distinct < k_min:
        note = f"the {n} analyses embed to {distinct} distinct vector(s): fewer than the {k_min} clusters asked for"
        return Clustering([0] * n, 1, "too_few_distinct", [], [], [], note)
    note = ""
    if distinct < upper:
        note = f"K capped at {distinct}: the {n} analyses embed to only {distinct} distinct vectors"
        upper = distinct
    ks = list(range(k_min, upper + 1))
    # One BLAS/OpenMP thread: measured 2.5x faster than the default pools on 2 idle cores, 14.6x under load
    with threadpool_limits(1):
        fits = [_kmeans(x, k, n_init, seed) for k in ks]
        silhouettes = [_silhouette(x, f.labels_, seed) for f in fits]
    inertias = [float(f.inertia_) for f in fits]
    knee = _elbow(ks, inertias)
    if knee is not None:
        best, chosen_by = ks.index(knee), "elbow"
    else:
        best, chosen_by = int(np.argmax(silhouettes)), "silhouette"
    labels = [int(v) for v in fits[best].labels_]
    return Clustering(labels, ks[best], chosen_by, ks, inertias, silhouettes, note)


def _elbow(ks: list[int], inertias: list[float]) -> int | None:
    if len(ks) < 3:  # a knee needs a curve
        return None
    from kneed import KneeLocator

    knee = KneeLocator(ks, inertias, curve="convex", direction="decreasing", S=1.0).elbow
    return int(knee) if knee is not None else None
