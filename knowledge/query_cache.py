"""The query-embedding cache shared by every worker of a deployment.

The same urge ("亲，怎么还不发货？") arrives hundreds of times a day in every shop: embedding it
costs ~6-100 ms of CPU (more when the cores are busy), a cache hit well under a millisecond. Each
worker keeps a small LRU in front; behind it, Redis (when configured) holds the vectors for all
workers, so a common urge is embedded once per deployment rather than once per worker.

Keys are the model id and the normalised text (surrounding and repeated whitespace removed, which
is also the text that gets embedded): a vector is a pure function of both, so an entry is never
stale and needs no invalidation, only a bound. Redis is bounded by entry count: an access-time
sorted set evicts the least recently used entries beyond ``max_entries``. Redis being down costs
the cache, never a draft: errors fall through to the model.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class SharedVectors(Protocol):
    def get(self, model_id: str, text: str) -> np.ndarray | None: ...

    def put(self, model_id: str, text: str, vector: np.ndarray) -> None: ...


class LocalLRU:
    """A bounded in-process LRU of read-only vectors (thread-safe)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._d: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str, text: str) -> np.ndarray | None:
        with self._lock:
            hit = self._d.get((model_id, text))
            if hit is not None:
                self._d.move_to_end((model_id, text))
            return hit

    def put(self, model_id: str, text: str, vector: np.ndarray) -> None:
        with self._lock:
            self._d[(model_id, text)] = vector
            self._d.move_to_end((model_id, text))
            while len(self._d) > self.max_entries:
                self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


class RedisVectors:
    """Vectors in Redis under ``<prefix>:v:<sha256(model id, text)>``, bounded by an LRU sorted set."""

    def __init__(self, client: Any, *, prefix: str = "replydesk:qvec", max_entries: int = 20_000,
                 dim: int = 384) -> None:
        self.client = client
        self.prefix = prefix
        self.max_entries = max_entries
        self.dim = dim
        self._lru = f"{prefix}:lru"
        self._failed_at = 0.0

    def _key(self, model_id: str, text: str) -> str:
        return f"{self.prefix}:v:" + hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()[:32]

    def _down(self) -> bool:
        # After a failure, skip Redis for a few seconds instead of paying a timeout on every query.
        return time.monotonic() - self._failed_at < 5.0

    def _fail(self, e: Exception) -> None:
        if not self._down():
            log.warning("query-embedding cache: Redis unavailable (%s); embedding locally", type(e).__name__)
        self._failed_at = time.monotonic()

    def get(self, model_id: str, text: str) -> np.ndarray | None:
        if self._down():
            return None
        key = self._key(model_id, text)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(key)
            pipe.zadd(self._lru, {key: time.time()}, xx=True)  # touch, only if still indexed
            raw, _ = pipe.execute()
        except Exception as e:
            self._fail(e)
            return None
        if raw is None or len(raw) != 4 * self.dim:
            return None
        vec = np.frombuffer(raw, dtype=np.float32).copy()
        vec.setflags(write=False)
        return vec

    def put(self, model_id: str, text: str, vector: np.ndarray) -> None:
        if self._down():
            return
        key = self._key(model_id, text)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(key, np.asarray(vector, dtype=np.float32).tobytes())
            pipe.zadd(self._lru, {key: time.time()})
            pipe.zcard(self._lru)
            size = pipe.execute()[-1]
            if size > self.max_entries:
                evicted = [k for k, _ in self.client.zpopmin(self._lru, size - self.max_entries)]
                if evicted:
                    self.client.delete(*evicted)
        except Exception as e:
            self._fail(e)

    def size(self) -> int:
        return int(self.client.zcard(self._lru))


def build_shared_vectors(redis_url: str | None, *, max_entries: int, prefix: str = "replydesk:qvec",
                         dim: int = 384) -> SharedVectors | None:
    """Redis when configured and answering, else None (each worker keeps only its own LRU)."""
    if not redis_url:
        return None
    try:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        client.ping()
    except Exception as exc:
        log.warning("query-embedding cache: Redis unavailable (%s); per-worker cache only", type(exc).__name__)
        return None
    return RedisVectors(client, prefix=prefix, max_entries=max_entries, dim=dim)
