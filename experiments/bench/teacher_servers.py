"""``teacher_speed.py servers``: the same REAL requests to llama-cpp-python's server and to llama.cpp's `llama-server`.

The requests are the ones pada sent in a finished ``make demo-real`` run, rebuilt exactly: PaDA-Agent's error
analyses of its cells' wrong validation answers (``pada.agent.patterns.analyse`` with a recording teacher)
and LLM2LLM's list-form generation for its cells' wrong seeds (``teacher_speed.Seeds``, v3, 3 items); each
is turned into the keyword arguments pada's OpenAI-compatible provider sends (``OpenAICompatible.request``
at ``teacher=local_llamacpp``'s sampling: role temperature, max_tokens, seed + sample index, the role's
schema as ``response_format`` json_object + schema). Variants, alternated chunk by chunk (A B C D / D C B A):

- ``A_llamacpp_1t``: ``LlamaCppServer``, 1 thread, one request at a time (what demo-real ran);
- ``B_llamaserver_1t_1slot``: ``LlamaServer``, 1 thread, 1 slot, one request at a time;
- ``C_llamaserver_1t_4slots``: ``LlamaServer``, 1 thread, 4 slots, a chunk's 4 requests sent at once
  (what ``experiments/demo_real.py --server llama-server`` runs);
- ``D_llamaserver_2t_4slots``: the same with 2 threads.

Per variant: the server's CPU seconds (user + system of its process), wall seconds, output tokens, tokens
per CPU second, schema-valid answers per role, CPU seconds per valid answer; and the ratios to A.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

CHUNK = 4  # requests per chunk: C's slots, sent together
VARIANTS = (
    "A_llamacpp_1t",
    "B_llamaserver_1t_1slot",
    "C_llamaserver_1t_4slots",
    "D_llamaserver_2t_4slots",
)


class _Recorder:
    """A stand-in teacher that records the requests a method would send, answering none."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def complete_many(self, requests: list[Any]) -> list[None]:
        self.requests += requests
        return [None] * len(requests)


def analysis_requests(runs: Path, per_role: int) -> list[Any]:
    """PaDA-Agent's error-analysis requests for its cells' wrong validation answers, cells in turn."""
    from omegaconf import OmegaConf

    from pada.agent.method import DESCRIPTIONS
    from pada.agent.patterns import analyse
    from pada.io import read_jsonl
    from pada.types import EvalRecord

    version = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf/method/pada.yaml").analysis_prompt
    per_cell = [
        [EvalRecord(**r) for r in read_jsonl(cell / "eval_0" / "val.jsonl") if not r["correct"]]
        for cell in sorted(runs.glob("*-pada-*"))
    ]
    chosen = [cell[i] for i in range(per_role) for cell in per_cell if i < len(cell)][:per_role]
    recorder = _Recorder()
    analyse(recorder, chosen, DESCRIPTIONS["arc_challenge"], version)
    return recorder.requests


def generation_requests(seeds: Any, per_role: int, n: int = 3) -> list[Any]:
    """LLM2LLM's list-form generation requests (n problems per request) for the cells' wrong seeds."""
    from omegaconf import OmegaConf

    from baselines.llm2llm import problem_list
    from pada.teacher import Request

    method = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf/method/llm2llm.yaml")
    asked = [s for i in range(per_role) for _, _, chosen in seeds.cells for s in chosen[i : i + 1]]
    return [
        Request(
            "generation",
            seeds.prompt(seed, n, "v3"),
            0,
            problem_list(seeds.items.schema, n),
            max_tokens=int(method.max_tokens),
            temperature=float(method.temperature),
        )
        for seed in asked[:per_role]
    ]


def sent_kwargs(requests: list[Any]) -> list[dict[str, Any]]:
    """Each request as the keyword arguments pada's provider passes to ``chat.completions.create``."""
    from pada.teacher import Teacher
    from pada.teacher.lanes import as_tuple
    from pada.teacher.providers.base import Call

    with Teacher(_teacher_config(), None) as teacher:
        out = []
        for request in requests:
            lane = teacher.lane(request.role)
            call = Call(
                role=request.role,
                messages=as_tuple(request.messages, lane.example_answers),
                params=teacher._params(request, lane),
                sample_index=request.sample_index,
                schema=request.schema,
            )
            out.append({"role": request.role, "schema": request.schema, **lane.provider.request(call)})
    return out


def _teacher_config() -> Any:
    from hydra import compose, initialize_config_dir

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(version_base="1.3", config_dir=str(conf)):
        return compose("config", ["teacher=local_llamacpp", "teacher.client.cache.mode=off"]).teacher


def send(server: Any, client: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """One request as pada sends it; the answer's validity against the role's schema and its usage."""
    body = {k: v for k, v in kwargs.items() if k not in ("role", "schema")}
    started = time.perf_counter()
    response = client.chat.completions.create(**{**body, "model": server.model})
    text = response.choices[0].message.content or ""
    try:
        kwargs["schema"].model_validate_json(text)
        valid = True
    except ValueError:
        valid = False
    return {
        "role": kwargs["role"],
        "wall_s": round(time.perf_counter() - started, 2),
        "prompt_tokens": response.usage.prompt_tokens,
        "output_tokens": response.usage.completion_tokens,
        "finish_reason": response.choices[0].finish_reason,
        "valid": valid,
        "text": text,
    }


def run_chunk(name: str, server: Any, client: Any, chunk: list[dict]) -> tuple[list[dict], float, float]:
    """The chunk's answers, the server's CPU seconds and the wall seconds it took (C: all at once)."""
    from common import cpu_seconds

    cpu, started = cpu_seconds(server), time.perf_counter()
    if name.endswith("_4slots"):
        with ThreadPoolExecutor(len(chunk)) as pool:
            answers = list(pool.map(lambda kw: send(server, client, kw), chunk))
    else:
        answers = [send(server, client, kw) for kw in chunk]
    return answers, cpu_seconds(server) - cpu, time.perf_counter() - started


def servers(gguf: Path, folder: Path, stack: contextlib.ExitStack, names: tuple[str, ...]) -> dict[str, Any]:
    from pada.teacher.llama_server import LlamaServer
    from pada.teacher.local_server import LlamaCppServer

    made = {
        VARIANTS[0]: LlamaCppServer(gguf, folder / "A", threads=1),
        VARIANTS[1]: LlamaServer(gguf, folder / "B", threads=1, slots=1),
        VARIANTS[2]: LlamaServer(gguf, folder / "C", threads=1, slots=CHUNK),
        VARIANTS[3]: LlamaServer(gguf, folder / "D", threads=2, slots=CHUNK),
    }
    return {name: stack.enter_context(made[name]) for name in names}


def run_servers_part(args: Any) -> dict[str, Any]:
    """Every request to every variant, chunk by chunk in alternating order; totals, per role and ratios."""
    import sys

    import openai
    from teacher_speed import Seeds

    requests = analysis_requests(args.runs, args.per_role)
    requests += generation_requests(Seeds(args.runs, args.per_role), args.per_role)
    sent = sent_kwargs(requests)
    chunks = [sent[i : i + CHUNK] for i in range(0, len(sent), CHUNK)]
    names = tuple(v for v in VARIANTS if v[0] in "A" + args.variants)  # A: the ratios' base
    records: dict[str, list[dict]] = {name: [] for name in names}
    cost: dict[str, dict[str, float]] = {name: {"cpu_s": 0.0, "wall_s": 0.0} for name in names}
    with contextlib.ExitStack() as stack:
        running = servers(args.gguf, args.cache / "bench" / "teacher_servers", stack, names)
        for k, chunk in enumerate(chunks):
            for name in names if k % 2 == 0 else tuple(reversed(names)):
                server = running[name]
                client = openai.OpenAI(base_url=server.base_url, api_key="-", max_retries=0, timeout=1800)
                answers, cpu, wall = run_chunk(name, server, client, chunk)
                records[name] += answers
                cost[name]["cpu_s"] += cpu
                cost[name]["wall_s"] += wall
            print(f"[teacher_speed] servers chunk {k + 1}/{len(chunks)}", file=sys.stderr, flush=True)
    return {"summary": summarise(records, cost), "records": records}


def summarise(records: dict[str, list[dict]], cost: dict[str, dict[str, float]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, rows in records.items():
        cpu, wall = cost[name]["cpu_s"], cost[name]["wall_s"]
        out, valid = sum(r["output_tokens"] for r in rows), sum(r["valid"] for r in rows)
        roles = sorted({r["role"] for r in rows})
        summary[name] = {
            "requests": len(rows),
            "server_cpu_s": round(cpu, 1),
            "wall_s": round(wall, 1),
            "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
            "output_tokens": out,
            "output_tokens_per_cpu_s": round(out / cpu, 2) if cpu else None,
            "output_tokens_per_wall_s": round(out / wall, 2) if wall else None,
            "cpu_s_per_request": round(cpu / len(rows), 2),
            "cpu_s_per_valid": round(cpu / valid, 2) if valid else None,
            "valid_per_role": {
                role: f"{sum(r['valid'] for r in rows if r['role'] == role)}/"
                f"{sum(r['role'] == role for r in rows)}"
                for role in roles
            },
            "truncated": sum(r["finish_reason"] == "length" for r in rows),
        }
    base = summary[VARIANTS[0]]
    for name in list(summary)[1:]:
        summary[name]["ratios_to_A"] = {
            key: round(summary[name][key] / base[key], 3)
            for key in ("server_cpu_s", "wall_s", "cpu_s_per_valid", "output_tokens")
            if base[key] and summary[name][key]
        }
    return summary
