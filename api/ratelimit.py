"""Per-key rate limits, shared by every worker through Redis (fixed one-minute windows).

Redis is the shared counter so several workers (or machines) enforce one limit. If Redis cannot
be reached the limiter falls back to a per-process counter and says so in the log: a limit that
is per worker is better than none, and drafting must not stop because Redis did.
"""

from __future__ import annotations

import logging
import threading

from core.clock import Clock, SystemClock

log = logging.getLogger("replydesk.ratelimit")


class RateLimiter:
    """``hit(key_id)`` counts one request in the current minute of the injected clock."""

    def __init__(self, per_minute: int, redis_url: str | None, *, clock: Clock | None = None) -> None:
        self.per_minute = per_minute
        self.redis_url = redis_url
        self.clock = clock or SystemClock()
        self._redis = None
        self._redis_failed_at = 0.0
        self._local: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.clock.now().timestamp()

    def _client(self):  # type: ignore[no-untyped-def]
        if self._redis is None and self.redis_url and self.now() - self._redis_failed_at > 30:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=0.2, socket_connect_timeout=0.2)
        return self._redis

    def hit(self, key_id: str) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        if self.per_minute <= 0:
            return True, 0
        t = self.now()
        window = int(t // 60)
        retry = max(1, int(60 - t % 60))
        client = self._client()
        if client is not None:
            try:
                k = f"replydesk:rl:{key_id}:{window}"
                pipe = client.pipeline()
                pipe.incr(k)
                pipe.expire(k, 120)
                count = int(pipe.execute()[0])
                return count <= self.per_minute, retry
            except Exception as exc:  # Redis down: keep serving with a local counter
                log.warning("rate limiter: Redis unavailable (%s); counting per process", type(exc).__name__)
                self._redis, self._redis_failed_at = None, t
        with self._lock:
            self._local = {k: v for k, v in self._local.items() if k[1] >= window - 1}
            n = self._local.get((key_id, window), 0) + 1
            self._local[(key_id, window)] = n
        return n <= self.per_minute, retry
