"""Rate limits per key: 429 with Retry-After, shared through the local Redis, per process without it.

Windows are minutes of the injected clock, so no test can straddle a real minute boundary.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api.ratelimit import RateLimiter
from core.clock import FixedClock
from tests.api.conftest import auth


def test_limit_is_shared_by_two_limiters_through_redis(redis_url: str) -> None:
    clock = FixedClock(datetime(2026, 11, 12, 3, 0, 5, tzinfo=UTC))  # 5 s into a window
    a = RateLimiter(3, redis_url, clock=clock)
    b = RateLimiter(3, redis_url, clock=clock)  # "another worker"
    key = f"k-{uuid.uuid4().hex}"
    assert [a.hit(key)[0], b.hit(key)[0], a.hit(key)[0]] == [True, True, True]
    allowed, retry = b.hit(key)
    assert not allowed and retry == 55
    clock.advance(seconds=55)  # the next window
    assert a.hit(key) == (True, 60)


def test_without_redis_it_counts_per_process() -> None:
    clock = FixedClock(datetime(2026, 11, 12, 3, 0, 59, tzinfo=UTC))
    lim = RateLimiter(2, "redis://127.0.0.1:1/0", clock=clock)  # nothing listens there
    assert [lim.hit("k")[0] for _ in range(3)] == [True, True, False]
    clock.advance(seconds=1)
    assert lim.hit("k")[0]


def test_http_429_with_retry_after(client: TestClient, demo: dict[str, str], clock: FixedClock) -> None:
    client.app.state.limiter = RateLimiter(2, None, clock=clock)
    h = auth(demo["agent"])
    codes = [client.get("/v1/drafts", headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = client.get("/v1/drafts", headers=h)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limited"
    assert client.get("/v1/drafts", headers=auth(demo["manager"])).status_code == 200  # per key
    clock.advance(seconds=int(r.headers["retry-after"]))
    assert client.get("/v1/drafts", headers=h).status_code == 200  # the next minute


def test_the_app_limits_by_its_own_clock(client: TestClient) -> None:
    assert client.app.state.limiter.clock is client.app.state.container.clock
