"""A REAL local teacher: an OpenAI-compatible server over a real model on 127.0.0.1.

``LlamaCppServer(gguf_file)`` starts llama-cpp-python's server (``python -m llama_cpp.server``, the
``teacher-llamacpp`` extra, ``make teacher-llamacpp``) over one GGUF file: the teacher pada uses on a CPU
host (``teacher=local_llamacpp``; it constrains answers to a role's JSON schema, docs/teacher.md).

``LocalTeacherServer(model_dir)`` starts ``transformers serve`` (needs fastapi and uvicorn: the ``real``
extra) in its own process group on a free port, waits for ``/health``, and stops it on exit. The served
copy is the model directory with ``do_sample: true`` in its generation config (the weights are linked, not
copied): `transformers serve` samples only when the generation config says so, so without it every
paraphrase of one prompt comes out identical whatever temperature is asked. The same teacher config
(``teacher=local_real``) talks to `vllm serve` on a GPU host: only ``base_url`` and ``model`` change.

Run by hand: ``python -m pada.teacher.local_server MODEL [--port N]``: a ``.gguf`` file is served by llama.cpp
(``make teacher-real``), a model directory by `transformers serve`.

The server sits in its own session (a Ctrl-C at the terminal reaches only the owner, whose
``KeyboardInterrupt`` unwinds the ``with`` and stops it), so a SIGTERM/SIGHUP to the owner (``kill``,
``timeout``, SLURM's scancel) would orphan it: while a server runs, those signals (when at their default
action) raise ``SystemExit(128 + signum)`` in the owner's main thread, so its context managers stop the
server and it exits 143 (SIGTERM) / 129 (SIGHUP) with one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from pada.errors import PadaError


def served_copy(model_dir: Path, out: Path) -> Path:
    """``out/<model_dir's name>``: the model with sampling on in its generation config; weights hard-linked
    (or copied). The server runs in ``out`` and serves it by that relative name, so requests name the model
    ``<model_dir's name>`` wherever the checkout lives (the name is part of the teacher cache key)."""
    target = out / Path(model_dir).name
    target.mkdir(parents=True, exist_ok=True)
    for item in Path(model_dir).iterdir():
        dest = target / item.name
        if item.name == "generation_config.json" or dest.exists():
            continue
        try:
            os.link(item, dest)
        except OSError:  # another file system: copy once
            shutil.copy2(item, dest)
    config_path = Path(model_dir) / "generation_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    config.update(do_sample=True)  # the request's temperature and top_p then apply
    (target / "generation_config.json").write_text(json.dumps(config, indent=2))
    return target


def served_gguf_name(gguf: Path) -> str:
    """The name a llama.cpp server serves ``gguf`` under: the file name without ``.gguf`` (its pack name,
    pada/teacher/gguf_parts.py). Raises PadaError when the file is absent."""
    if not Path(gguf).is_file():
        raise PadaError(f"{gguf} does not exist; assemble it once with `make teacher-gguf`")
    return Path(gguf).name.removesuffix(".gguf")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalTeacherServer:
    """``with LocalTeacherServer(model_dir, workdir) as server: server.base_url, server.model``."""

    health_path = "/health"  # answers 200 once the model is loaded

    def __init__(
        self,
        model_dir: Path,
        workdir: Path,
        port: int | None = None,
        threads: int = 1,
        startup_s: float = 300.0,
        stop_s: float = 20.0,
    ):
        self.model_dir, self.workdir = Path(model_dir), Path(workdir)
        self.port, self.threads, self.startup_s = port or free_port(), threads, startup_s
        self.stop_s = stop_s  # grace after SIGTERM before SIGKILL (a model server frees memory in ~1 s)
        self.process: subprocess.Popen | None = None
        self.model = ""
        self._previous_handlers: dict[int, object] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The server's argv, run in ``workdir`` (tests replace it with a stand-in serving ``/health``).

        Raises PadaError when `transformers serve` is not installed."""
        exe = Path(sys.executable).parent / "transformers"
        if shutil.which("transformers") is None and not exe.exists():
            raise PadaError(
                "`transformers serve` not found; install the real extra: pip install 'pada[real]'"
            )
        self.model = served_copy(self.model_dir, self.workdir).name
        return [
            str(exe) if exe.exists() else "transformers",
            "serve",
            self.model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--dtype",
            "float32",
            "--log-level",
            "warning",
        ]

    def start(self) -> LocalTeacherServer:
        """Start the server and wait for ``/health``; raises PadaError when it exits or never answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(self.threads),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        self._install_exit_handlers()
        try:
            self.log = (self.workdir / "teacher_server.log").open("w")
            self.process = subprocess.Popen(
                command,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,  # a terminal's Ctrl-C reaches the owner only; it stops us
            )
            self._wait_healthy()
        except BaseException:  # SIGTERM or a failure while starting: __exit__ will not run
            self.stop()
            raise
        return self

    def _install_exit_handlers(self) -> None:
        """Turn SIGTERM/SIGHUP into SystemExit(128 + signum) while the server runs, so the owner's ``with``
        blocks unwind and stop it (the default action would kill the owner and orphan the server). Only
        signals at their default action, and only from the main thread (where Python runs handlers);
        ``stop()`` restores the previous handlers."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is signal.SIG_DFL:  # SIG_IGN (nohup) and own handlers stay
                self._previous_handlers[signum] = signal.signal(signum, _exit_on_signal)

    def _restore_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.workdir / "teacher_server.log").read_text()[-400:]
                raise PadaError(f"the local teacher server exited with {self.process.returncode}: {tail}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{self.health_path}", timeout=2
                ) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise PadaError(f"the local teacher server did not answer /health within {self.startup_s:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own group: uvicorn's workers go too
            try:
                self.process.wait(timeout=self.stop_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if getattr(self, "log", None) is not None:
            self.log.close()
        self._restore_handlers()

    def __enter__(self) -> LocalTeacherServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# llama_cpp.server settings pada changes from their defaults (measured: docs/real_cpu.md, "Teacher CPU per kept
# example"). logits_all: the server's default (true) copies every prompt token's logits over the 151k-token vocabulary
# into Python; pada never asks for logprobs, and the sampled answers are the same without it.
SERVER_OPTIONS = {"logits_all": "false"}


class LlamaCppServer(LocalTeacherServer):
    """llama-cpp-python's OpenAI-compatible server over one GGUF file, served as ``<file name without .gguf>``.

    ``threads``: decoding threads (``n_threads`` and ``n_threads_batch``); one is the default because on a
    shared 2-core host one thread decoded faster than two (docs/teacher.md). ``n_ctx``: the context in tokens
    (prompt + answer; pada's longest prompts, generation with examples, stay under 2,000). ``options``: more
    ``llama_cpp.server`` settings (``{"n_batch": "256"}`` -> ``--n_batch 256``) over ``SERVER_OPTIONS``."""

    health_path = "/v1/models"  # llama_cpp.server has no /health; this answers once the model is loaded

    def __init__(
        self,
        gguf: Path,
        workdir: Path,
        port: int | None = None,
        threads: int = 1,
        n_ctx: int = 4096,
        options: dict[str, str] | None = None,
        **kw,
    ):
        super().__init__(gguf, workdir, port=port, threads=threads, **kw)
        self.n_ctx, self.options = n_ctx, {**SERVER_OPTIONS, **(options or {})}

    def command(self) -> list[str]:
        """Raises PadaError when llama-cpp-python (with its server extra) is not installed or the file is absent."""
        if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("sse_starlette") is None:
            raise PadaError("llama-cpp-python's server is not installed; run `make teacher-llamacpp`")
        self.model = served_gguf_name(self.model_dir)
        threads = str(self.threads)
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_dir.resolve()),
            "--model_alias",
            self.model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
            "--n_ctx",
            str(self.n_ctx),
            *[arg for key, value in self.options.items() for arg in (f"--{key}", str(value))],
        ]


def serve(model: Path, workdir: Path, port: int | None = None, threads: int = 1) -> LocalTeacherServer:
    """The server for ``model``: llama.cpp for a ``.gguf`` file, `transformers serve` for a model directory."""
    kind = LlamaCppServer if Path(model).suffix == ".gguf" else LocalTeacherServer
    return kind(model, workdir, port=port, threads=threads)


def _exit_on_signal(signum: int, frame: object) -> None:
    """Signal handler: one line on stderr, then SystemExit with the shell's status for a signal death
    (128 + signum: 143 for SIGTERM, 129 for SIGHUP), so ``finally``/``with`` blocks run."""
    for other in (signal.SIGTERM, signal.SIGHUP):  # a repeated signal must not cut the cleanup short
        if signal.getsignal(other) is _exit_on_signal:
            signal.signal(other, signal.SIG_IGN)  # stop() restores the owner's previous handlers
    name = signal.Signals(signum).name
    print(f"pada: {name} received: stopping the local teacher server", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "model", type=Path, help="a .gguf file (llama.cpp) or a model directory (transformers)"
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--threads", type=int, default=1, help="decoding threads (1: fastest on a shared host)"
    )
    parser.add_argument("--workdir", type=Path, default=Path(".cache/pada/teacher_server"))
    args = parser.parse_args(argv)
    try:
        with serve(args.model, args.workdir, args.port, args.threads) as server:
            print(f"serving {server.model} at {server.base_url} (Ctrl-C stops it)", flush=True)
            while server.process.poll() is None:
                time.sleep(1)
    except PadaError as error:
        print(f"pada: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
