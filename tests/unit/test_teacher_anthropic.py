"""Anthropic Messages (direct, and Claude on Bedrock) through the real SDK against a local HTTP server."""

from __future__ import annotations

import pytest
from teacher_support import teacher_cfg

from pada.teacher import FatalTeacherError, Teacher, TeacherCallFailed
from pada.teacher.fake_server import FakeLLMServer

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def test_anthropic_request_shape_retry_and_usage(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-SECRET")
    cfg = teacher_cfg("anthropic", tmp_path, base_url=server.url, **{"sampling.stop": ["\n\n"]})
    server.faults.extend(["429", "500"])
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.complete("generation", CHAT) == "echo: Say hello"
        row = teacher.usage()["roles"]["generation"]
    assert server.bodies[-1] == {
        "model": "claude-sonnet-4-5-20250929",
        "messages": [{"role": "user", "content": "Say hello"}],
        "system": "Be brief.",
        "max_tokens": 1024,
        "temperature": 0.7,
        "stop_sequences": ["\n\n"],
    }
    assert server.headers[-1]["Authorization"] == "Bearer sk-ant-test-SECRET"  # how SDK 2.14 sends the key
    assert (row["retries"], row["calls"], row["tokens_in"], row["tokens_out"]) == (2, 1, 4, 3)
    assert row["dollars"] == pytest.approx((4 * 3.0 + 3 * 15.0) / 1e6)


@pytest.mark.parametrize("fault", ["timeout", "badbody", "cutbody"])
def test_anthropic_transient_faults_are_retried(server, tmp_path, monkeypatch, fault):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-SECRET")
    cfg = teacher_cfg("anthropic", tmp_path, base_url=server.url, **{"client.timeout_s": 0.3})
    server.faults.append(fault)
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.complete("generation", CHAT) == "echo: Say hello"
        assert teacher.usage()["roles"]["generation"]["retries"] == 1
    assert len(server.bodies) == 2


def test_anthropic_401_names_the_variable(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-SECRET")
    cfg = teacher_cfg("anthropic", tmp_path, base_url=server.url)
    server.faults.append("401")
    with Teacher(cfg, cfg.client.cache.path) as teacher, pytest.raises(FatalTeacherError) as error:
        teacher.complete("generation", CHAT)
    assert "HTTP 401" in str(error.value) and "check ANTHROPIC_API_KEY" in str(error.value)
    assert len(server.bodies) == 1


def test_claude_on_bedrock_signs_and_invokes_the_model(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cfg = teacher_cfg("bedrock_claude", tmp_path, base_url=server.url, region="eu-west-1")
    server.faults.append("429")
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        assert teacher.provider.client.aws_region == "eu-west-1"
        assert teacher.complete("verification", CHAT) == "echo: Say hello"
        row = teacher.usage()["roles"]["verification"]
    body = server.bodies[-1]
    assert "anthropic_version" in body and "model" not in body  # Bedrock takes the model from the URL
    assert (body["system"], body["temperature"], body["max_tokens"]) == ("Be brief.", 0.0, 1024)
    auth = server.headers[-1]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIATESTKEY/") and "/eu-west-1/bedrock/" in auth
    assert "SECRET" not in auth
    assert (row["retries"], row["calls"]) == (1, 1)


@pytest.fixture
def bedrock_claude(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return teacher_cfg("bedrock_claude", tmp_path, base_url=server.url, region="eu-west-1")


MODEL_ERROR = "The system encountered an unexpected error during processing. Try your request again."


@pytest.mark.parametrize(
    "fault",
    [
        f"aws:424:ModelErrorException:{MODEL_ERROR}",  # anthropic-sdk-python#432
        "aws:408:ModelTimeoutException:Model has timed out in processing the request.",
        "aws:429:ModelNotReadyException:Model is not ready to serve inference requests.",
        f"aws:424::{MODEL_ERROR}",  # no x-amzn-ErrorType header: Bedrock's documented status decides
    ],
)
def test_claude_on_bedrock_try_again_errors_are_retried(server, bedrock_claude, fault):
    server.faults.append(fault)
    with Teacher(bedrock_claude, bedrock_claude.client.cache.path) as teacher:
        assert teacher.complete("verification", CHAT) == "echo: Say hello"
        assert teacher.usage()["roles"]["verification"]["retries"] == 1
    assert len(server.bodies) == 2


def test_claude_on_bedrock_too_long_rejects_that_request_only(server, bedrock_claude):
    server.faults.append("aws:400:ValidationException:Input is too long for requested model.")
    with Teacher(bedrock_claude, bedrock_claude.client.cache.path) as teacher:
        with pytest.raises(TeacherCallFailed, match="request rejected: .*Input is too long"):
            teacher.complete("verification", CHAT)
        assert teacher.complete("verification", [{"role": "user", "content": "bye"}]) == "echo: bye"
        assert teacher.usage()["roles"]["verification"]["errors"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        "aws:400:ValidationException:The provided model identifier is invalid.",
        "aws:404:ResourceNotFoundException:Model not found.",
        "aws:403:AccessDeniedException:You don't have access to the model with the specified model ID.",
    ],
)
def test_claude_on_bedrock_configuration_errors_are_fatal(server, bedrock_claude, fault):
    server.faults.append(fault)
    code = fault.split(":")[2]
    fatal = pytest.raises(FatalTeacherError, match=code)
    with Teacher(bedrock_claude, bedrock_claude.client.cache.path) as teacher, fatal:
        teacher.complete("verification", CHAT)
    assert len(server.bodies) == 1
