"""The OpenAI-compatible provider against a real local HTTP server, with injected latency and faults."""

from __future__ import annotations

import logging
import time

import pytest
from teacher_support import teacher_cfg

from pada.teacher import FatalTeacherError, Request, Teacher, TeacherCallFailed
from pada.teacher.fake_server import FakeLLMServer, responder_from_json
from pada.teacher.schemas import GeneratedExample

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
GOOD = {"question": "Tom has 3 apples and buys 4. How many?", "solution": "3 + 4 = 7", "answer": "7"}


@pytest.fixture
def server():
    with FakeLLMServer(latency_s=0.01, responder=responder_from_json({"JSON please": GOOD})) as srv:
        yield srv


def _teacher(server, tmp_path, **overrides) -> Teacher:
    cfg = teacher_cfg("vllm_serve", tmp_path, base_url=f"{server.url}/v1", model="served-model", **overrides)
    return Teacher(cfg, cfg.client.cache.path)


def test_request_shape_and_usage_accounting(server, tmp_path):
    overrides = {"pricing.input_per_mtok": 2.0, "pricing.output_per_mtok": 10.0}
    with _teacher(server, tmp_path, **overrides) as teacher:
        assert teacher.complete("generation", CHAT, sample_index=3) == "echo: Say hello"
        usage = teacher.usage()
    body = server.bodies[0]
    assert body["model"] == "served-model"
    assert body["messages"] == CHAT
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (1024, 0.7, 1.0, 3)
    row = usage["roles"]["generation"]
    assert (row["calls"], row["tokens_in"], row["tokens_out"]) == (1, 4, 3)  # server counts words
    assert row["dollars"] == pytest.approx((4 * 2.0 + 3 * 10.0) / 1e6)
    assert usage["total"]["dollars"] == row["dollars"]


def test_role_overrides_set_temperature(server, tmp_path):
    with _teacher(server, tmp_path) as teacher:
        teacher.complete("error_analysis", CHAT)
    assert server.bodies[0]["temperature"] == 0.0


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "badbody", "cutbody"])
def test_transient_fault_is_retried_then_succeeds(server, tmp_path, fault):
    server.faults.extend([fault, fault])
    with _teacher(server, tmp_path, **{"client.timeout_s": 0.3}) as teacher:
        assert teacher.complete("generation", CHAT) == "echo: Say hello"
        row = teacher.usage()["roles"]["generation"]
    assert len(server.bodies) == 3
    assert (row["retries"], row["calls"], row["errors"]) == (2, 1, 0)


def test_401_is_not_retried_and_raises_one_clear_line(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PADA_TEST_KEY", "sk-test-SECRET-123")
    with _teacher(server, tmp_path, api_key_env="PADA_TEST_KEY") as teacher:
        server.faults.append("401")
        with pytest.raises(FatalTeacherError) as error:
            teacher.complete("generation", CHAT)
    assert len(server.bodies) == 1
    message = str(error.value)
    assert "HTTP 401" in message and "check PADA_TEST_KEY" in message and "\n" not in message
    assert "SECRET" not in message
    assert server.headers[0]["Authorization"] == "Bearer sk-test-SECRET-123"  # the key did reach the server


def test_fatal_error_in_a_batch_stops_the_batch(server, tmp_path):
    server.faults.append("401")
    with _teacher(server, tmp_path) as teacher, pytest.raises(FatalTeacherError):
        teacher.complete_many([Request("generation", CHAT, i) for i in range(3)])


def test_exhausted_retries_are_counted_and_returned_as_none(server, tmp_path):
    server.faults.extend(["500"] * 3)
    limits = {
        "client.retry.max_attempts": 3,
        "client.max_concurrency": 1,  # serial: faults hit one request
        "client.max_error_rate": 1.0,
    }  # tolerant: count and go on (the default stops at the first)
    with _teacher(server, tmp_path, **limits) as teacher:
        with pytest.raises(TeacherCallFailed, match="failed after 3 attempts"):
            teacher.complete("verification", CHAT)
        server.faults.extend(["500"] * 3)
        answers = teacher.complete_many([Request("verification", CHAT, 1), Request("verification", CHAT, 2)])
        row = teacher.usage()["roles"]["verification"]
    assert answers == [None, "echo: Say hello"]
    assert (row["errors"], row["retries"], row["calls"]) == (2, 4, 1)


def test_concurrency_limit_is_respected(tmp_path):
    with (
        FakeLLMServer(latency_s=0.2) as server,
        _teacher(server, tmp_path, **{"client.max_concurrency": 4}) as teacher,
    ):
        answers = teacher.samples("generation", CHAT, 20)
        assert server.max_in_flight == 4
    assert answers == ["echo: Say hello"] * 20


def test_request_rate_limit_spaces_requests(server, tmp_path):
    # 1200/min = 20/s with a burst of 20: 40 requests need at least ~1 s.
    with _teacher(server, tmp_path, **{"client.requests_per_minute": 1200}) as teacher:
        start = time.perf_counter()
        teacher.samples("generation", CHAT, 40)
        elapsed = time.perf_counter() - start
    assert elapsed >= 0.9


def test_garbage_json_is_reasked_and_parsed(server, tmp_path):
    server.faults.append("garbage")
    chat = [{"role": "user", "content": "JSON please"}]
    with _teacher(server, tmp_path) as teacher:
        example = teacher.complete("generation", chat, schema=GeneratedExample)
        row = teacher.usage()["roles"]["generation"]
    assert example == GeneratedExample(**GOOD)
    assert (row["reasks"], row["calls"], row["parse_failures"]) == (1, 2, 0)
    reask = server.bodies[1]["messages"]
    assert [m["role"] for m in reask] == ["user", "assistant", "user"]
    assert reask[1]["content"] == "{ this is not json"


def test_truncated_answer_is_counted_and_reasked(server, tmp_path):
    server.faults.extend(["truncate", "truncate", "truncate"])
    chat = [{"role": "user", "content": "JSON please"}]
    with _teacher(server, tmp_path) as teacher:
        assert teacher.complete_many([Request("generation", chat, 0, GeneratedExample)]) == [None]
        row = teacher.usage()["roles"]["generation"]
    assert (row["truncated"], row["reasks"], row["parse_failures"], row["calls"]) == (3, 2, 1, 3)


def test_key_never_reaches_logs_or_usage(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PADA_TEST_KEY", "sk-test-SECRET-456")
    caplog.set_level(logging.DEBUG)
    server.faults.extend(["429", "401"])
    with _teacher(server, tmp_path, api_key_env="PADA_TEST_KEY") as teacher:
        with pytest.raises(FatalTeacherError) as error:
            teacher.complete("generation", CHAT)
        usage = teacher.usage()
    assert "SECRET" not in caplog.text + str(usage) + str(error.value)
    assert "SECRET" not in (tmp_path / "teacher.sqlite").read_bytes().decode("latin-1")


def test_a_rejected_request_is_skipped_and_counted_not_retried(server, tmp_path):
    server.faults.append("400")  # e.g. a prompt over the context length
    limits = {"client.max_concurrency": 1, "client.max_error_rate": 1.0}  # serial; tolerant, not strict
    with _teacher(server, tmp_path, **limits) as teacher:
        answers = teacher.samples("generation", CHAT, 3)
        row = teacher.usage()["roles"]["generation"]
    assert answers == [None, "echo: Say hello", "echo: Say hello"]
    assert (row["errors"], row["retries"], row["calls"]) == (1, 0, 2)
    assert len(server.bodies) == 3


def test_retry_after_header_is_honoured(server, tmp_path):
    server.retry_after_s = 0.4  # backoff alone would wait at most 0.01-0.02 s here
    server.faults.append("429")
    with _teacher(server, tmp_path, **{"client.retry.max_wait_s": 0.5}) as teacher:
        start = time.perf_counter()
        teacher.complete("generation", CHAT)
        elapsed = time.perf_counter() - start
    assert 0.4 <= elapsed < 5.0


def test_openai_config_sends_max_completion_tokens_and_the_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-000")
    cfg = teacher_cfg("openai", tmp_path, base_url=f"{server.url}/v1")
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        teacher.complete("paraphrase", CHAT)
    body = server.bodies[0]
    assert (body["model"], body["max_completion_tokens"], "max_tokens" in body) == (
        "gpt-4o-mini-2024-07-18",
        1024,
        False,
    )
    assert server.headers[0]["Authorization"] == "Bearer sk-test-SECRET-000"
