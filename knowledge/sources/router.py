"""``OrderSources``: the order source a draft asks, per shop.

A shop with no configured source (or the ``store`` kind) reads the SQL order store. A shop connected
to Taobao, Jushuitan or its own endpoint reads through the facts cache; each outcome is recorded on
the shop's source (last success, last error) for /readyz and counted for /metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from core.clock import Clock
from knowledge.errors import OrderNotFound, OrderUnavailable, SourceMalformed
from knowledge.order_store import fold_order_id
from knowledge.orders import OrderFacts
from knowledge.sources.cache import FactsCache
from knowledge.sources.config import SourceConfigStore, SourceRecord
from knowledge.sources.http import HttpSource
from knowledge.sources.jushuitan import JstClient, JushuitanSource, Tokens
from knowledge.sources.taobao import TaobaoSource, TopClient
from knowledge.sources.telemetry import SourceTelemetry
from knowledge.sources.upstream import Adapter, Fetched, Retry

__all__ = ["OrderSources", "TaskRoute"]


@dataclass(frozen=True)
class TaskRoute:
    executor: str                 # "webhook" | "taobao" | "jushuitan" | "manual"
    url: str | None = None
    secret: str | None = None
    problem: str | None = None    # why a configured route cannot be used (shown on the task)

log = logging.getLogger("replydesk.sources")


class _Store(Protocol):
    def get(self, shop_id: str, order_id: str) -> OrderFacts: ...


class OrderSources:
    def __init__(self, *, store: _Store, configs: SourceConfigStore, cache: FactsCache, clock: Clock,
                 telemetry: SourceTelemetry, timeout_s: float = 1.5, retries: int = 2, backoff_s: float = 0.2,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.configs, self.cache, self.clock, self.telemetry = store, configs, cache, clock, telemetry
        self.timeout_s, self.sleep = timeout_s, sleep
        self.retry = Retry(retries + 1, backoff_s, sleep)
        self._http: httpx.Client | None = None
        self._adapters: dict[str, tuple[int, Adapter]] = {}
        self._lock = threading.Lock()
        self._recorded: dict[str, tuple[bool, float]] = {}

    # -- the OrderSource protocol ---------------------------------------------------------------

    def get(self, shop_id: str, order_id: str) -> OrderFacts:
        rec = self.configs.get(shop_id)
        if rec is None or rec.kind == "store":
            return self.store.get(shop_id, order_id)
        adapter = self.adapter(rec)
        return self.cache.get(shop_id, order_id, rec.kind, lambda: self._fetch(rec, adapter, order_id).facts)

    def canonical_id(self, shop_id: str, order_id: str) -> str:
        """The order id as the shop's source defines it: the SQL store matches its stored spelling
        ("t1003" -> "T1003"); platform and ERP ids are folded and trimmed (they are case-sensitive or digits)."""
        rec = self.configs.get(shop_id)
        if rec is None or rec.kind == "store":
            canon = getattr(self.store, "canonical_id", None)
            return canon(shop_id, order_id) if canon else fold_order_id(order_id)
        return fold_order_id(order_id)

    def check(self, shop_id: str, order_id: str) -> dict[str, Any]:
        """Ask the source now (no cache) and show the normalised facts with the raw answer they came from."""
        rec = self.configs.get(shop_id)
        if rec is None or rec.kind == "store":
            facts = self.store.get(shop_id, order_id)
            return {"source": "store", "facts": facts.model_dump(mode="json"), "raw": None, "mapping": []}
        got = self._fetch(rec, self.adapter(rec), order_id)
        return {"source": rec.kind, "facts": got.facts.model_dump(mode="json"), "raw": got.raw,
                "mapping": _jsonable(got.mapping)}

    def status(self) -> list[dict[str, Any]]:
        """Each configured source's last success and last error (for /readyz)."""
        return [{"shop_id": r.shop_id, "kind": r.kind,
                 "last_success_at": r.last_success_at.isoformat() if r.last_success_at else None,
                 "last_error_at": r.last_error_at.isoformat() if r.last_error_at else None,
                 "last_error_code": r.last_error_code, "last_error": r.last_error}
                for r in self.configs.list() if r.kind != "store"]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # -- carrying out actions (issue 18) ------------------------------------------------------------

    def task_route(self, shop_id: str) -> TaskRoute:
        """Where a shop's accepted actions go: its own system (signed webhook), its Taobao trade's seller
        memo, or nowhere automatic (a person does them from the /tasks list)."""
        rec = self.configs.get(shop_id)
        if rec is None:
            return TaskRoute("manual")
        url = getattr(rec.settings, "tasks_webhook_url", None)
        if url:
            secret = self.configs.secrets(rec).get("webhook_secret")
            if not secret:
                return TaskRoute("manual", problem="a tasks webhook URL is set without a webhook_secret")
            return TaskRoute("webhook", url=url, secret=secret)
        if rec.kind in ("taobao", "jushuitan"):
            return TaskRoute(rec.kind)
        return TaskRoute("manual")

    def write_memo(self, shop_id: str, order_id: str, marker: str, line: str, flag: int) -> str:
        rec = self.configs.get(shop_id)
        if rec is None or rec.kind != "taobao":
            raise SourceMalformed("this shop's orders are not on Taobao", code="config")
        adapter = self.adapter(rec)
        assert isinstance(adapter, TaobaoSource)
        try:
            out = adapter.write_memo(order_id, marker, line, flag)
        except OrderUnavailable as exc:
            self._record(rec.shop_id, ok=False, code=exc.code, message=exc.message)
            raise
        return out

    def write_remark(self, shop_id: str, order_id: str, marker: str, line: str) -> str:
        rec = self.configs.get(shop_id)
        if rec is None or rec.kind != "jushuitan":
            raise SourceMalformed("this shop's orders are not in Jushuitan", code="config")
        adapter = self.adapter(rec)
        assert isinstance(adapter, JushuitanSource)
        return adapter.write_remark(order_id, marker, line)

    # -- adapters -------------------------------------------------------------------------------

    def adapter(self, rec: SourceRecord) -> Adapter:
        with self._lock:
            have = self._adapters.get(rec.shop_id)
            if have is not None and have[0] == rec.revision:
                return have[1]
            adapter = self._build(rec)
            self._adapters[rec.shop_id] = (rec.revision, adapter)
            return adapter

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout_s, follow_redirects=False,
                                      limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))
        return self._http

    def _build(self, rec: SourceRecord) -> Adapter:
        secrets = self.configs.secrets(rec)
        s = rec.settings
        common = dict(clock=self.clock, http=self._client(), retry=self.retry, telemetry=self.telemetry)
        if rec.kind == "taobao":
            top = TopClient(gateway_url=s.gateway_url, app_key=s.app_key, app_secret=secrets["app_secret"],
                            session=secrets["session"], sign_method=s.sign_method, **common)  # type: ignore[arg-type]
            return TaobaoSource(top, self.clock, trace=s.trace)
        if rec.kind == "jushuitan":
            shop = rec.shop_id

            def load() -> dict[str, str]:
                fresh = self.configs.get(shop)
                return self.configs.secrets(fresh) if fresh else {}

            tokens = Tokens(secrets["access_token"], secrets.get("refresh_token"), load=load,
                            save=lambda changed: self.configs.rotate(shop, changed))
            jst = JstClient(base_url=s.base_url, app_key=s.app_key, app_secret=secrets["app_secret"], tokens=tokens,
                            **common)  # type: ignore[arg-type]
            return JushuitanSource(jst, self.clock)
        if rec.kind == "http":
            return HttpSource(url=s.url, hmac_secret=secrets.get("hmac_secret"), mapping=s.mapping,
                              **common)  # type: ignore[arg-type]
        raise SourceMalformed(f"unknown source kind {rec.kind!r}", code="config")

    def _fetch(self, rec: SourceRecord, adapter: Adapter, order_id: str) -> Fetched:
        try:
            got = adapter.fetch(order_id)
        except OrderNotFound:
            self._record(rec.shop_id, ok=True)  # the source answered: that is a success of the connection
            raise
        except OrderUnavailable as exc:
            log.warning("order source %s of shop %s failed: %s (%s)", rec.kind, rec.shop_id, exc.message, exc.code)
            self._record(rec.shop_id, ok=False, code=exc.code, message=exc.message)
            raise
        except Exception as exc:  # a mapper bug must still end as "unavailable", never a 500 or a guess
            log.exception("order source %s of shop %s: unexpected failure", rec.kind, rec.shop_id)
            self._record(rec.shop_id, ok=False, code="internal", message=type(exc).__name__)
            raise OrderUnavailable("the order source's answer could not be read", code="internal") from exc
        self._record(rec.shop_id, ok=True)
        return got

    def _record(self, shop_id: str, *, ok: bool, code: str | None = None, message: str | None = None) -> None:
        # Successes are written at most every 5 s per shop (a burst must not become a burst of writes).
        now = time.monotonic()
        last = self._recorded.get(shop_id)
        if last is not None and last[0] == ok and now - last[1] < (5.0 if ok else 1.0):
            return
        self._recorded[shop_id] = (ok, now)
        try:
            self.configs.record(shop_id, ok=ok, code=code, message=message)
        except Exception:
            log.warning("could not record the outcome of shop %s's order source", shop_id)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from datetime import date, datetime

    def conv(v: Any) -> Any:
        return v.isoformat() if isinstance(v, date | datetime) else v

    return [{k: conv(v) for k, v in r.items()} for r in rows]
