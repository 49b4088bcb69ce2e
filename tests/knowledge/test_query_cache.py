"""The query-embedding cache shared by workers: Redis when configured (bounded LRU), a local LRU always."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from knowledge.embeddings import E5Embedder
from knowledge.query_cache import LocalLRU, RedisVectors, build_shared_vectors, normalise


@pytest.fixture
def shared(redis_url: str):
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"test:qvec:{uuid.uuid4().hex[:10]}"  # tests running at once share the server
    yield RedisVectors(client, prefix=prefix, max_entries=50)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def test_a_query_is_embedded_once_per_deployment(shared: RedisVectors) -> None:
    worker1, worker2 = E5Embedder(shared=shared), E5Embedder(shared=shared)
    v1 = worker1.embed_query("亲，怎么还不发货？")
    v2 = worker2.embed_query("  亲，怎么还不发货？ ")  # same text once normalised
    assert (worker1.computed, worker2.computed) == (1, 0)
    assert np.array_equal(v1, v2) and not v2.flags.writeable
    worker2.embed_query("今天能发吗")
    assert worker2.computed == 1 and shared.size() == 2
    # Keyed by model id too: another model never reads these vectors.
    other = E5Embedder(shared=shared)
    other.model_id = "example/other@1"
    other.embed_query("亲，怎么还不发货？")
    assert other.computed == 1 and shared.size() == 3


def test_redis_is_bounded_least_recently_used_first(shared: RedisVectors) -> None:
    shared.max_entries = 3
    vec = np.ones(384, dtype=np.float32)
    for i in range(3):
        shared.put("m", f"q{i}", vec * i)
    assert shared.get("m", "q0") is not None  # touched: q1 is now the oldest
    shared.put("m", "q3", vec)
    assert shared.size() == 3
    assert shared.get("m", "q1") is None
    assert [shared.get("m", q) is not None for q in ("q0", "q2", "q3")] == [True, True, True]
    assert float(shared.get("m", "q2")[0]) == 2.0


def test_redis_down_costs_the_cache_not_the_query() -> None:
    import redis

    dead = RedisVectors(redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2), prefix="x")
    e = E5Embedder(shared=dead)
    assert e.embed_query("发货了吗").shape == (384,) and e.computed == 1
    assert build_shared_vectors("redis://127.0.0.1:9/0", max_entries=10) is None
    assert build_shared_vectors(None, max_entries=10) is None


def test_local_lru_and_normalisation() -> None:
    lru = LocalLRU(2)
    for t in ("a", "b", "c"):
        lru.put("m", t, np.zeros(1))
    assert len(lru) == 2 and lru.get("m", "a") is None and lru.get("m", "c") is not None
    assert normalise(" 亲，\n 怎么  还不发货 ") == "亲， 怎么 还不发货"
    e = E5Embedder()
    e.embed_query("发货了吗")
    e.embed_query("发货了吗 ")
    assert e.computed == 1
