"""The facts cache: a burst of drafts about one order costs one upstream call (threads and worker
processes, Redis and the database); stale facts beyond the limit are never used for status claims."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from drafter.pipeline import DraftServices, draft
from drafter.request import DraftRequest
from knowledge.errors import SourceRateLimited
from knowledge.shops import ShopStore
from knowledge.sources.cache import RedisBackend, SqlBackend
from knowledge.store import KnowledgeStore
from tests.knowledge.sources.conftest import SHOP, connect_top
from tests.knowledge.sources.test_taobao import TID, split_trade, traces


def _redis_backend() -> RedisBackend:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1, socket_connect_timeout=0.5)
    try:
        client.ping()
    except Exception as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is not reachable: {type(exc).__name__}")
    return RedisBackend(client, f"test-{uuid.uuid4().hex[:8]}", 1000, 600)


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_a_burst_of_50_drafts_makes_one_upstream_call(top, engine, clock, configs, make_sources,
                                                      backend: str) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    top.behaviour.delay_s = 0.3  # every draft of the burst arrives while the first call is in flight
    connect_top(configs, top)
    sources = make_sources(_redis_backend() if backend == "redis" else None)
    pool = ThreadPoolExecutor(max_workers=64)
    services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock), orders=sources,
                             clock=clock, order_timeout_s=10, executor=pool)
    req = DraftRequest(order_id=TID, message="亲，怎么还不发货？")
    with ThreadPoolExecutor(max_workers=50) as burst:
        results = list(burst.map(lambda _: draft(req, SHOP, services), range(50)))
    pool.shutdown()
    assert top.count("taobao.trade.fullinfo.get") == 1
    assert all(r.facts is not None and r.order_error is None for r in results)
    assert len({r.text for r in results}) == 1
    c = sources.telemetry.counts
    served = c["cache:hit"] + c["cache:coalesced"]
    print(f"\nburst ({backend}): 50 drafts, upstream trade calls {top.count('taobao.trade.fullinfo.get')}, "
          f"miss {c['cache:miss']}, coalesced {c['cache:coalesced']}, hit {c['cache:hit']}: "
          f"served without an upstream call {served}/50 = {served / 50:.0%}")
    assert c["cache:miss"] == 1 and served == 49


def _worker(db_url: str, redis_ns: str | None, gateway: str, secret_key: str, n: int, out: mp.Queue) -> None:
    from core.clock import SystemClock
    from core.db import make_engine
    from knowledge.order_store import SqlOrderStore
    from knowledge.sources.cache import FactsCache
    from knowledge.sources.config import SourceConfigStore
    from knowledge.sources.router import OrderSources
    from knowledge.sources.secretbox import SecretBox
    from knowledge.sources.telemetry import SourceTelemetry

    clock = SystemClock()
    eng = make_engine(db_url)
    if redis_ns:
        import redis

        backend = RedisBackend(redis.Redis.from_url("redis://127.0.0.1:6379/0"), redis_ns, 1000, 600)
    else:
        backend = SqlBackend(eng, clock, 1000)  # type: ignore[assignment]
    tel = SourceTelemetry()
    src = OrderSources(store=SqlOrderStore(eng, clock), configs=SourceConfigStore(eng, clock, SecretBox(secret_key)),
                       cache=FactsCache(backend, clock, ttl_s=30, max_age_s=900, telemetry=tel), clock=clock,
                       telemetry=tel)
    with ThreadPoolExecutor(max_workers=n) as pool:
        got = list(pool.map(lambda _: src.get(SHOP, TID).order_id, range(n)))
    out.put((got, dict(tel.counts)))
    src.close()


@pytest.mark.slow  # two worker processes
@pytest.mark.parametrize("backend", ["database", "redis"])
def test_single_flight_across_worker_processes(top, tmp_path: Path, backend: str) -> None:
    from core.clock import SystemClock
    from core.db import make_engine, migrate
    from knowledge.sources.config import SourceConfigStore
    from knowledge.sources.secretbox import SecretBox, new_key

    ns = None
    if backend == "redis":
        ns = _redis_backend().ns
    url = f"sqlite:///{tmp_path}/w.db"
    eng = make_engine(url)
    migrate(eng)
    ShopStore(eng, SystemClock()).ensure(SHOP)
    key = new_key()
    connect_top(SourceConfigStore(eng, SystemClock(), SecretBox(key)), top)
    top.trades[TID] = split_trade()
    traces(top)
    top.behaviour.delay_s = 0.5
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, ns, top.url, key, 25, q)) for _ in range(2)]  # type: ignore[attr-defined]
    for p in procs:
        p.start()
    outs = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(ids == [TID] * 25 for ids, _ in outs)
    assert top.count("taobao.trade.fullinfo.get") == 1, [c for _, c in outs]


def test_stale_facts_serve_within_the_limit_and_never_beyond(top, configs, make_sources, clock) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    connect_top(configs, top)
    src = make_sources(ttl_s=30, max_age_s=600)
    first = src.get(SHOP, TID)
    clock.advance(seconds=120)
    top.behaviour.always("rate_limit:3600")
    again = src.get(SHOP, TID)  # the platform bans us: facts read 2 minutes ago still stand
    assert again.fetched_at == first.fetched_at
    assert src.telemetry.counts["cache:stale"] == 1
    clock.advance(seconds=600)
    with pytest.raises(SourceRateLimited):  # 12 minutes old: not used for any status claim
        src.get(SHOP, TID)


def test_the_pipeline_never_claims_from_facts_older_than_the_limit(engine, clock) -> None:
    from datetime import timedelta

    from knowledge.orders import OrderFacts

    old = OrderFacts.model_validate({"order_id": "X1", "status": "WAIT_BUYER_CONFIRM_GOODS",
                                     "fetched_at": clock.now() - timedelta(hours=2),
                                     "shipments": [{"carrier": "中通快递", "tracking_no": "78812345678901",
                                                    "events": [{"at": clock.now() - timedelta(hours=3),
                                                                "desc": "已揽收"}]}]})

    class Old:
        def get(self, shop_id: str, order_id: str) -> OrderFacts:
            return old

    services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock), orders=Old(),
                             clock=clock, max_facts_age_s=900)
    r = draft(DraftRequest(order_id="X1", message="我的快递到哪了"), SHOP, services)
    assert r.order_error == "unavailable" and r.needs_human and r.facts_age_s == 7200.0
    assert "78812345678901" not in r.text and not r.commitments
    assert r.facts is not None  # the agent still sees what was known, and how old it is
    fresh = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock), orders=Old(),
                          clock=clock, max_facts_age_s=3 * 3600)
    assert draft(DraftRequest(order_id="X1", message="我的快递到哪了"), SHOP, fresh).order_error is None


def test_the_cache_is_bounded_per_shop(engine, clock) -> None:
    from knowledge.orders import OrderFacts
    from knowledge.sources.cache import FactsCache

    cache = FactsCache(SqlBackend(engine, clock, 3), clock, ttl_s=30, max_age_s=900)
    for i in range(5):
        clock.advance(seconds=1)
        cache.put(SHOP, OrderFacts(order_id=f"O{i}"), origin="pull")
    assert [cache.entry(SHOP, f"O{i}") is not None for i in range(5)] == [False, False, True, True, True]
