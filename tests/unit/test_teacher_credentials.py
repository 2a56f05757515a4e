"""Missing credentials fail in one line naming what to set, before any work; keys never leak into outputs."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from teacher_support import teacher_cfg

from pada.errors import PadaError
from pada.teacher import build_teacher

AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role probe in tests


@pytest.mark.parametrize(("name", "var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_api_key_names_the_variable(tmp_path, monkeypatch, name, var):
    monkeypatch.delenv(var, raising=False)
    with pytest.raises(PadaError) as error:
        build_teacher(teacher_cfg(name, tmp_path))
    message = str(error.value)
    assert message.startswith(f"teacher '{name}' needs {var} in the environment")
    assert "teacher=" in message and "\n" not in message
    assert not (tmp_path / "teacher.sqlite").exists()  # nothing was created


@pytest.mark.parametrize("name", ["bedrock_claude", "bedrock_converse"])
def test_missing_aws_credentials_and_region(tmp_path, monkeypatch, no_aws, name):
    with pytest.raises(PadaError, match=r"needs AWS credentials \(AWS_ACCESS_KEY_ID"):
        build_teacher(teacher_cfg(name, tmp_path))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-test-SECRET")
    with pytest.raises(PadaError, match="needs an AWS region; export AWS_REGION or set teacher.region"):
        build_teacher(teacher_cfg(name, tmp_path))


def test_local_endpoint_needs_no_key_and_none_builds_nothing(tmp_path):
    teacher = build_teacher(teacher_cfg("vllm_serve", tmp_path))
    try:
        assert teacher.provider.client.api_key == "EMPTY"
    finally:
        teacher.close()
    assert build_teacher(OmegaConf.create({"provider": "none"})) is None


def test_unknown_provider_and_script_are_one_line_errors(tmp_path):
    with pytest.raises(
        PadaError, match=r"teacher._target_='pada.teacher.providers.gpt.GPT' cannot be imported"
    ):
        build_teacher(teacher_cfg("scripted", tmp_path, _target_="pada.teacher.providers.gpt.GPT"))
    with pytest.raises(
        PadaError, match=r"unknown scripted teacher 'nope'; known: (\w+, )*echo, (\w+, )*fixture"
    ):  # other tests register more
        build_teacher(teacher_cfg("scripted", tmp_path, model="nope"))


def test_configs_hold_only_variable_names(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-789")
    teacher = build_teacher(teacher_cfg("openai", tmp_path))
    try:
        resolved = OmegaConf.to_yaml(teacher.cfg, resolve=True)
        assert "api_key_env: OPENAI_API_KEY" in resolved and "SECRET" not in resolved
        assert "SECRET" not in str(teacher.usage())
    finally:
        teacher.close()
