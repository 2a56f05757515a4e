"""Teacher client throughput against a local server with fixed latency, and cache lookup speed.

    python experiments/bench/teacher_bench.py [--requests 200] [--concurrency 32] [--latency 0.1] [--rounds 5]

The server runs in a separate process. Ideal time is ceil(requests / concurrency) * latency (each request
takes at least the latency and at most `concurrency` are in flight). Each round runs the same batch through
the bare ``openai.AsyncOpenAI`` SDK (the floor our client cannot beat) and through ``Teacher`` with an empty
cache, then re-runs it from the cache. Goals (issue 6): throughput >= 0.85 of ideal; >= 5,000 lookups/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from pada.teacher import Request, Teacher  # noqa: E402
from pada.teacher.cache import ResponseCache  # noqa: E402


def _cfg(url: str, cache: Path, concurrency: int):
    cfg = OmegaConf.load(ROOT / "conf" / "teacher" / "vllm_serve.yaml")
    cfg.pop("defaults")
    cfg.client = OmegaConf.load(ROOT / "conf" / "teacher" / "client" / "default.yaml")
    cfg.client.cache.path, cfg.client.max_concurrency, cfg.base_url = str(cache), concurrency, f"{url}/v1"
    return cfg


@contextlib.contextmanager
def _server_process(latency: float):
    """The fake server in its own process, so its CPU time is not the client's (as with a real endpoint)."""
    code = f"from pada.teacher.fake_server import serve_forever; serve_forever({latency})"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


def _bare_sdk(url: str, chats: list, concurrency: int) -> float:
    import openai

    async def run() -> float:
        client = openai.AsyncOpenAI(api_key="EMPTY", base_url=f"{url}/v1", max_retries=0)
        limit = asyncio.Semaphore(concurrency)

        async def one(chat):
            async with limit:
                await client.chat.completions.create(model="m", messages=chat, max_tokens=1024)

        await asyncio.gather(*[one(c) for c in chats[:concurrency]])  # warm the connection pool
        start = time.perf_counter()
        await asyncio.gather(*[one(c) for c in chats])
        elapsed = time.perf_counter() - start
        await client.close()
        return elapsed

    return asyncio.run(run())


def _teacher_round(url: str, chats: list, concurrency: int, cache: Path) -> dict[str, float]:
    cfg = _cfg(url, cache, concurrency)
    requests = [Request("generation", chat) for chat in chats]
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        teacher.samples("generation", [{"role": "user", "content": "warm-up"}], concurrency)  # open the pool
        start, cpu = time.perf_counter(), time.process_time()
        answers = teacher.complete_many(requests)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        start = time.perf_counter()
        cached = teacher.complete_many(requests)
        hits_wall = time.perf_counter() - start
        assert teacher.usage()["total"]["calls"] == 0 and cached == answers
    return {"wall": wall, "cpu_ms": 1000 * cpu / len(chats), "hits_per_s": len(chats) / hits_wall}


def _raw_lookups_per_s(path: Path, rounds: int = 25) -> float:
    cache = ResponseCache(path)
    keys = [row[0] for row in cache._db.execute("SELECT key FROM completions")]
    start = time.perf_counter()
    for _ in range(rounds):
        for key in keys:
            cache.get(key)
    return rounds * len(keys) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="teacher-bench-"))
    ideal = math.ceil(args.requests / args.concurrency) * args.latency
    bare, ours = [], []
    with _server_process(args.latency) as url:
        for r in range(args.rounds):
            chats = [[{"role": "user", "content": f"round {r} problem {i}"}] for i in range(args.requests)]
            bare.append(_bare_sdk(url, chats, args.concurrency))
            ours.append(_teacher_round(url, chats, args.concurrency, tmp / f"cache{r}.sqlite"))
        peak = json.loads(urllib.request.urlopen(f"{url}/stats").read())["max_in_flight"]
    median = statistics.median
    print(
        json.dumps(
            {
                "requests": args.requests,
                "concurrency": args.concurrency,
                "latency_s": args.latency,
                "rounds": args.rounds,
                "ideal_s": round(ideal, 3),
                "peak_in_flight": peak,
                "teacher_wall_s_median": round(median(o["wall"] for o in ours), 3),
                "teacher_fraction_of_ideal_median": round(ideal / median(o["wall"] for o in ours), 3),
                "teacher_fraction_of_ideal_best": round(ideal / min(o["wall"] for o in ours), 3),
                "bare_sdk_fraction_of_ideal_median": round(ideal / median(bare), 3),
                "bare_sdk_fraction_of_ideal_best": round(ideal / min(bare), 3),
                "teacher_client_cpu_ms_per_request_median": round(median(o["cpu_ms"] for o in ours), 2),
                "cached_rerun_lookups_per_s_median": round(median(o["hits_per_s"] for o in ours)),
                "raw_cache_lookups_per_s": round(_raw_lookups_per_s(tmp / "cache0.sqlite")),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
