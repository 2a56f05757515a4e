"""Teacher client throughput against a local server with fixed latency, and cache lookup speed.

    python experiments/bench/teacher_bench.py [--requests 200] [--concurrency 32] [--latency 0.1]

The server runs in a separate process. Ideal time is ceil(requests / concurrency) * latency (each request takes at least the latency and at most
`concurrency` are in flight). Goals (issue 6): throughput >= 0.85 of ideal; >= 5,000 cache lookups/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pada.teacher import Request, Teacher  # noqa: E402
from pada.teacher.cache import ResponseCache  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "conf" / "teacher"


def _cfg(url: str, cache: Path, concurrency: int):
    cfg = OmegaConf.load(CONF / "vllm_serve.yaml")
    cfg.pop("defaults")
    cfg.client = OmegaConf.load(CONF / "client" / "default.yaml")
    cfg.client.cache.path, cfg.client.max_concurrency, cfg.base_url = str(cache), concurrency, f"{url}/v1"
    return cfg


@contextlib.contextmanager
def _server_process(latency: float):
    """The fake server in its own process, so its CPU time is not the client's (as with a real endpoint)."""
    code = f"from pada.teacher.fake_server import serve_forever; serve_forever({latency})"
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=root)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="teacher-bench-"))
    requests = [
        Request("generation", [{"role": "user", "content": f"problem {i}"}]) for i in range(args.requests)
    ]
    with _server_process(args.latency) as url:
        cfg = _cfg(url, tmp / "cache.sqlite", args.concurrency)
        with Teacher(cfg, cfg.client.cache.path) as teacher:
            teacher.complete(
                "generation", [{"role": "user", "content": "warm-up"}]
            )  # connection pool, imports
            start, cpu = time.perf_counter(), time.process_time()
            answers = teacher.complete_many(requests)
            network_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
            peak = json.loads(urllib.request.urlopen(f"{url}/stats").read())["max_in_flight"]
        with Teacher(cfg, cfg.client.cache.path) as teacher:
            start = time.perf_counter()
            cached = teacher.complete_many(requests)
            client_hits_s = time.perf_counter() - start
            assert teacher.usage()["total"]["calls"] == 0 and cached == answers
    cache = ResponseCache(tmp / "cache.sqlite")
    keys = [row[0] for row in cache._db.execute("SELECT key FROM completions")]
    start, rounds = time.perf_counter(), 25
    for _ in range(rounds):
        for key in keys:
            cache.get(key)
    raw_s = time.perf_counter() - start
    ideal = math.ceil(args.requests / args.concurrency) * args.latency
    print(json.dumps({
        "requests": args.requests, "concurrency": args.concurrency, "latency_s": args.latency,
        "peak_in_flight": peak, "wall_s": round(network_s, 3), "ideal_s": round(ideal, 3),
        "throughput_fraction_of_ideal": round(ideal / network_s, 3),
        "requests_per_s": round(args.requests / network_s, 1),
        "client_cpu_ms_per_request": round(1000 * cpu_s / args.requests, 2),
        "cached_rerun_lookups_per_s_via_client": round(args.requests / client_hits_s),
        "raw_cache_lookups_per_s": round(rounds * len(keys) / raw_s),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
