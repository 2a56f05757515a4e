"""Bedrock Converse at the boto3 boundary: botocore's Stubber checks the exact request and replays answers."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from teacher_support import teacher_cfg

from pada.teacher import FatalTeacherError, Teacher, TeacherCallFailed
from pada.teacher.providers.bedrock_converse import BedrockConverse

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
EXPECTED = {
    "modelId": MODEL,
    "messages": [{"role": "user", "content": [{"text": "Say hello"}]}],
    "system": [{"text": "Be brief."}],
    "inferenceConfig": {"maxTokens": 1024, "temperature": 0.7, "stopSequences": ["END"]},
}
ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "hello"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 2, "totalTokens": 14},
    "metrics": {"latencyMs": 5},
}


@pytest.fixture
def stubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    cfg = teacher_cfg("bedrock_converse", tmp_path, region="us-east-1", **{"sampling.stop": ["END"]})
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield cfg, client, stubber


def test_converse_request_retry_and_usage(stubbed):
    cfg, client, stubber = stubbed
    stubber.add_client_error("converse", "ThrottlingException", "slow down", 429, expected_params=EXPECTED)
    stubber.add_response("converse", ANSWER, EXPECTED)
    with Teacher(cfg, cfg.client.cache.path, provider=BedrockConverse(cfg, client=client)) as teacher:
        assert teacher.complete("generation", CHAT) == "hello"
        assert teacher.complete("generation", CHAT) == "hello"  # a cache hit: the stubber has no more answers
        row = teacher.usage()["roles"]["generation"]
    stubber.assert_no_pending_responses()
    assert (row["retries"], row["calls"], row["cache_hits"], row["tokens_in"], row["tokens_out"]) == (
        1,
        1,
        1,
        12,
        2,
    )
    assert row["dollars"] == pytest.approx((12 * 3.0 + 2 * 15.0) / 1e6)


def test_converse_access_denied_is_fatal_and_not_retried(stubbed):
    cfg, client, stubber = stubbed
    stubber.add_client_error("converse", "AccessDeniedException", "no model access", 403)
    provider = BedrockConverse(cfg, client=client)
    fatal = pytest.raises(FatalTeacherError, match="AccessDeniedException.*check your AWS credentials")
    with Teacher(cfg, cfg.client.cache.path, provider=provider) as teacher, fatal:
        teacher.complete("generation", CHAT)
    stubber.assert_no_pending_responses()


def test_converse_client_is_configured_for_one_attempt_and_the_region(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    cfg = teacher_cfg("bedrock_converse", tmp_path, region="ap-south-1", **{"client.max_concurrency": 7})
    provider = BedrockConverse(cfg)
    config = provider.client.meta.config
    assert provider.client.meta.region_name == "ap-south-1"
    assert (config.retries["total_max_attempts"], config.max_pool_connections, config.read_timeout) == (
        1,
        7,
        120,
    )


# Bedrock's documented error codes (Converse API reference, "Errors"), with a message each might carry.
MODEL_ERROR = "The system encountered an unexpected error during processing. Try your request again."


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ModelErrorException", 424),
        ("ModelTimeoutException", 408),
        ("ModelNotReadyException", 429),
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("ThrottlingException", 429),
    ],
)
def test_converse_try_again_codes_are_retried(stubbed, code, status):
    cfg, client, stubber = stubbed
    stubber.add_client_error("converse", code, MODEL_ERROR, status, expected_params=EXPECTED)
    stubber.add_response("converse", ANSWER, EXPECTED)
    with Teacher(cfg, cfg.client.cache.path, provider=BedrockConverse(cfg, client=client)) as teacher:
        assert teacher.complete("generation", CHAT) == "hello"
        assert teacher.usage()["roles"]["generation"]["retries"] == 1
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "message",
    [
        "Input is too long for requested model.",
        "The model returned the following errors: prompt is too long: 215000 tokens > 200000 maximum",
        "Too many input tokens. Max input tokens: 8192, request input token count: 9001",
    ],
)
def test_converse_too_long_rejects_that_request_only(stubbed, message):
    cfg, client, stubber = stubbed
    stubber.add_client_error("converse", "ValidationException", message, 400)
    stubber.add_response("converse", ANSWER)
    other = [{"role": "user", "content": "Say bye"}]
    with Teacher(cfg, cfg.client.cache.path, provider=BedrockConverse(cfg, client=client)) as teacher:
        with pytest.raises(TeacherCallFailed, match="request rejected: .*ValidationException"):
            teacher.complete("generation", CHAT)
        assert teacher.complete("generation", other) == "hello"  # the run goes on
        row = teacher.usage()["roles"]["generation"]
    assert (row["errors"], row["retries"], row["calls"]) == (1, 0, 1)
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "message", "hint"),
    [
        ("ValidationException", "The provided model identifier is invalid.", "teacher.model"),
        (
            "ValidationException",
            "Invocation of model ID anthropic.claude-3-5-sonnet-20241022-v2:0 with on-demand throughput "
            "isn't supported. Retry your request with the ID or ARN of an inference profile.",
            "teacher.model",
        ),
        ("ValidationException", "temperature: range: 0..1", "teacher"),
        ("ResourceNotFoundException", "Model not found.", "teacher.model"),
        ("AccessDeniedException", "You don't have access to the model.", "check your AWS credentials"),
    ],
)
def test_converse_configuration_errors_are_fatal_and_not_retried(stubbed, code, message, hint):
    cfg, client, stubber = stubbed
    stubber.add_client_error("converse", code, message, 400)
    fatal = pytest.raises(FatalTeacherError, match=code)
    provider = BedrockConverse(cfg, client=client)
    with Teacher(cfg, cfg.client.cache.path, provider=provider) as teacher, fatal as error:
        teacher.complete("generation", CHAT)
    assert hint in str(error.value)
    stubber.assert_no_pending_responses()
