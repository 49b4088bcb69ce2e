"""Upstream latency overhead of each order-source adapter against its fake (0 ms delay), and the cache.

For each adapter: the time of one ``fetch`` (signing, the HTTP calls, JSON, mapping, validation) and
the time of the same HTTP calls made bare (pre-built request, no signing, no parsing); the
difference is what the adapter adds. Then a cache hit through ``OrderSources.get``.

    .venv/bin/python -m benchmarks.order_sources [--n 300] [--json]

The fakes run in this process (uvicorn in a thread), so both sides pay the same loopback and server
cost: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 3)


def _time(fn: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(20, n)):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def run(n: int = 300) -> dict[str, Any]:
    from core.clock import SystemClock
    from core.db import make_engine, migrate
    from knowledge.order_store import SqlOrderStore
    from knowledge.shops import ShopStore
    from knowledge.sources.cache import FactsCache, SqlBackend
    from knowledge.sources.config import SourceConfigStore
    from knowledge.sources.router import OrderSources
    from knowledge.sources.secretbox import SecretBox, new_key
    from knowledge.sources.telemetry import SourceTelemetry
    from tests.fakes.jushuitan import FakeJushuitan
    from tests.fakes.server import LoopbackServer
    from tests.fakes.shop_endpoint import FakeShopEndpoint
    from tests.fakes.top_gateway import FakeTop
    from tests.knowledge.sources.test_contract import SCENARIOS

    facts = next(f for name, f, _ in SCENARIOS if name == "split")
    oid = facts["order_id"]
    clock = SystemClock()
    tmp = Path(tempfile.mkdtemp())
    eng = make_engine(f"sqlite:///{tmp}/bench.db")
    migrate(eng)
    configs = SourceConfigStore(eng, clock, SecretBox(new_key()))
    tel = SourceTelemetry()
    src = OrderSources(store=SqlOrderStore(eng, clock), configs=configs, telemetry=tel, clock=clock,
                       cache=FactsCache(SqlBackend(eng, clock, 1000), clock, ttl_s=3600, max_age_s=7200,
                                        telemetry=tel))
    top, jst, api = FakeTop(), FakeJushuitan(), FakeShopEndpoint(hmac_secret="bench-hmac-secret-0000")
    top.load_facts(facts)
    jst.load_facts(facts)
    api.bodies[oid] = facts
    results: dict[str, Any] = {}
    with LoopbackServer(top.app) as t, LoopbackServer(jst.app) as j, LoopbackServer(api.app) as a, \
            httpx.Client() as bare:
        for shop in ("b-top", "b-jst", "b-http"):
            ShopStore(eng, clock).ensure(shop)
        configs.connect("b-top", "taobao", {"gateway_url": t.url + "/router/rest", "app_key": top.app_key},
                        {"app_secret": top.app_secret, "session": top.session})
        configs.connect("b-jst", "jushuitan", {"base_url": j.url, "app_key": jst.app_key},
                        {"app_secret": jst.app_secret, "access_token": jst.access_token})
        configs.connect("b-http", "http", {"url": a.url + "/orders"}, {"hmac_secret": api.hmac_secret})
        for shop, kind in (("b-top", "taobao"), ("b-jst", "jushuitan"), ("b-http", "http")):
            rec = configs.get(shop)
            assert rec is not None
            adapter = src.adapter(rec)
            adapter.fetch(oid)
            # The same HTTP calls the adapter made for one fetch, replayed bare.
            if kind == "taobao":
                reqs = [c["params"] for c in top.calls[-3:]]
                calls = [lambda p=p: bare.post(t.url + "/router/rest", data=p) for p in reqs]
            elif kind == "jushuitan":
                p = jst.calls[-1]["params"]
                calls = [lambda p=p: bare.post(j.url + "/open/orders/single/query", data=p)]
            else:
                headers = {"X-Replydesk-Timestamp": "0", "X-Replydesk-Signature": "x"}
                api.hmac_secret_saved = api.hmac_secret  # type: ignore[attr-defined]
                calls = [lambda h=headers: bare.get(f"{a.url}/orders/{oid}", headers=h)]
            fetch = _time(lambda ad=adapter: ad.fetch(oid), n)
            if kind == "http":
                api.hmac_secret = None  # the bare call carries no valid signature: let it through
            raw = _time(lambda cs=calls: [c() for c in cs], n)
            if kind == "http":
                api.hmac_secret = api.hmac_secret_saved  # type: ignore[attr-defined]
            src.get(shop, oid)
            hit = _time(lambda s=shop: src.get(s, oid), n)
            results[kind] = {
                "http_calls_per_fetch": len(calls),
                "fetch_p50_ms": _pct(fetch, 0.5), "fetch_p99_ms": _pct(fetch, 0.99),
                "bare_http_p50_ms": _pct(raw, 0.5),
                "overhead_p50_ms": round(_pct(fetch, 0.5) - _pct(raw, 0.5), 3),
                "overhead_mean_ms": round((statistics.mean(fetch) - statistics.mean(raw)) * 1000, 3),
                "cache_hit_p50_ms": _pct(hit, 0.5),
            }
    src.close()
    return {"date": datetime.now(UTC).date().isoformat(), "machine": f"{platform.machine()} {platform.system()}, "
            f"python {platform.python_version()}", "n": n, "adapters": results}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = run(args.n)
    print(json.dumps(out, ensure_ascii=False) if args.json else json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
