"""REAL: per-role routing (``teacher.routes``) across two llama.cpp servers on 127.0.0.1, one per GGUF, as
``make demo-real`` with ``DEMO_REAL_ANALYSIS_TEACHER`` runs them. Skips cleanly without llama-cpp-python
(`make teacher-llamacpp`) or without both Qwen GGUFs (`make teacher-gguf`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import compose_config

from pada.preflight.checks import check_teacher
from pada.teacher import Request, Teacher, render
from pada.teacher.gguf_parts import PACKS, gguf_path
from pada.teacher.local_server import LlamaCppServer
from pada.teacher.schemas import Paraphrase, PatternSummary

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "pada"  # the Makefile's CACHE_DIR, shared with `make teacher-gguf`
SMALL, LARGE = "qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m"


def both_ggufs() -> tuple[Path, Path]:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("needs llama-cpp-python's server: make teacher-llamacpp")
    paths = tuple(gguf_path(CACHE, PACKS[name]) for name in (SMALL, LARGE))
    if not all(p.is_file() and p.with_suffix(".json").is_file() for p in paths):
        pytest.skip("needs both Qwen GGUFs: make teacher-gguf")
    return paths


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    small, large = both_ggufs()
    folder = tmp_path_factory.mktemp("routing_servers")
    with LlamaCppServer(small, folder / "small") as first, LlamaCppServer(large, folder / "large") as second:
        yield first, second


def routed_cfg(first, second, route_url: str | None = None):
    route = "+teacher.routes.analysis"
    return compose_config(
        [
            "teacher=local_llamacpp",
            f"teacher.base_url={first.base_url}",
            f"teacher.model={first.model}",
            f"{route}.roles=[pattern_summary,strategy]",
            f"{route}.teacher.model={second.model}",
            f"{route}.teacher.base_url={route_url or second.base_url}",
        ]
    )


@pytest.mark.slow  # two servers load (~10 s), two short answers: ~1-2 min on a shared 2-core host
def test_each_role_is_answered_by_its_own_real_server(two_servers, tmp_path):
    first, second = two_servers
    cfg = routed_cfg(first, second)
    assert check_teacher(cfg) is None  # each endpoint serves its route's model
    summary = render(
        "pattern_summary",
        "v2",
        schema=PatternSummary,
        task_description="science multiple-choice questions",
        analyses=["Chose 'tornado' for a lasting high-pressure system. Missing skill: weather systems"],
    )
    chat = [{"role": "user", "content": "Rewrite in other words: Which gas do plants absorb from the air?"}]
    with Teacher(cfg.teacher, tmp_path / "t.sqlite") as teacher:
        pattern, paraphrase = teacher.complete_many(
            [
                Request("pattern_summary", summary, 0, PatternSummary, max_tokens=60),
                Request("paraphrase", chat, 0, Paraphrase, max_tokens=40),
            ]
        )
        usage = teacher.usage()
    assert pattern is not None and paraphrase is not None  # the grammar holds on both servers
    small, large = (f"openai/{name}@{cfg.teacher.model_version}" for name in (SMALL, LARGE))
    assert usage["role_models"] == {"paraphrase": small, "pattern_summary": large}
    assert usage["by_model"][large]["calls"] == usage["by_model"][small]["calls"] == 1


@pytest.mark.slow  # preflight's probe only: a few seconds once the servers run
def test_a_route_pointed_at_the_other_model_s_server_is_a_preflight_problem(two_servers):
    first, second = two_servers
    # llama.cpp answers any model name with its own model: the 0.5B would answer as the 1.5B, silently
    problem = check_teacher(routed_cfg(first, second, first.base_url))
    assert f"(teacher.routes.analysis) model {LARGE}" in problem and f"serves only '{SMALL}'" in problem
