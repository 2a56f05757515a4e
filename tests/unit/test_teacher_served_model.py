"""Preflight: a local OpenAI-compatible server that serves one model other than teacher.model is a problem
(llama.cpp's server answers any model name with its own model, so the cache key would name the wrong one)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from omegaconf import OmegaConf

from pada.preflight import served_model_problem

LLAMA_CPP = {"provider": "openai", "native_form": "json_object_schema"}  # conf/teacher/local_llamacpp.yaml


def _models_server(ids: list[str]) -> http.server.HTTPServer:
    """A stand-in /v1/models on 127.0.0.1 (the list a local OpenAI-compatible server gives)."""
    body = json.dumps({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("served", "problem"),
    [(["qwen-a"], True), (["qwen-b"], False), (["qwen-a", "qwen-c"], False), ([], False)],
)
def test_a_local_server_serving_another_model_is_a_preflight_problem(served, problem):
    server = _models_server(served)
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        cfg = OmegaConf.create({**LLAMA_CPP, "model": "qwen-b", "base_url": url})
        found = served_model_problem(cfg, "teacher openai model qwen-b")
    finally:
        server.shutdown()
    assert (found is not None) == problem
    if problem:
        assert "serves only 'qwen-a', not 'qwen-b'" in found and "teacher.model=qwen-a" in found


def test_a_remote_endpoint_is_not_asked_for_its_model_list():
    cfg = OmegaConf.create({**LLAMA_CPP, "model": "m", "base_url": "http://203.0.113.1:9/v1"})
    assert served_model_problem(cfg, "w") is None  # no request leaves for a non-loopback host


def test_only_llama_cpp_configs_are_compared():
    server = _models_server(["some-cached-model"])  # `transformers serve` lists its HF cache, not its model
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        cfg = OmegaConf.create({"provider": "openai", "native_form": None, "model": "mine", "base_url": url})
        assert served_model_problem(cfg, "w") is None
    finally:
        server.shutdown()
