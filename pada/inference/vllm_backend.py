"""vLLM backend: one offline ``vllm.LLM`` engine per run, in its own process, LoRA swapped per request.

vLLM does not give GPU memory back when an engine is deleted, so the engine lives in a worker process
(spawned, fed over a pipe) that ``close()`` ends. Every adapter is sent as a ``LoRARequest`` with an int id
that is stable for the adapter's path, so all iterations of a run share the one engine. Prompts are
rendered and tokenized here with the model's HF tokenizer and chat template and sent as token ids, so the
engine sees exactly the tokens the transformers backend sees.

vLLM is imported only inside the worker; it is a GPU-only extra (``pip install 'pada[gpu]'``).
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pada import progress
from pada.errors import PadaError
from pada.inference.base import Backend, Prompt
from pada.models.chat import apply_chat_template
from pada.models.loading import load_tokenizer
from pada.types import Completion, SamplingParams

VLLM_API = "pada.inference.vllm_backend:vllm_api"


@dataclass(frozen=True)
class Request:
    """What crosses the pipe: plain data only."""

    prompts: list[list[int]]
    sampling: list[dict[str, Any]]
    lora: tuple[str, int, str] | None  # (name, int id, path) for LoRARequest


def vllm_api():
    """The three vLLM names the worker needs (tests substitute fakes with the same shape)."""
    import vllm
    from vllm.lora.request import LoRARequest

    return vllm.LLM, vllm.SamplingParams, LoRARequest


def engine_kwargs(model_path: str, cfg: Any) -> dict[str, Any]:
    kwargs = {
        "model": model_path,
        "dtype": cfg.dtype,
        "seed": cfg.seed,
        "enable_lora": True,
        "max_lora_rank": cfg.max_lora_rank,
        "max_loras": cfg.max_loras,
        "gpu_memory_utilization": cfg.gpu_memory_utilization,
        "max_model_len": cfg.max_model_len,
        "enforce_eager": cfg.enforce_eager,
        "generation_config": "vllm",  # ignore the model's default sampling (e.g. Llama's T=0.6): ours is explicit
    }
    extra = OmegaConf.to_container(cfg.engine_kwargs, resolve=True) if cfg.engine_kwargs else {}
    return {k: v for k, v in {**kwargs, **extra}.items() if v is not None}


def sampling_kwargs(params: SamplingParams, eos: list[int], n: int) -> list[dict[str, Any]]:
    """One SamplingParams per prompt; per-request seeds make samples independent of batch composition."""
    base = {
        "n": 1,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_new_tokens,
        "stop": list(params.stop),
        "stop_token_ids": eos,
        "skip_special_tokens": True,
    }
    if params.temperature == 0:
        return [base] * n
    return [{**base, "seed": params.seed + i} for i in range(n)]  # repeated prompts get different samples


def parse_outputs(outputs: list[Any]) -> list[tuple[str, int, int, str]]:
    """RequestOutput objects -> plain (text, prompt tokens, output tokens, finish reason) rows."""
    rows = []
    for out in outputs:
        best = out.outputs[0]
        if best.finish_reason not in ("stop", "length"):
            raise RuntimeError(f"vLLM request {out.request_id} ended with finish_reason={best.finish_reason}")
        rows.append((best.text, len(out.prompt_token_ids), len(best.token_ids), best.finish_reason))
    return rows


def worker(conn, api_path: str, kwargs: dict[str, Any], env: dict[str, str], progress: bool) -> None:
    """The engine process: build the engine once, then answer Requests until None arrives."""
    os.environ.update(env)  # before vLLM is imported: it reads its settings at import time
    try:
        module, name = api_path.split(":")
        llm_cls, sampling_cls, lora_cls = getattr(importlib.import_module(module), name)()
        llm = llm_cls(**kwargs)
        conn.send(("ready", None))
    except BaseException as exc:
        conn.send(("error", _describe(exc)))
        return
    while (request := conn.recv()) is not None:
        try:
            lora = None
            if request.lora is not None:
                name, int_id, path = request.lora
                lora = lora_cls(lora_name=name, lora_int_id=int_id, lora_path=path)
            outputs = llm.generate(
                [{"prompt_token_ids": ids} for ids in request.prompts],  # vLLM's TokensPrompt
                [sampling_cls(**s) for s in request.sampling],
                use_tqdm=progress,
                lora_request=lora,
            )
            conn.send(("ok", parse_outputs(outputs)))
        except Exception as exc:
            conn.send(("error", _describe(exc)))


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip() + "\n" + traceback.format_exc()


class VLLMBackend(Backend):
    api = VLLM_API  # tests point this at a fake with vLLM's shape

    def __init__(self, model_path: str, cfg: Any):
        super().__init__(model_path, cfg)
        self.tokenizer = load_tokenizer(model_path)
        self.eos = _eos_ids(model_path, self.tokenizer)
        self.lora_ids: dict[str, int] = {}
        self._engine_model: str | None = None
        self._process = self._conn = None

    # -- the engine process ---------------------------------------------------------------------
    def _ensure_engine(self, model: str) -> None:
        if self._engine_model == model:
            return
        self.close()  # a fully fine-tuned model needs its own engine
        kwargs = engine_kwargs(model, self.cfg)
        env = {k: str(v) for k, v in (self.cfg.env or {}).items()}
        context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=worker,
            args=(child, self.api, kwargs, env, bool(self.cfg.progress_bar or progress.enabled())),
            name="pada-vllm",
        )
        self._process.start()
        child.close()
        status, payload = self._receive()
        if status != "ready":
            self.close()
            if "No module named 'vllm'" in payload:
                raise PadaError(
                    "vllm is not installed; on a GPU host run `pip install 'pada[gpu]'` or use eval=transformers"
                )
            raise RuntimeError(f"vLLM engine failed to start:\n{payload}")
        self._engine_model = model

    def _receive(self) -> tuple[str, Any]:
        try:
            return self._conn.recv()
        except EOFError:
            code = self._process.exitcode if self._process else None
            raise RuntimeError(f"the vLLM worker process died (exit code {code})") from None

    # -- the interface --------------------------------------------------------------------------
    def lora(self, adapter: str | None) -> tuple[str, int, str] | None:
        if adapter is None or not (Path(adapter) / "adapter_config.json").is_file():
            return None
        path = str(Path(adapter).resolve())
        if path not in self.lora_ids:
            self.lora_ids[path] = len(self.lora_ids) + 1  # vLLM reserves id 0; ids never reused in a run
        return (f"adapter-{self.lora_ids[path]}", self.lora_ids[path], path)

    def encode(self, item: Prompt) -> list[int]:
        text = (
            item
            if isinstance(item, str)
            else apply_chat_template(self.tokenizer, item, add_generation_prompt=True, tokenize=False)
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(
        self, chats: list[Prompt], params: SamplingParams, adapter: str | None = None
    ) -> list[Completion]:
        full_model = adapter is not None and not (Path(adapter) / "adapter_config.json").is_file()
        self._ensure_engine(adapter if full_model else self.model_path)
        request = Request(
            prompts=[self.encode(c) for c in chats],
            sampling=sampling_kwargs(params, self.eos, len(chats)),
            lora=self.lora(adapter),
        )
        self._conn.send(request)
        status, payload = self._receive()
        if status != "ok":
            raise RuntimeError(f"vLLM generation failed:\n{payload}")
        return [Completion(*row) for row in payload]

    def close(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(None)
        self._process.join(timeout=self.cfg.shutdown_timeout_s)
        if self._process.is_alive():
            self._process.kill()  # vLLM sometimes hangs in its own teardown; the GPU memory must come back
            self._process.join()
        self._conn.close()
        self._process = self._conn = self._engine_model = None


def _eos_ids(model_path: str, tokenizer) -> list[int]:
    from transformers import GenerationConfig

    try:
        configured = GenerationConfig.from_pretrained(model_path).eos_token_id
    except OSError:  # no generation_config.json: the tokenizer's EOS is all there is
        configured = None
    ids = configured if isinstance(configured, list) else [configured]
    return sorted({i for i in [*ids, tokenizer.eos_token_id] if i is not None})
