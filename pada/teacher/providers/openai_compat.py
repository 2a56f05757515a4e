"""OpenAI Chat Completions through ``openai.AsyncOpenAI``: OpenAI itself, a `vllm serve` endpoint, any base URL."""

from __future__ import annotations

import os
from typing import Any

from pada.teacher.native import JSON_OBJECT_SCHEMA, OPENAI_JSON_SCHEMA, VLLM
from pada.teacher.providers.base import (
    Call,
    Provider,
    TransientError,
    error_body,
    redact,
    require_env,
    status_error,
)
from pada.types import Completion

_FINISH = {"stop": "stop", "length": "length"}


class OpenAICompatible(Provider):
    name = "openai"
    # teacher.native_form: OpenAI's json_schema (default), llama-cpp-python's json_object + schema, vLLM's own
    native_forms = (OPENAI_JSON_SCHEMA, JSON_OBJECT_SCHEMA, VLLM)

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        import openai

        self._openai = openai
        self._key = self._api_key(cfg)
        self.client = openai.AsyncOpenAI(
            api_key=self._key,
            base_url=cfg.get("base_url") or None,
            max_retries=0,  # tenacity in the client owns retries
            timeout=float(cfg.client.timeout_s),
        )

    @staticmethod
    def _api_key(cfg: Any) -> str:
        var = cfg.get("api_key_env")
        # A local `vllm serve` without --api-key accepts any token; the SDK insists on a non-empty one.
        return os.environ[var] if var else "EMPTY"

    @classmethod
    def check_credentials(cls, cfg: Any) -> None:
        if cfg.get("api_key_env"):
            require_env(
                cfg.api_key_env, cfg.provider, "teacher=vllm_serve for a local endpoint, or teacher=none"
            )

    def request(self, call: Call) -> dict[str, Any]:
        """The exact keyword arguments sent to ``chat.completions.create``."""
        params = call.params
        request = {
            "model": self.cfg.model,
            "messages": call.chat(),
            "temperature": params.temperature,
            "top_p": params.top_p,
            self.cfg.get("max_tokens_field", "max_tokens"): params.max_new_tokens,
            "seed": params.seed,
        }
        if params.stop:
            request["stop"] = list(params.stop)
        request.update(self.structured_fields(call))
        if extra := self.cfg.get("extra_body"):  # server-specific fields the SDK does not know (llama-server)
            request["extra_body"] = {**request.get("extra_body", {}), **extra}
        return request

    async def complete(self, call: Call) -> Completion:
        errors = self._openai
        request = self.request(call)
        try:
            response = await self.client.chat.completions.create(**request)
        except errors.APIStatusError as error:
            message = f"teacher {self.cfg.provider} HTTP {error.status_code}: {redact(error_body(error), [self._key])}"
            credential = self.cfg.get("api_key_env") or "teacher.api_key_env"
            raise status_error(error.status_code, message, credential, error.response.headers) from None
        except (errors.APIConnectionError, errors.APIResponseValidationError, ValueError) as error:
            # ValueError: a body cut short or not JSON (a dropped connection, a proxy's error page)
            raise TransientError(f"teacher {self.cfg.provider}: {type(error).__name__}") from None
        if not getattr(response, "choices", None):  # the SDK hands back a non-JSON body as a plain str
            raise TransientError(f"teacher {self.cfg.provider}: malformed response body")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            # a strict-mode refusal comes as message.refusal: kept as the text, so it is counted unparsed
            text=choice.message.content or getattr(choice.message, "refusal", None) or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            finish_reason=_FINISH.get(choice.finish_reason, str(choice.finish_reason)),
        )

    async def aclose(self) -> None:
        await self.client.close()
