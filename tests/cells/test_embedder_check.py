"""A method's sentence embedder is checked local-only before any stage (and by preflight): a missing one is
one ``pada: error:`` line, exit 2, no ``.done.json``, whatever HF_HUB_OFFLINE says; nothing is downloaded.

The Hugging Face cache is pointed at an empty (or hand-filled) tmp dir, so no lookup can find or fetch a model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose_config
from huggingface_hub import constants

from pada.cli import main
from pada.errors import PadaError
from pada.methods.embedders import BUNDLED_MINILM, check_embedder
from pada.run.stages import DONE

MISSING = "no-such-org/no-such-embedder"


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the reviewer's case: online mode, model absent
    return cache


def _pada_cell(tiny_cell_overrides: list[str], embedder: str) -> list[str]:
    # stop_after=seed: on a build without the check the cell runs its seed stage and exits 0 (no network)
    return [
        *tiny_cell_overrides,
        "method=pada",
        "teacher=scripted",
        f"+embedder={embedder}",
        "run.stop_after=seed",
    ]


def _cache_snapshot(cache: Path, repo_id: str) -> None:
    """A minimal Hub cache entry (refs/main -> snapshots/<sha>/config.json), as huggingface_hub lays it out."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    sha = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    (repo / "snapshots" / sha).mkdir(parents=True)
    (repo / "snapshots" / sha / "config.json").write_text("{}")


def test_missing_embedder_fails_before_any_stage(capsys, tiny_cell_overrides, tmp_path, empty_hub_cache):
    try:
        code = main(["run", *_pada_cell(tiny_cell_overrides, MISSING)])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("pada: error: "), (code, err)
    for part in (repr(MISSING), str(empty_hub_cache), "+embedder=", "HF_HUB_OFFLINE unset"):
        assert part in err[0], err[0]
    runs = tmp_path / "runs"
    assert not [p for p in runs.rglob(DONE)] if runs.exists() else True


def test_preflight_names_the_missing_embedder(tiny_cell_overrides, empty_hub_cache):
    from pada.preflight import preflight

    problems, _ = preflight(_pada_cell(tiny_cell_overrides, MISSING))
    assert any(repr(MISSING) in p and str(empty_hub_cache) in p for p in problems), problems


def test_cached_or_local_embedder_passes(tiny_cell_overrides, tmp_path, empty_hub_cache):
    from pada.preflight import preflight

    _cache_snapshot(empty_hub_cache, "some-org/cached-embedder")
    local = tmp_path / "my_embedder"
    local.mkdir()
    for name in ("some-org/cached-embedder", str(local), BUNDLED_MINILM):
        check_embedder(name)
        problems, _ = preflight(_pada_cell(tiny_cell_overrides, name))
        assert not [p for p in problems if "embedd" in p], (name, problems)


def test_bare_sentence_transformers_name_resolves_in_cache(empty_hub_cache):
    _cache_snapshot(empty_hub_cache, "sentence-transformers/all-mpnet-base-v2")
    check_embedder("all-mpnet-base-v2")  # sentence-transformers' own short form
    with pytest.raises(PadaError, match="all-MiniLM-L12-v2"):
        check_embedder("all-MiniLM-L12-v2")


def test_only_methods_that_embed_are_checked(empty_hub_cache):
    from pada.methods.base import build_method

    def embedders(*overrides: str) -> tuple[str, ...]:
        return build_method(compose_config(list(overrides)).method).embedders()

    assert embedders("method=pada", f"+embedder={MISSING}") == (MISSING,)
    assert embedders("method=pada", f"+embedder={MISSING}", "method.patterns.grouping=single") == ()
    assert embedders("method=llms_as_instructors", f"method.embedder={MISSING}") == (MISSING,)
    assert (
        embedders("method=llms_as_instructors", f"method.embedder={MISSING}", "method.similarity=rouge") == ()
    )
    assert embedders("method=sft") == ()
