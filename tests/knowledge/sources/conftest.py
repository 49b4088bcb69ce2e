"""Order-source fixtures: a migrated SQLite file, a fixed clock, sealed credentials, the fakes on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.clock import FixedClock
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

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 15, 10, tzinfo=CST)
SHOP = "s1"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def engine(tmp_path: Path, clock: FixedClock):
    eng = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(eng)
    ShopStore(eng, clock).ensure(SHOP, name="测试店")
    yield eng
    eng.dispose()


@pytest.fixture
def configs(engine, clock: FixedClock) -> SourceConfigStore:
    return SourceConfigStore(engine, clock, SecretBox(new_key()))


class Sleeps(list[float]):
    def __call__(self, s: float) -> None:
        self.append(s)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_sources(engine, clock: FixedClock, configs: SourceConfigStore, sleeps: Sleeps
                 ) -> Iterator[Callable[..., OrderSources]]:
    made: list[OrderSources] = []

    def make(backend: Any = None, *, ttl_s: float = 30, max_age_s: float = 900, timeout_s: float = 2.0,
             retries: int = 2) -> OrderSources:
        tel = SourceTelemetry()
        cache = FactsCache(backend or SqlBackend(engine, clock, 1000), clock, ttl_s=ttl_s, max_age_s=max_age_s,
                           telemetry=tel)
        s = OrderSources(store=SqlOrderStore(engine, clock), configs=configs, cache=cache, clock=clock,
                         telemetry=tel, timeout_s=timeout_s, retries=retries, backoff_s=0.2, sleep=sleeps)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def top() -> Iterator[FakeTop]:
    fake = FakeTop()
    with LoopbackServer(fake.app) as srv:
        fake.url = srv.url + "/router/rest"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def jst() -> Iterator[FakeJushuitan]:
    fake = FakeJushuitan()
    with LoopbackServer(fake.app) as srv:
        fake.url = srv.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def shop_api() -> Iterator[FakeShopEndpoint]:
    fake = FakeShopEndpoint(hmac_secret="shop-hmac-secret-5a5a5a5a")
    with LoopbackServer(fake.app) as srv:
        fake.url = srv.url + "/orders"  # type: ignore[attr-defined]
        yield fake


def connect_top(configs: SourceConfigStore, top: FakeTop, *, sign_method: str = "md5", secret: str | None = None,
                shop: str = SHOP) -> None:
    configs.connect(shop, "taobao", {"gateway_url": top.url, "app_key": top.app_key,  # type: ignore[attr-defined]
                                     "sign_method": sign_method},
                    {"app_secret": secret or top.app_secret, "session": top.session})


def connect_jst(configs: SourceConfigStore, jst: FakeJushuitan, shop: str = SHOP) -> None:
    configs.connect(shop, "jushuitan", {"base_url": jst.url, "app_key": jst.app_key},  # type: ignore[attr-defined]
                    {"app_secret": jst.app_secret, "access_token": jst.access_token,
                     "refresh_token": jst.refresh_token})


def connect_http(configs: SourceConfigStore, api: FakeShopEndpoint, shop: str = SHOP,
                 mapping: dict[str, Any] | None = None) -> None:
    configs.connect(shop, "http", {"url": api.url, **({"mapping": mapping} if mapping else {})},  # type: ignore[attr-defined]
                    {"hmac_secret": api.hmac_secret})
