"""Bedrock's model-agnostic Converse API through boto3 ``bedrock-runtime`` (sync SDK, run in worker threads)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pada.teacher.native import CONVERSE_TOOL
from pada.teacher.providers.aws import bedrock_error, check_aws, region
from pada.teacher.providers.base import Call, Provider, TransientError, redact
from pada.types import Completion

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class BedrockConverse(Provider):
    name = "bedrock_converse"
    native_forms = (CONVERSE_TOOL,)  # toolConfig with one tool, forced by toolChoice

    def __init__(self, cfg: Any, client: Any = None):
        super().__init__(cfg)
        import botocore.config
        import botocore.exceptions

        self._botocore = botocore.exceptions
        workers = int(cfg.client.max_concurrency)
        self.client = client or self._make_client(cfg, workers, botocore.config.Config)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pada-converse")

    @staticmethod
    def _make_client(cfg: Any, workers: int, config_cls: Any) -> Any:
        import boto3

        config = config_cls(
            retries={"total_max_attempts": 1},  # tenacity in the client owns retries
            read_timeout=float(cfg.client.timeout_s),
            max_pool_connections=workers,
        )
        return boto3.client("bedrock-runtime", region_name=region(cfg), config=config)

    @classmethod
    def check_credentials(cls, cfg: Any) -> None:
        check_aws(cfg)

    def request(self, call: Call) -> dict[str, Any]:
        """The exact keyword arguments sent to ``converse``."""
        system, turns = call.split_system()
        params = call.params
        inference: dict[str, Any] = {"maxTokens": params.max_new_tokens, "temperature": params.temperature}
        if params.top_p < 1.0:
            inference["topP"] = params.top_p
        if params.stop:
            inference["stopSequences"] = list(params.stop)
        request: dict[str, Any] = {
            "modelId": self.cfg.model,
            "messages": [{"role": t["role"], "content": [{"text": t["content"]}]} for t in turns],
            "inferenceConfig": inference,
        }
        if system:
            request["system"] = [{"text": system}]
        request.update(self.structured_fields(call))
        return request

    def _converse(self, request: dict[str, Any]) -> dict[str, Any]:
        errors = self._botocore
        try:
            return self.client.converse(**request)
        except errors.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise bedrock_error(code, f"teacher bedrock_converse {code}: {redact(str(error), [])}") from None
        except (errors.ConnectionError, errors.ReadTimeoutError) as error:
            raise TransientError(f"teacher bedrock_converse: {type(error).__name__}") from None

    async def complete(self, call: Call) -> Completion:
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self._pool, self._converse, self.request(call))
        text = answer_text(response["output"]["message"]["content"])
        usage = response.get("usage", {})
        return Completion(
            text=text,
            prompt_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            finish_reason=_FINISH.get(response.get("stopReason"), str(response.get("stopReason"))),
        )

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)


def answer_text(content: list[dict[str, Any]]) -> str:
    """The answer in Converse's ``output.message.content``: a forced tool's ``toolUse.input`` as JSON
    (native structured output), else the text parts joined."""
    for part in content:
        if "toolUse" in part:
            return json.dumps(part["toolUse"].get("input", {}), ensure_ascii=False)
    return "".join(part.get("text", "") for part in content)
