"""Rate limits per key: 429 with Retry-After, shared through the local Redis, per process without it."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from api.ratelimit import RateLimiter
from tests.api.conftest import auth


def _redis_or_skip() -> str:
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is not reachable: {type(exc).__name__}")
    return url


def test_limit_is_shared_by_two_limiters_through_redis() -> None:
    url = _redis_or_skip()
    t = [600.0 * 10**6 + 5]  # a fixed window start, far from any real one
    a = RateLimiter(3, url, now=lambda: t[0])
    b = RateLimiter(3, url, now=lambda: t[0])  # "another worker"
    key = f"k-{uuid.uuid4().hex}"
    assert [a.hit(key)[0], b.hit(key)[0], a.hit(key)[0]] == [True, True, True]
    allowed, retry = b.hit(key)
    assert not allowed and 1 <= retry <= 60
    t[0] += 60  # next window
    assert a.hit(key)[0]


def test_without_redis_it_counts_per_process() -> None:
    lim = RateLimiter(2, "redis://127.0.0.1:1/0", now=lambda: 1000.0)
    assert [lim.hit("k")[0] for _ in range(3)] == [True, True, False]


def test_http_429_with_retry_after(client: TestClient, demo: dict[str, str]) -> None:
    client.app.state.limiter = RateLimiter(2, None)
    h = auth(demo["agent"])
    codes = [client.get("/v1/drafts", headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = client.get("/v1/drafts", headers=h)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limited"
    assert client.get("/v1/drafts", headers=auth(demo["manager"])).status_code == 200  # per key
