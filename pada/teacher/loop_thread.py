"""The teacher client's private event loop: the client's API is synchronous, and every request of a run
runs on this one loop, so concurrency limits, rate limits and SDK connection pools are shared."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any


class EventLoopThread:
    """A private event loop on a daemon thread; the sync facade submits coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pada-teacher", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:  # Ctrl-C: cancel the requests in flight, let them unwind, then stop
            future.cancel()
            with contextlib.suppress(BaseException):  # the cancellation itself, or a late failure
                future.result(timeout=10)
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
