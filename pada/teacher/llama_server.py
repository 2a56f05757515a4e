"""llama.cpp's own HTTP server (``llama-server``, tools/server) as pada's local teacher on a CPU host.

``LlamaServer(gguf_file, workdir, threads=2, slots=1)`` runs the binary that ``make teacher-llamaserver``
(scripts/install_llama_server.sh) built from the llama.cpp vendored by the pinned llama-cpp-python sdist, over
one GGUF file, served as ``<file name without .gguf>`` (``teacher=local_llamaserver``). What it adds over
llama-cpp-python's Python server (``LlamaCppServer``, one request at a time), measured in docs/real_cpu.md:

- ``slots`` parallel sequences (``-np``), decoded in one batch; the context ``-c`` is ``slots x
  ctx_per_slot``. On the 2-core reference host 4 slots cost 1.09x the CPU of 1 (no saving): the measured
  gain (0.60x CPU per output token) is the server's own, not the batch's. The default is 1 slot: with more,
  an answer depends on the requests decoded beside it (conf/teacher/local_llamaserver.yaml's cache key says
  "1 slot"; it also turns the prompt cache off, which made an answer depend on the previous request);
- the grammar checked lazily (llama.cpp common/sampling.cpp ``common_sampler_sample``: sample, check only
  that token, resample under the grammar only if it is rejected: the same distribution as constraining every
  step, without scanning the 151k-token vocabulary each step);
- ``/health`` (200 once the model is loaded) and ``response_format`` in both the ``json_object`` + schema and
  OpenAI's ``json_schema`` forms (tools/server/server-common.cpp ``oaicompat_chat_params_parse``).

Lifecycle and signals as ``LocalTeacherServer`` (own session, SIGTERM/SIGHUP stop it, docs/teacher.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pada.errors import PadaError
from pada.teacher.local_server import LocalTeacherServer, served_gguf_name

BINARY = "llama-server"  # scripts/install_llama_server.sh links it into the venv's bin/


def binary() -> Path:
    """The ``llama-server`` next to this Python (the venv's bin/), else on PATH.

    Raises PadaError when neither exists."""
    beside = Path(sys.executable).parent / BINARY
    found = beside if beside.exists() else shutil.which(BINARY)
    if found is None:
        raise PadaError(f"{BINARY} is not installed; build it once with `make teacher-llamaserver`")
    return Path(found)


class LlamaServer(LocalTeacherServer):
    """``llama-server`` over one GGUF file; ``with LlamaServer(gguf, workdir) as s: s.base_url, s.model``.

    ``threads``: decoding and prompt threads (``-t``/``-tb``). ``slots``: requests decoded together
    (``-np``); a client should keep that many in flight (``client.max_concurrency``). ``ctx_per_slot``:
    tokens of prompt + answer per request (pada's longest prompts, generation with examples, stay under
    2,000; a re-ask doubles max_tokens up to 4,096). ``options``: more flags (``{"--batch-size": "256"}``)."""

    health_path = "/health"  # 503 while loading, 200 once the model is loaded (tools/server/README.md)

    def __init__(
        self,
        gguf: Path,
        workdir: Path,
        port: int | None = None,
        threads: int = 2,
        slots: int = 1,  # one request at a time: its answer depends on it alone (module docstring)
        ctx_per_slot: int = 4096,
        options: dict[str, str] | None = None,
        **kw,
    ):
        super().__init__(gguf, workdir, port=port, threads=threads, **kw)
        self.slots, self.ctx_per_slot, self.options = slots, ctx_per_slot, dict(options or {})

    def command(self) -> list[str]:
        """Raises PadaError when the binary is not installed or the GGUF file is absent."""
        exe = binary()
        self.model = served_gguf_name(self.model_dir)
        threads = str(self.threads)
        return [
            str(exe),
            "--model",
            str(self.model_dir.resolve()),
            "--alias",
            self.model,  # /v1/models lists it; preflight compares it with teacher.model
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--threads",
            threads,
            "--threads-batch",
            threads,
            "--parallel",
            str(self.slots),
            "--ctx-size",
            str(self.slots * self.ctx_per_slot),  # one KV pool shared by the slots
            "--no-webui",  # pada needs the API only
            *[arg for key, value in self.options.items() for arg in (key, str(value))],
        ]
