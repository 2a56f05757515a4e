"""TEST DOUBLE: a real local HTTP server speaking the OpenAI Chat Completions and Anthropic Messages shapes.

Faults are injected per request from a queue (``"429"``, ``"500"``, ``"401"``, ``"400"``, ``"timeout"``,
``"400detail"`` (FastAPI's ``{"detail"}`` shape), ``"body:<status>:<JSON>"`` (an error with that body), ``"truncate"``, ``"nofinish"`` (no finish_reason), ``"garbage"`` answer text, ``"badbody"`` non-JSON body, ``"cutbody"`` body cut short,
``"aws:<status>:<Code>:<message>"`` a Bedrock error with its ``x-amzn-ErrorType`` header), and latency per request, so tests and benchmarks exercise the real SDKs end to end over
HTTP. A Messages request that forces a tool gets the answer as that tool's ``tool_use`` input.
``/model/<id>/invoke`` answers Claude-on-Bedrock requests (headers, including the SigV4 signature,
are recorded). The server records every request body and the peak number of requests in flight.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

Responder = Callable[[str], str]  # every user turn, joined -> answer text


def _user_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


def _echo(prompt: str) -> str:
    return f"echo: {prompt}"


class FakeLLMServer:
    def __init__(self, latency_s: float = 0.0, responder: Responder = _echo, hang_s: float = 1.0):
        self.latency_s, self.responder, self.hang_s = latency_s, responder, hang_s
        self.retry_after_s: float | None = None  # sent with injected 429s when set
        self.faults: deque[str] = deque()
        self.always: str | None = None  # a fault for every request once the queue is empty (a dead endpoint)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/model/{model}/invoke", self._anthropic)  # Claude on Bedrock (InvokeModel)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- handlers ------------------------------------------------------------------------------------
    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": len(self.bodies), "max_in_flight": self.max_in_flight})

    async def _serve(
        self, request: web.Request, last_user: Callable[[dict], str]
    ) -> tuple[str | web.Response, str]:
        body = await request.json()
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        fault = self.faults.popleft() if self.faults else self.always
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.hang_s if fault == "timeout" else self.latency_s)
        finally:
            self.in_flight -= 1
        if fault and fault.startswith("body:"):  # "body:<status>:<JSON>": an error with exactly this body
            _, status, text = fault.split(":", 2)
            return web.json_response(json.loads(text), status=int(status)), "error"
        if fault == "badbody":  # a proxy or a crashing server answering 200 with something that is not JSON
            return web.Response(text="<html>upstream error</html>", content_type="text/html"), "error"
        if fault == "cutbody":  # the connection drops mid-answer
            return web.Response(
                text='{"id": "chatcmpl-test", "choi', content_type="application/json"
            ), "error"
        if fault == "400detail":  # FastAPI's error shape (`transformers serve`), echoing the request's key
            detail = f"model {body.get('model')!r} is not served; auth {request.headers.get('Authorization')}"
            return web.json_response({"detail": detail}, status=400), "error"
        if fault and fault.startswith("aws:"):  # "aws:<status>:<Code>:<message>", Bedrock's error shape
            _, status, code, message = fault.split(":", 3)
            headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
            return web.json_response(
                {"message": message}, status=int(status), headers=headers if code else None
            ), "error"
        if fault in ("429", "500", "401", "400"):
            error = {"error": {"type": "test_fault", "message": f"injected {fault}"}, "type": "error"}
            headers = (
                {"retry-after": str(self.retry_after_s)} if fault == "429" and self.retry_after_s else None
            )
            return web.json_response(error, status=int(fault), headers=headers), "error"
        text = "{ this is not json" if fault == "garbage" else self.responder(last_user(body))
        if fault == "truncate":
            return text[: max(1, len(text) // 2)], "length"
        if fault == "nofinish":  # the server stopped mid-answer without a finish reason
            return text[: max(1, len(text) // 2)], None
        return text, "stop"

    async def _openai(self, request: web.Request) -> web.Response:
        text, finish = await self._serve(request, _user_text)
        if isinstance(text, web.Response):
            return text
        prompt_tokens = sum(len(m["content"].split()) for m in self.bodies[-1]["messages"])
        return web.json_response(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": self.bodies[-1]["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(text.split()),
                    "total_tokens": prompt_tokens + len(text.split()),
                },
            }
        )

    async def _anthropic(self, request: web.Request) -> web.Response:
        text, finish = await self._serve(request, _user_text)
        if isinstance(text, web.Response):
            return text
        body = self.bodies[-1]
        prompt_tokens = sum(len(m["content"].split()) for m in body["messages"]) + len(
            body.get("system", "").split()
        )
        return web.json_response(
            {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", request.match_info.get("model")),
                "content": [_anthropic_block(body, text)],
                "stop_reason": "max_tokens" if finish == "length" else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": len(text.split())},
            }
        )


def _anthropic_block(body: dict[str, Any], text: str) -> dict[str, Any]:
    """The answer as a ``tool_use`` block when the request forces a tool (native structured output): the
    answer's JSON object as the tool's input (any other text as ``{"text": ...}``, which no schema takes)."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") != "tool":
        return {"type": "text", "text": text}
    try:
        given = json.loads(text)
    except ValueError:
        given = None
    tool_input = given if isinstance(given, dict) else {"text": text}
    return {"type": "tool_use", "id": "toolu_test", "name": choice["name"], "input": tool_input}


def responder_from_json(answers: dict[str, str]) -> Responder:
    """Answer a prompt containing a key with that key's value (JSON-encoded if not a string)."""

    def respond(prompt: str) -> str:
        for needle, answer in answers.items():
            if needle in prompt:
                return answer if isinstance(answer, str) else json.dumps(answer)
        return _echo(prompt)

    return respond


def serve_forever(latency_s: float) -> None:
    """Run a server in this process until killed, printing its URL (benchmarks use a separate process)."""
    import time

    with FakeLLMServer(latency_s=latency_s) as server:
        print(server.url, flush=True)
        while True:
            time.sleep(3600)
