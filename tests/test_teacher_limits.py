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

    limiter = RateLimiter(per_minute=600)  # 10 a second, burst 10
    assert asyncio.run(take(limiter, 10, 1)) < 0.05
    assert 0.45 <= asyncio.run(take(limiter, 5, 1)) < 0.9  # the bucket is empty: 5 more need ~0.5 s


def test_token_limit_paces_requests_by_estimated_tokens(tmp_path):
    # 60,000 tokens/min = 1,000/s; each request is estimated at max_tokens=250 (+ a few prompt chars):
    # a burst of 4 requests, then ~4 a second, so 8 requests need at least ~1 s.
    cfg = teacher_cfg("scripted", tmp_path, **{"client.tokens_per_minute": 60000, "sampling.max_tokens": 250})
    with Teacher(cfg, cfg.client.cache.path) as teacher:
        start = time.perf_counter()
        teacher.samples("generation", [{"role": "user", "content": "hi"}], 8)
        elapsed = time.perf_counter() - start
    assert 0.9 <= elapsed < 3.0
