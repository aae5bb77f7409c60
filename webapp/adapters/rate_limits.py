"""Rate limits outside a request's decorators (a WebSocket's messages), counted like Flask-Limiter counts the app's:
a moving window in Redis, and in this process's memory while Redis is down (retried after a pause)."""
from __future__ import annotations

import logging
import threading
import time

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

RETRY_REDIS_AFTER_SECONDS = 30


class RateLimits:
    """`hit(limit, *keys)`: True when one more event fits in the limit (and counts it), False when over it."""

    def __init__(self, storage_url: str | None, timeout_seconds: float = 2):
        self._url, self._timeout = storage_url, timeout_seconds
        self._shared: MovingWindowRateLimiter | None = None
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _shared_limiter(self) -> MovingWindowRateLimiter | None:
        if not self._url or self._url.startswith("memory://") or time.monotonic() < self._down_until:
            return None
        with self._lock:
            if self._shared is None:
                options = {"socket_connect_timeout": self._timeout, "socket_timeout": self._timeout} \
                    if self._url.startswith(("redis://", "rediss://", "unix://")) else {}
                self._shared = MovingWindowRateLimiter(storage_from_string(self._url, **options))
            return self._shared

    def hit(self, limit: str, *keys: str) -> bool:
        item = parse(limit)
        shared = self._shared_limiter()
        if shared is not None:
            try:
                return shared.hit(item, *keys)
            except Exception as exc:  # the storage's errors are the Redis client's; any of them means "down"
                log.warning("rate limits counted in memory for %ss (Redis: %s)", RETRY_REDIS_AFTER_SECONDS, exc)
                self._down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
        return self._memory.hit(item, *keys)
