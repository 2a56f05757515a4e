"""Anthropic Messages API through ``anthropic.AsyncAnthropic``, and Claude on Bedrock via ``AsyncAnthropicBedrock``."""

from __future__ import annotations

import json
import os
from typing import Any

from pada.teacher.native import ANTHROPIC_TOOL
from pada.teacher.providers.aws import CODE_BY_STATUS, bedrock_error, check_aws, region
from pada.teacher.providers.base import (
    Call,
    Provider,
    TransientError,
    error_body,
    redact,
    require_env,
    retry_after,
    status_error,
)
from pada.types import Completion

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicMessages(Provider):
    name = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    native_forms = (ANTHROPIC_TOOL,)  # forced tool use: the schema is the tool's input_schema

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        import anthropic

        self._anthropic = anthropic
        self._secrets = [os.environ.get(self.key_env)]
        self.client = self._client(anthropic, cfg)

    def _client(self, anthropic: Any, cfg: Any) -> Any:
        return anthropic.AsyncAnthropic(
            api_key=os.environ[self.key_env],
            base_url=cfg.get("base_url") or None,
            max_retries=0,  # tenacity in the client owns retries
            timeout=float(cfg.client.timeout_s),
        )

    @classmethod
    def check_credentials(cls, cfg: Any) -> None:
        require_env(cls.key_env, cfg.provider, "teacher=bedrock_claude for Claude on AWS, or teacher=none")

    def request(self, call: Call) -> dict[str, Any]:
        """The exact keyword arguments sent to ``messages.create``."""
        system, turns = call.split_system()
        params = call.params
        request: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": turns,
            "max_tokens": params.max_new_tokens,
        }
        if system:
            request["system"] = system
        if params.stop:
            request["stop_sequences"] = list(params.stop)
        if self.cfg.get("send_sampling", True):
            # anthropic SDK 2.x has no typed sampling arguments; the API still takes them for the models
            # configured here, so they travel as body fields. Newer models that refuse them: send_sampling=false.
            sampling = {"temperature": params.temperature}
            if (
                params.top_p < 1.0
            ):  # Claude 4.x refuses temperature and top_p together unless top_p is asked for
                sampling["top_p"] = params.top_p
            request["extra_body"] = sampling
        request.update(self.structured_fields(call))
        return request

    async def complete(self, call: Call) -> Completion:
        errors = self._anthropic
        request = self.request(call)
        try:
            response = await self.client.messages.create(**request)
        except errors.APIStatusError as error:
            raise self.status_error(error) from None
        except (errors.APIConnectionError, errors.APIResponseValidationError, ValueError) as error:
            # ValueError: a body cut short or not JSON (a dropped connection, a proxy's error page)
            raise TransientError(f"teacher {self.cfg.provider}: {type(error).__name__}") from None
        if not hasattr(response, "content"):  # the SDK hands back a non-JSON body as a plain str
            raise TransientError(f"teacher {self.cfg.provider}: malformed response body")
        text = answer_text(response.content)
        return Completion(
            text=text,
            prompt_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            finish_reason=_FINISH.get(response.stop_reason, str(response.stop_reason)),
        )

    def status_error(self, error: Any) -> Exception:
        """The exception for an SDK ``APIStatusError`` (pada's three kinds, base.status_error)."""
        message = f"teacher {self.cfg.provider} HTTP {error.status_code}: {redact(error_body(error), self._secrets)}"
        return status_error(error.status_code, message, self.credential_name(), error.response.headers)

    def credential_name(self) -> str:
        return self.key_env

    async def aclose(self) -> None:
        await self.client.close()


class AnthropicBedrock(AnthropicMessages):
    """Claude on Amazon Bedrock: same Messages shape, AWS SigV4 auth from the standard credential chain."""

    name = "bedrock_claude"

    def _client(self, anthropic: Any, cfg: Any) -> Any:
        self._secrets = []
        return anthropic.AsyncAnthropicBedrock(
            aws_region=region(cfg),
            base_url=cfg.get("base_url") or None,
            max_retries=0,
            timeout=float(cfg.client.timeout_s),
        )

    @classmethod
    def check_credentials(cls, cfg: Any) -> None:
        check_aws(cfg)

    def status_error(self, error: Any) -> Exception:
        """Bedrock's error code (the ``x-amzn-ErrorType`` header, else the code its status is documented
        with) decides, as for Converse: a 424 ModelErrorException is retried, not fatal."""
        header = error.response.headers.get("x-amzn-errortype") or ""
        code = header.split(":")[0] or CODE_BY_STATUS.get(error.status_code, "")
        message = (
            f"teacher {self.cfg.provider} HTTP {error.status_code} {code}: {redact(error_body(error), [])}"
        )
        if not code:
            return status_error(error.status_code, message, self.credential_name(), error.response.headers)
        failure = bedrock_error(code, message)
        if isinstance(failure, TransientError):
            failure.retry_after = retry_after(error.response.headers)
        return failure

    def credential_name(self) -> str:
        return "your AWS credentials and Bedrock model access"


def answer_text(content: list[Any]) -> str:
    """The answer in a Messages response's content blocks: a forced tool's ``input`` as JSON (native
    structured output), else the text blocks joined."""
    for block in content:
        if getattr(block, "type", "") == "tool_use":
            return json.dumps(block.input, ensure_ascii=False)
    return "".join(block.text for block in content if getattr(block, "type", "") == "text")
