"""The shop's own endpoint: ``GET {url}/{order_id}`` answering the order-facts JSON of DESIGN.md, or any
JSON plus a field mapping kept in the source's configuration.

With an HMAC secret every request carries ``X-Replydesk-Timestamp`` (unix seconds) and
``X-Replydesk-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.GET.{path}">`` so the endpoint can
tell the call is ours and fresh.

Validation is strict: an answer that is not JSON, not an object, not valid facts, or about another
order is "unavailable" (no status claims), never a guess. A status value the mapping does not list
is unknown. Timestamps need an offset unless the mapping names the zone they are written in.

A mapping, e.g. for ``{"data": {"no": "123", "state": "已发货", "lines": [{"code": "MUG-01"}]}}``::

    {"root": "data", "fields": {"order_id": "no", "status": "state"},
     "status_values": {"待发货": "WAIT_SELLER_SEND_GOODS", "已发货": "WAIT_BUYER_CONFIRM_GOODS"},
     "items": {"path": "lines", "fields": {"sku": "code"}}, "timezone": "Asia/Shanghai"}
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.clock import Clock
from knowledge.errors import (
    OrderNotFound,
    SourceConfigError,
    SourceMalformed,
    SourceRateLimited,
    SourceRemoteError,
)
from knowledge.orders import OrderFacts, TradeStatus
from knowledge.sources.telemetry import SourceTelemetry
from knowledge.sources.upstream import Fetched, Provenance, Retry

__all__ = ["FieldMapping", "HttpSource", "sign_request"]

_FACT_FIELDS = {"order_id", "status", "paid_at", "promised_ship_by", "presale", "refund", "buyer_nick", "amount",
                "warehouse", "fetched_at"}
_ITEM_FIELDS = {"sku", "title", "quantity", "stock", "restock_eta", "status", "refund_status"}
_SHIP_FIELDS = {"carrier", "tracking_no", "shipped_at", "item_skus"}
_EVENT_FIELDS = {"at", "desc"}
_TIMES = {"paid_at", "promised_ship_by", "fetched_at", "shipped_at", "at"}
_MISSING = object()


class _List(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=200)
    fields: dict[str, str] = Field(default_factory=dict)


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root: str | None = Field(default=None, max_length=200)
    fields: dict[str, str] = Field(default_factory=dict)
    status_values: dict[str, str] = Field(default_factory=dict)
    stock_values: dict[str, str] = Field(default_factory=dict)
    items: _List | None = None
    shipments: _List | None = None
    events: _List | None = None         # inside each shipment element
    timezone: str | None = None

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        bad = set(v) - _FACT_FIELDS
        if bad:
            raise ValueError(f"unknown fact field(s): {', '.join(sorted(bad))}")
        return v

    @field_validator("status_values")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [x for x in v.values() if x not in TradeStatus.__members__]
        if bad:
            raise ValueError(f"not a trade status: {bad[0]}")
        return v

    @field_validator("stock_values")
    @classmethod
    def _stocks(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [x for x in v.values() if x not in ("in_stock", "low", "out_of_stock", "unknown")]
        if bad:
            raise ValueError(f"not a stock value: {bad[0]}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _lists(self) -> FieldMapping:
        for name, sub, allowed in (("items", self.items, _ITEM_FIELDS), ("shipments", self.shipments, _SHIP_FIELDS),
                                   ("events", self.events, _EVENT_FIELDS)):
            if sub is not None and set(sub.fields) - allowed:
                raise ValueError(f"{name}: unknown field(s) {', '.join(sorted(set(sub.fields) - allowed))}")
        return self


def sign_request(secret: str, timestamp: str, method: str, path: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{method}.{path}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def _get(obj: Any, path: str) -> Any:
    cur = obj
    for part in path.split("."):
        key, _, idx = part.partition("[")
        if key:
            if not isinstance(cur, dict) or key not in cur:
                return _MISSING
            cur = cur[key]
        if idx:
            try:
                n = int(idx.rstrip("]"))
            except ValueError:
                return _MISSING
            if not isinstance(cur, list) or not -len(cur) <= n < len(cur):
                return _MISSING
            cur = cur[n]
    return cur


class HttpSource:
    kind = "http"

    def __init__(self, *, url: str, clock: Clock, http: httpx.Client, retry: Retry, hmac_secret: str | None = None,
                 mapping: dict[str, Any] | None = None, telemetry: SourceTelemetry | None = None) -> None:
        self.url, self.clock, self.http, self.retry = url.rstrip("/"), clock, http, retry
        self._secret = hmac_secret
        self.mapping = FieldMapping.model_validate(mapping) if mapping else None
        self.telemetry = telemetry or SourceTelemetry()

    def close(self) -> None:
        pass

    def fetch(self, order_id: str) -> Fetched:
        url = f"{self.url}/{quote(order_id, safe='')}"
        body = self.retry.run(lambda: self._get(url), lambda e: isinstance(e, SourceRemoteError) and e.retryable)
        prov = Provenance()
        data = self._map(body, prov) if self.mapping else body
        if not isinstance(data, dict):
            raise SourceMalformed("the shop's endpoint did not answer a JSON object", code="http:malformed")
        try:
            facts = OrderFacts.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "body"
            raise SourceMalformed(f"the shop's endpoint answered invalid order facts ({where}: {err['msg']})",
                                  code="http:malformed") from exc
        if facts.order_id != order_id:
            raise SourceMalformed("the shop's endpoint answered about another order", code="http:malformed")
        now = self.clock.now()
        if facts.fetched_at is None or facts.fetched_at > now:
            facts = facts.model_copy(update={"fetched_at": now})
        if not self.mapping:
            prov.rows = [{"fact": k, "from": k, "value": v} for k, v in data.items() if v not in (None, [], {})]
        return Fetched(facts, {"body": body}, prov.rows)

    def _get(self, url: str) -> Any:
        headers = {"Accept": "application/json"}
        if self._secret:
            ts = str(int(self.clock.now().timestamp()))
            headers["X-Replydesk-Timestamp"] = ts
            headers["X-Replydesk-Signature"] = sign_request(self._secret, ts, "GET", urlsplit(url).path)
        t0 = time.perf_counter()
        outcome = "ok"
        try:
            try:
                resp = self.http.get(url, headers=headers)
            except httpx.TimeoutException as exc:
                raise SourceRemoteError("the shop's order endpoint did not answer in time", code="http:timeout",
                                        retryable=True) from exc
            except httpx.HTTPError as exc:
                raise SourceRemoteError(f"cannot reach the shop's order endpoint ({type(exc).__name__})",
                                        code="http:transport", retryable=True) from exc
            st = resp.status_code
            if st == 404:
                raise OrderNotFound("the shop's order endpoint has no such order")
            if st in (401, 403):
                raise SourceConfigError(f"the shop's order endpoint refused our request (HTTP {st}): check the "
                                        "HMAC secret", code=f"http:{st}")
            if st == 429:
                raise SourceRateLimited("the shop's order endpoint asks us to slow down (HTTP 429)",
                                        retry_after=_retry_after(resp.headers.get("Retry-After")), code="http:429")
            if st >= 500:
                raise SourceRemoteError(f"the shop's order endpoint failed (HTTP {st})", code=f"http:{st}",
                                        retryable=True)
            if st != 200:
                raise SourceRemoteError(f"the shop's order endpoint answered HTTP {st}", code=f"http:{st}")
            try:
                return resp.json()
            except ValueError as exc:
                raise SourceMalformed("the shop's order endpoint did not answer JSON", code="http:malformed") from exc
        except OrderNotFound:
            outcome = "not_found"
            raise
        except Exception as exc:
            outcome = getattr(exc, "code", "error")
            raise
        finally:
            self.telemetry.upstream("http", "GET", outcome, time.perf_counter() - t0)

    def _map(self, body: Any, prov: Provenance) -> dict[str, Any]:
        m = self.mapping
        assert m is not None
        root = _get(body, m.root) if m.root else body
        if not isinstance(root, dict):
            raise SourceMalformed(f"the mapping's root {m.root!r} is not an object in the answer",
                                  code="http:malformed")
        out: dict[str, Any] = {}
        for fact, path in m.fields.items():
            v = _get(root, path)
            if v is _MISSING:
                continue
            if fact == "status" and m.status_values:
                v = m.status_values.get(str(v))  # a value the mapping does not list is unknown
            out[fact] = prov(fact, path, self._time(fact, v))
        for name, sub in (("items", m.items), ("shipments", m.shipments)):
            if sub is None:
                continue
            seq = _get(root, sub.path)
            if seq is _MISSING:
                continue
            if not isinstance(seq, list):
                raise SourceMalformed(f"{sub.path!r} is not a list in the answer", code="http:malformed")
            out[name] = [self._element(name, i, el, sub, prov) for i, el in enumerate(seq)]
        return out

    def _element(self, name: str, i: int, el: Any, sub: _List, prov: Provenance) -> dict[str, Any]:
        m = self.mapping
        assert m is not None
        if not isinstance(el, dict):
            raise SourceMalformed(f"{sub.path}[{i}] is not an object", code="http:malformed")
        out: dict[str, Any] = {}
        for fact, path in sub.fields.items():
            v = _get(el, path)
            if v is _MISSING:
                continue
            if name == "items" and fact == "status" and m.status_values:
                v = m.status_values.get(str(v))
            if name == "items" and fact == "stock" and m.stock_values:
                v = m.stock_values.get(str(v), "unknown")
            out[fact] = prov(f"{name}[{i}].{fact}", f"{sub.path}[{i}].{path}", self._time(fact, v))
        if name == "shipments" and m.events is not None:
            evs = _get(el, m.events.path)
            if evs is not _MISSING:
                if not isinstance(evs, list):
                    raise SourceMalformed(f"{m.events.path!r} is not a list", code="http:malformed")
                out["events"] = [{f: self._time(f, _get(e, p)) for f, p in m.events.fields.items()
                                  if isinstance(e, dict) and _get(e, p) is not _MISSING} for e in evs]
        return out

    def _time(self, fact: str, v: Any) -> Any:
        if fact not in _TIMES or not isinstance(v, str) or self.mapping is None or not self.mapping.timezone:
            return v
        try:
            dt = datetime.fromisoformat(v.strip().replace("/", "-"))
        except ValueError:
            return v  # left for validation to refuse
        return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(self.mapping.timezone))


def _retry_after(v: str | None) -> float:
    try:
        return max(1.0, float(v)) if v else 1.0
    except ValueError:
        return 1.0
