"""Token-bucket rate limits: bursts up to one second's worth, then the configured rate."""

from __future__ import annotations

import asyncio
import time

from teacher_support import teacher_cfg

from pada.teacher import Teacher
from pada.teacher.limits import RateLimiter


def test_bucket_allows_a_burst_then_the_rate():
    async def take(limiter: RateLimiter, n: int, amount: float) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await limiter.acquire(amount)
        return time.perf_counter() - start

    async def burst_then_more() -> tuple[float, float]:
        limiter = RateLimiter(per_minute=600)  # 10 a second, burst 10
        burst = await take(limiter, 10, 1)
        return burst, burst + await take(limiter, 5, 1)

    burst, total = asyncio.run(burst_then_more())
    assert burst < 0.3  # generous upper bounds: the test host is shared
    assert 0.48 <= total < 2.5  # 15 units from a bucket of 10 refilled at 10/s take at least 0.5 s


def test_token_limit_paces_requests_by_estimated_tokens(tmp_path):
    # 60,000 tokens/min = 1,000/s; each request is estimated at max_tokens=250 (+ a few prompt chars):
    # a burst of 4 requests, then ~4 a second, so 8 requests need at least ~1 s.
    cfg = teacher_cfg("scripted", tmp_path, **{"client.tokens_per_minute": 60000, "sampling.max_tokens": 250})
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        start = time.perf_counter()
        teacher.samples("generation", [{"role": "user", "content": "hi"}], 8)
        elapsed = time.perf_counter() - start
    assert 0.9 <= elapsed < 6.0
