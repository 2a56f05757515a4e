"""LlamaServer (pada/teacher/llama_server.py): llama.cpp's own `llama-server` as the local teacher.

No binary needed: a stand-in executable named llama-server (a few lines of python) records its argv, answers
/health 503 ("Loading model") once and then 200, as tools/server/README.md describes. The REAL server is
tests/real/test_teacher_llamaserver.py."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from conftest import compose_config
from omegaconf import OmegaConf

from pada.errors import PadaError
from pada.teacher import llama_server
from pada.teacher.llama_server import LlamaServer

ROOT = Path(__file__).resolve().parents[2]
STANDIN = """#!{python}
import http.server as h, json, sys
from pathlib import Path
argv = sys.argv[1:]
Path({argv_file!r}).write_text(json.dumps(argv))
opts = dict(zip(argv[::2], argv[1::2]))
calls = []
class H(h.BaseHTTPRequestHandler):
    def do_GET(s):
        calls.append(s.path)
        loading = s.path == "/health" and calls.count("/health") == 1
        s.send_response(503 if loading else 200); s.end_headers(); s.wfile.write(b"{{}}")
    def log_message(s, *a): pass
h.HTTPServer((opts["--host"], int(opts["--port"])), H).serve_forever()
"""


@pytest.fixture
def standin(tmp_path, monkeypatch) -> Path:
    """A fake llama-server; returns the file its argv is written to."""
    argv_file = tmp_path / "argv.json"
    exe = tmp_path / "bin" / "llama-server"
    exe.parent.mkdir()
    exe.write_text(STANDIN.format(python=sys.executable, argv_file=str(argv_file)))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(llama_server, "binary", lambda: exe)
    return argv_file


def test_the_server_runs_the_gguf_with_threads_slots_and_a_context_per_slot(tmp_path, standin):
    gguf = tmp_path / "qwen-x.gguf"
    gguf.write_bytes(b"GGUF")
    with LlamaServer(gguf, tmp_path / "w", threads=2, slots=3, ctx_per_slot=2048, startup_s=30) as server:
        assert server.model == "qwen-x" and server.base_url == f"http://127.0.0.1:{server.port}/v1"
        argv = json.loads(standin.read_text())
    options = dict(zip(argv[:-1:2], argv[1:-1:2], strict=True))
    assert options == {
        "--model": str(gguf),
        "--alias": "qwen-x",  # the name /v1/models lists and requests send (the teacher cache key's model)
        "--host": "127.0.0.1",
        "--port": str(server.port),
        "--threads": "2",
        "--threads-batch": "2",
        "--parallel": "3",
        "--ctx-size": "6144",  # 3 slots x 2,048 tokens each
    }
    assert argv[-1] == "--no-webui"
    assert server.process is None  # stopped on leaving the with block


def test_extra_options_follow_pada_s_flags(tmp_path, standin):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    argv = LlamaServer(gguf, tmp_path, options={"--batch-size": "256"}).command()
    assert argv[-2:] == ["--batch-size", "256"]


def test_an_absent_binary_or_gguf_is_one_clear_error(tmp_path, monkeypatch, standin):
    with pytest.raises(PadaError, match="does not exist; assemble it once with `make teacher-gguf`"):
        LlamaServer(tmp_path / "absent.gguf", tmp_path).command()
    monkeypatch.undo()  # the real lookup: next to this python, then PATH
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(
        PadaError, match=r"llama-server is not installed; build it once with `make teacher-llama"
    ):
        llama_server.binary()


def test_a_server_that_exits_while_loading_is_an_error(tmp_path, monkeypatch):
    exe = tmp_path / "llama-server"
    exe.write_text("#!/bin/sh\necho 'error: failed to load model' >&2\nexit 1\n")
    exe.chmod(0o755)
    monkeypatch.setattr(llama_server, "binary", lambda: exe)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"not a gguf")
    with pytest.raises(PadaError, match="exited with 1: error: failed to load model"):
        LlamaServer(gguf, tmp_path / "w", startup_s=30).start()


def test_the_config_differs_from_llama_cpp_python_s_only_in_server_identity():
    batched = OmegaConf.to_container(compose_config(["teacher=local_llamaserver"]).teacher)
    single = OmegaConf.to_container(compose_config(["teacher=local_llamacpp"]).teacher)
    differs = {k for k in batched.keys() | single.keys() if batched.get(k) != single.get(k)}
    assert differs == {"model_version", "extra_body"}  # same prompts, schema form, sampling, roles, client
    assert batched["client"]["max_concurrency"] == 1 and "1 slot, no prompt cache" in batched["model_version"]
    assert batched["extra_body"] == {"cache_prompt": False}
    lock = (ROOT / "requirements-teacher.lock.txt").read_text()
    version = next(line.split("==")[1] for line in lock.splitlines() if line.startswith("llama-cpp-python=="))
    assert f"llama-cpp-python=={version} sdist" in batched["model_version"]  # the cache key follows the build
    assert batched["model_version"] != single["model_version"]


def test_the_server_fields_reach_the_request_beside_vllm_s_own():
    from pada.teacher.providers.base import Call
    from pada.teacher.providers.openai_compat import OpenAICompatible
    from pada.teacher.schemas import Paraphrase
    from pada.types import SamplingParams

    cfg = compose_config(["teacher=local_llamaserver", "teacher.native_form=vllm"]).teacher
    params = SamplingParams(max_new_tokens=8, temperature=0.0, top_p=1.0, stop=(), seed=0)
    call = Call("paraphrase", (("user", "Hi"),), params, schema=Paraphrase)
    body = OpenAICompatible(cfg).request(call)["extra_body"]
    assert body["cache_prompt"] is False and "structured_outputs" in body  # merged, neither dropped


def test_the_install_script_builds_the_locked_version_with_the_wheel_s_portable_flags():
    script = (ROOT / "scripts" / "install_llama_server.sh").read_text()
    wheel = (ROOT / "scripts" / "install_llama_cpp.sh").read_text()
    server_flags = script.split('FLAGS="', 1)[1].split('"', 1)[0].split()
    wheel_flags = wheel.split('FLAGS="', 1)[1].split('"', 1)[0].split()
    assert set(wheel_flags) <= set(server_flags)  # the same kernels as the Python server's wheel
    assert "-DBUILD_SHARED_LIBS=OFF" in server_flags and os.access(
        ROOT / "scripts" / "install_llama_server.sh", os.X_OK
    )
