"""The OpenAI-compatible client against a real local HTTP server that speaks the protocol."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from aiohttp import web
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.inference.base import build_backend
from pada.inference.openai_backend import runtime_adapter_name
from pada.types import Completion, SamplingParams


def canned_text(model: str, content: str) -> str:
    return f"{model} says {content[::-1]}"


class FakeServer:
    """A /v1 server in a background thread: canned answers, every request body recorded, peak in-flight."""

    def __init__(self, delay: float = 0.0, loadable: bool = True):
        self.requests: list[tuple[str, dict]] = []
        self.in_flight = self.peak = 0
        self.delay, self.loadable = delay, loadable
        self.loaded: dict[str, str] = {}
        self.served = {"base", "ft-a"}

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((request.path, body))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        if body["model"] not in self.served | set(self.loaded):
            return web.json_response(
                {"error": {"message": f"The model `{body['model']}` does not exist."}}, status=404
            )
        chat = "messages" in body
        content = body["messages"][-1]["content"] if chat else body["prompt"]
        words = canned_text(body["model"], content).split()
        text = " ".join(words[: body["max_tokens"]])
        reason = "length" if len(words) > body["max_tokens"] else "stop"
        choice = {"index": 0, "finish_reason": reason, "logprobs": None}
        choice |= {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        usage = {
            "prompt_tokens": len(content.split()),
            "completion_tokens": min(len(words), body["max_tokens"]),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return web.json_response(
            {
                "id": "x",
                "object": "chat.completion" if chat else "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            }
        )

    async def _load(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((request.path, body))
        if not self.loadable:
            return web.json_response({"error": {"message": "runtime LoRA updating is disabled"}}, status=404)
        self.loaded[body["lora_name"]] = body["lora_path"]
        return web.Response(text=f"Success: LoRA adapter '{body['lora_name']}' added successfully.")

    def __enter__(self):
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_post("/v1/load_lora_adapter", self._load)
        self.loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self.runner = runner
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def openai_cfg(url: str, **overrides):
    cfg = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "eval" / "openai.yaml")
    return OmegaConf.merge(
        cfg, {"base_url": url, "model": "base", "max_retries": 0, "timeout_s": 10}, overrides
    )


CHATS = [
    [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"q{i} one two three"}]
    for i in range(6)
]


def test_chat_request_fields_and_parsed_completions(tmp_path):
    adapter = tmp_path / "train_0" / "model"
    params = SamplingParams(max_new_tokens=4, temperature=0.7, top_p=0.9, stop=("####", "\n\n"), seed=11)
    with FakeServer() as server:
        backend = build_backend("/models/base", openai_cfg(server.url, adapters={str(adapter): "ft-a"}))
        out = backend.generate(CHATS, params, adapter=str(adapter))
    paths = {p for p, _ in server.requests}
    bodies = sorted((b for _, b in server.requests), key=lambda b: b["messages"][-1]["content"])
    assert paths == {"/v1/chat/completions"}
    assert bodies[0] == {
        "model": "ft-a",
        "messages": CHATS[0],
        "max_tokens": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 11,
        "stop": ["####", "\n\n"],
        "chat_template_kwargs": {"date_string": "26 Jul 2024"},
    }  # the pinned date
    assert len(bodies) == len(CHATS)
    # "ft-a says eerht owt eno 0q" is 6 words: cut to 4 by max_tokens, so finish_reason is length.
    assert out[0] == Completion("ft-a says eerht owt", 4, 4, "length")
    assert [c.text.split()[-1] for c in out] == ["owt"] * 6


def test_raw_prompt_uses_completions_endpoint_and_base_model():
    with FakeServer() as server:
        backend = build_backend("/models/base", openai_cfg(server.url))
        out = backend.generate(["<|user|>hi there<|assistant|>"], SamplingParams(max_new_tokens=50))
    assert server.requests == [
        (
            "/v1/completions",
            {
                "model": "base",
                "prompt": "<|user|>hi there<|assistant|>",
                "max_tokens": 50,
                "temperature": 0.0,
                "top_p": 1.0,
                "seed": 0,
            },
        )
    ]
    assert out == [Completion("base says >|tnatsissa|<ereht ih>|resu|<", 2, 4, "stop")]


def test_concurrency_limit_is_respected():
    chats = [[{"role": "user", "content": f"q{i}"}] for i in range(20)]
    with FakeServer(delay=0.05) as server:
        backend = build_backend("/models/base", openai_cfg(server.url, max_concurrency=3))
        out = backend.generate(chats, SamplingParams(max_new_tokens=8))
    assert server.peak == 3
    assert [c.text for c in out] == [f"base says {f'q{i}'[::-1]}" for i in range(20)]  # input order


def test_runtime_lora_registers_adapter_once(tmp_path):
    adapter = tmp_path / "train_1" / "model"
    name = runtime_adapter_name(str(adapter))
    with FakeServer() as server:
        backend = build_backend("/models/base", openai_cfg(server.url, runtime_lora=True))
        first = backend.generate(CHATS[:2], SamplingParams(max_new_tokens=3), adapter=str(adapter))
        backend.generate(CHATS[:2], SamplingParams(max_new_tokens=3), adapter=str(adapter))
    loads = [b for p, b in server.requests if p == "/v1/load_lora_adapter"]
    assert loads == [{"lora_name": name, "lora_path": str(adapter.resolve())}]
    assert first[0].text == f"{name} says eerht"
    assert name.startswith("pada-") and len(name) == 17


def test_errors_name_the_fix(tmp_path, monkeypatch):
    with FakeServer(loadable=False) as server:
        backend = build_backend("/models/base", openai_cfg(server.url))
        with pytest.raises(PadaError, match="has no served name; add it to eval.adapters"):
            backend.generate(CHATS[:1], SamplingParams(max_new_tokens=3), adapter=str(tmp_path))
        with pytest.raises(PadaError, match="answered 404 for model 'nope'"):
            build_backend("/m", openai_cfg(server.url, model="nope")).generate(
                CHATS[:1], SamplingParams(max_new_tokens=3)
            )
        runtime = build_backend("/models/base", openai_cfg(server.url, runtime_lora=True))
        with pytest.raises(PadaError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
            runtime.generate(CHATS[:1], SamplingParams(max_new_tokens=3), adapter=str(tmp_path))
    with pytest.raises(PadaError, match="cannot reach http://127.0.0.1:9/v1"):
        build_backend("/m", openai_cfg("http://127.0.0.1:9/v1")).generate(CHATS[:1], SamplingParams(8))
    monkeypatch.delenv("PADA_TEST_KEY", raising=False)
    with pytest.raises(PadaError, match="PADA_TEST_KEY is not set"):
        build_backend("/m", openai_cfg(server.url, api_key_env="PADA_TEST_KEY")).generate(
            CHATS[:1], SamplingParams(8)
        )


def test_api_key_comes_from_the_named_env_var(monkeypatch):
    seen = []

    class KeyServer(FakeServer):
        async def _complete(self, request):
            seen.append(request.headers["Authorization"])
            return await super()._complete(request)

    monkeypatch.setenv("PADA_TEST_KEY", "sk-test-123")
    with KeyServer() as server:
        build_backend("/m", openai_cfg(server.url, api_key_env="PADA_TEST_KEY")).generate(
            CHATS[:1], SamplingParams(8)
        )
    assert seen == ["Bearer sk-test-123"]
    assert json.dumps(OmegaConf.to_container(openai_cfg(server.url))).count("sk-") == 0
