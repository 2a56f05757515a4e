"""Native structured output against the REAL llama.cpp server (llama-cpp-python 0.3.36 over the smallest Qwen
GGUF that `make teacher-gguf` assembled); skipped without the server or the file (tests/real/test_teacher_llamacpp.py)."""

from __future__ import annotations

import pytest
from test_teacher_llamacpp import real_gguf

from pada.teacher import StructuredOutputRefused, Teacher


# -- the real llama.cpp server (llama-cpp-python 0.3.36) ---------------------------------------------------------
@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from pada.teacher.local_server import LlamaCppServer

    with LlamaCppServer(real_gguf(), tmp_path_factory.mktemp("llama_server")) as server:
        yield server


@pytest.mark.slow  # one constrained answer and one refused request on one CPU thread: ~1-3 min
def test_local_llamacpp_config_gets_a_schema_shaped_answer_and_the_openai_form_is_one_error(
    llama_server, tmp_path
):
    """teacher=local_llamacpp sends its native form (json_object + schema): the server's grammar gives an
    answer in the role's schema through pada's own client. The OpenAI form gets llama-cpp-python's HTTP 500,
    which is one StructuredOutputRefused after one request, not six retries."""
    from conftest import compose_config
    from omegaconf import OmegaConf

    from pada.teacher import render
    from pada.teacher.schemas import ErrorAnalysis

    prompt = render(
        "error_analysis",
        "v2",
        schema=ErrorAnalysis,
        task_description="grade-school science multiple-choice",
        question="Which gas do plants take in from the air to make food?\nA. oxygen\nB. carbon dioxide",
        student_output="Plants breathe out carbon dioxide, so they take in oxygen. The answer is A.",
        extracted="A",
        gold="B",
        verdict="incorrect",
    )
    served = {"base_url": llama_server.base_url, "model": llama_server.model}
    cfg = OmegaConf.merge(compose_config(["teacher=local_llamacpp"]).teacher, served)
    cfg.client.cache.path = str(tmp_path / "t.sqlite")
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        answer = teacher.complete("error_analysis", prompt, schema=ErrorAnalysis)
        row = teacher.usage()["roles"]["error_analysis"]
    assert isinstance(answer, ErrorAnalysis) and answer.error.strip() and answer.missing_skill.strip()
    assert (row["calls"], row["reasks"], row["parse_failures"]) == (1, 0, 0)
    cfg.native_form = "openai_json_schema"
    cfg.client.cache.path = str(tmp_path / "t2.sqlite")
    with (
        Teacher(cfg, cfg.client.cache.path) as teacher,
        pytest.raises(StructuredOutputRefused, match="HTTP 500.*structured_output=prompt") as refused,
    ):
        teacher.complete("error_analysis", prompt, schema=ErrorAnalysis, max_tokens=8)
    assert teacher.usage()["roles"]["error_analysis"]["retries"] == 0, str(refused.value)


@pytest.mark.slow  # two answers of <= 256 tokens on one CPU thread: ~1 min idle
def test_the_grammar_closes_a_bounded_reason_that_would_otherwise_run_to_max_tokens(llama_server, tmp_path):
    """Verdict.max_chars reaches llama.cpp's grammar (native.grammar_json_schema): asked to explain at great
    length, the real teacher's reason closes at 400 characters and the verdict parses on the first call. Without
    the bound (measured with the 0.5B: 256 of 256 tokens, cut) the client would re-ask with 2x and 4x room."""
    from conftest import compose_config
    from omegaconf import OmegaConf

    from pada.teacher.schemas import Verdict

    chat = [
        {"role": "system", "content": "You check training problems. Reply with a JSON object."},
        {
            "role": "user",
            "content": "Problem: Which is the most likely effect of a faster planet rotation?\nA. density "
            "decreases\nB. years longer\nC. days shorter\nD. gravity stronger\nProposed answer: C.\nIs the "
            "problem well-posed and the answer correct? Explain your reason in great detail, repeating every "
            "step many times.",
        },
    ]
    served = {"base_url": llama_server.base_url, "model": llama_server.model}
    cfg = OmegaConf.merge(compose_config(["teacher=local_llamacpp"]).teacher, served)
    cfg.client.cache.path = str(tmp_path / "t.sqlite")
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        verdict = teacher.complete("verification", chat, schema=Verdict, max_tokens=256)
        row = teacher.usage()["roles"]["verification"]
    assert isinstance(verdict, Verdict) and len(verdict.reason) <= Verdict.max_chars["reason"]
    assert (row["calls"], row["truncated"], row["reasks"]) == (1, 0, 0)
