"""Client for any OpenAI-compatible server (``vllm serve``, SGLang, TGI, OpenAI itself).

Requests go out concurrently (``max_concurrency`` in flight) from one event loop. A LoRA adapter is chosen
by model name, the way ``vllm serve --lora-modules name=path`` exposes it: ``adapters`` maps the adapter
dir pada trained to that served name. With ``runtime_lora: true`` an adapter missing from the map is
registered on first use through vLLM's ``/v1/load_lora_adapter`` (server started with
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``), under a name derived from its path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from pathlib import Path
from typing import Any

from pada import progress
from pada.errors import PadaError
from pada.inference.base import Backend, Prompt
from pada.io import stable_hash
from pada.models.chat import date_string
from pada.types import Completion, SamplingParams

log = logging.getLogger("pada")


def runtime_adapter_name(adapter: str) -> str:
    return f"pada-{stable_hash(str(Path(adapter).resolve()))[:12]}"


def request_body(item: Prompt, params: SamplingParams, model: str, pin_date: bool = True) -> dict[str, Any]:
    """The JSON body: chat completions for a chat, plain completions for an already-templated prompt.

    ``pin_date``: a chat also carries ``chat_template_kwargs.date_string`` (vLLM's and SGLang's field), so
    the server renders Llama 3.x's ``Today Date`` from the pinned date (pada.models.chat), not its clock."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": params.seed,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    body["prompt" if isinstance(item, str) else "messages"] = item
    if pin_date and not isinstance(item, str):
        body["extra_body"] = {"chat_template_kwargs": {"date_string": date_string()}}
    return body


def parse_response(response: Any) -> Completion:
    choice = response.choices[0]
    text = choice.message.content if hasattr(choice, "message") else choice.text
    usage = response.usage
    if usage is None:
        raise PadaError("the server returned no token usage; pada needs an OpenAI-compatible `usage` field")
    reason = "length" if choice.finish_reason == "length" else "stop"
    return Completion(text or "", usage.prompt_tokens, usage.completion_tokens, reason)


class OpenAIBackend(Backend):
    def __init__(self, model_path: str, cfg: Any):
        super().__init__(model_path, cfg)
        self.base_model = cfg.get("model") or model_path  # the served name of the base model
        self.adapters = {str(Path(k).resolve()): v for k, v in (cfg.get("adapters") or {}).items()}
        self._loaded_at_runtime: set[str] = set()

    def _api_key(self) -> str:
        env = self.cfg.get("api_key_env")
        if not env:
            return "EMPTY"  # local vllm/SGLang servers accept any key; the client needs a non-empty one
        key = os.environ.get(env)
        if not key:
            raise PadaError(f"environment variable {env} is not set; export the API key (eval.api_key_env)")
        return key

    def served_name(self, adapter: str | None) -> str:
        if adapter is None:
            return self.base_model
        path = str(Path(adapter).resolve())
        if path in self.adapters:
            return self.adapters[path]
        if self.cfg.get("runtime_lora"):
            return runtime_adapter_name(path)
        raise PadaError(
            f"adapter {path} has no served name; add it to eval.adapters (dir -> the name given to "
            "`vllm serve --lora-modules name=dir`) or set eval.runtime_lora=true"
        )

    def generate(
        self, chats: list[Prompt], params: SamplingParams, adapter: str | None = None
    ) -> list[Completion]:
        coroutine = self._generate_all(chats, params, adapter)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # called from async code (e.g. Jupyter)
            return pool.submit(asyncio.run, coroutine).result()

    async def _generate_all(self, chats, params, adapter) -> list[Completion]:
        from openai import AsyncOpenAI

        model = self.served_name(adapter)
        client = AsyncOpenAI(
            base_url=self.cfg.base_url,
            api_key=self._api_key(),
            timeout=self.cfg.timeout_s,
            max_retries=self.cfg.max_retries,
        )
        async with client:
            if adapter is not None and model == runtime_adapter_name(adapter):
                await self._load_adapter(client, model, adapter)
            limit = asyncio.Semaphore(self.cfg.max_concurrency)
            bar = progress.bar(total=len(chats), desc="generate", unit="prompt", force=self.cfg.progress_bar)

            async def one(item: Prompt) -> Completion:
                async with limit:
                    completion = await self._request(
                        client, request_body(item, params, model, self.cfg.get("chat_template_kwargs", True))
                    )
                bar.update()
                return completion

            try:
                return list(await asyncio.gather(*(one(c) for c in chats)))
            finally:
                bar.close()

    async def _request(self, client, body: dict[str, Any]) -> Completion:
        import openai

        endpoint = client.completions if "prompt" in body else client.chat.completions
        try:
            return parse_response(await endpoint.create(**body))
        except openai.APIConnectionError as exc:
            raise PadaError(
                f"cannot reach {self.cfg.base_url}: {exc}; start the server or set eval.base_url"
            ) from exc
        except openai.APIStatusError as exc:
            raise PadaError(
                f"{self.cfg.base_url} answered {exc.status_code} for model '{body['model']}': "
                f"{str(exc.message).splitlines()[0]}"
            ) from exc

    async def _load_adapter(self, client, name: str, adapter: str) -> None:
        if name in self._loaded_at_runtime:
            return
        import openai

        try:
            await client.post(
                "/load_lora_adapter",
                cast_to=str,
                body={"lora_name": name, "lora_path": str(Path(adapter).resolve())},
            )
        except openai.APIStatusError as exc:
            # vLLM answers 400 when the name is already registered (e.g. by an earlier pada process).
            if "already" not in str(exc.message):
                raise PadaError(
                    f"{self.cfg.base_url} refused to load adapter {adapter}: {exc.message}; start the server "
                    "with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True or list the adapter in eval.adapters"
                ) from exc
        self._loaded_at_runtime.add(name)
