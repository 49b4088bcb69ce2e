"""Pushed order events (``POST /v1/orders/events``): signed per shop, applied once per event id.

The sender signs ``"{timestamp}." + raw body`` with the shop's events secret (HMAC-SHA256, hex) and
sends ``X-Replydesk-Shop``, ``X-Replydesk-Timestamp`` and ``X-Replydesk-Signature: sha256=<hex>``.
An unknown shop, a stale timestamp and a wrong signature all get the same refusal.

Shapes accepted (one event, or ``{"events": [...]}``):

- generic: ``{"id", "order": {order facts}, "occurred_at"?}`` — the new facts replace the cached ones
  (a shop without a pulled source keeps them in its order store);
- Taobao message service (TMC) messages as the platform delivers them: ``{"id", "topic", "content",
  "pub_time"}`` with ``content`` a JSON (string) carrying ``tid``. Trade and refund topics say the
  order changed but not all of how: the cached facts are dropped so the next draft reads the order
  again. ``taobao_logistics_LogsticDetailTrace`` adds its tracking step to the matching parcel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.errors import InvalidInput
from core.tables import order_events
from knowledge.errors import EventRejected, OrderNotFound
from knowledge.orders import OrderFacts
from knowledge.sources.cache import FactsCache
from knowledge.sources.config import SourceConfigStore
from knowledge.sources.upstream import parse_local

__all__ = ["OrderEvents", "sign_event"]

MAX_EVENTS = 100
_REJECTED = "unknown shop, stale timestamp or bad signature"


def sign_event(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass
class _Event:
    id: str
    kind: str
    order_id: str
    data: dict[str, Any]


class OrderEvents:
    def __init__(self, engine: Engine, clock: Clock, configs: SourceConfigStore, cache: FactsCache, store: Any,
                 *, max_skew_s: int = 300) -> None:
        self.engine, self.clock, self.configs, self.cache, self.store = engine, clock, configs, cache, store
        self.max_skew_s = max_skew_s

    def verify(self, shop_id: str | None, timestamp: str | None, signature: str | None, body: bytes) -> str:
        if not shop_id or not timestamp or not signature or len(shop_id) > 64:
            raise EventRejected(_REJECTED)
        try:
            secret = self.configs.events_secret(shop_id)
        except Exception:
            secret = None
        try:
            ts = int(timestamp)
        except ValueError as exc:
            raise EventRejected(_REJECTED) from exc
        if secret is None or abs(self.clock.now().timestamp() - ts) > self.max_skew_s:
            raise EventRejected(_REJECTED)
        if not hmac.compare_digest(sign_event(secret, timestamp, body), signature.strip()):
            raise EventRejected(_REJECTED)
        return shop_id

    def apply(self, shop_id: str, payload: Any) -> list[dict[str, Any]]:
        if isinstance(payload, dict) and "events" in payload:
            items = payload["events"]
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_EVENTS:
                raise InvalidInput(f"events must be a list of 1 to {MAX_EVENTS} events", field="events")
        else:
            items = [payload]
        events = [self._parse(x, i if len(items) > 1 else None) for i, x in enumerate(items)]
        return [self._apply_once(shop_id, e) for e in events]

    # -- parsing --------------------------------------------------------------------------------

    def _parse(self, x: Any, index: int | None) -> _Event:
        at = f"events[{index}]." if index is not None else ""
        if not isinstance(x, dict):
            raise InvalidInput("an event is a JSON object", field=at.rstrip(".") or "body")
        eid = x.get("id")
        if isinstance(eid, int) and not isinstance(eid, bool):
            eid = str(eid)
        if not isinstance(eid, str) or not 1 <= len(eid) <= 128:
            raise InvalidInput("id: an event id of 1 to 128 characters is required", field=f"{at}id")
        if "order" in x:
            try:
                facts = OrderFacts.model_validate(x["order"])
                OrderFacts.model_validate_json(facts.model_dump_json())
            except (ValidationError, ValueError) as exc:
                err = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)[:100]}
                where = ".".join(str(p) for p in err["loc"])
                raise InvalidInput(f"order.{where}: {err['msg']}" if where else f"order: {err['msg']}",
                                   field=f"{at}order" + (f".{where}" if where else "")) from exc
            when = x.get("occurred_at")
            occurred = None
            if when is not None:
                try:
                    occurred = datetime.fromisoformat(str(when))
                except ValueError as exc:
                    raise InvalidInput("occurred_at: an ISO 8601 time with offset", field=f"{at}occurred_at") from exc
                if occurred.tzinfo is None:
                    raise InvalidInput("occurred_at: needs a UTC offset", field=f"{at}occurred_at")
            return _Event(eid, "order.facts", facts.order_id, {"facts": facts, "occurred_at": occurred})
        topic = x.get("topic")
        if not isinstance(topic, str) or not topic or len(topic) > 60:
            raise InvalidInput("an event has either 'order' (generic) or 'topic' (Taobao message)", field=f"{at}order")
        content = x.get("content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except json.JSONDecodeError as exc:
                raise InvalidInput("content: not valid JSON", field=f"{at}content") from exc
        if not isinstance(content, dict):
            raise InvalidInput("content: a JSON object (or a string holding one)", field=f"{at}content")
        tid = content.get("tid")
        if tid is None or isinstance(tid, bool) or not 1 <= len(str(tid)) <= 64:
            raise InvalidInput("content.tid: the trade id is required", field=f"{at}content.tid")
        return _Event(eid, topic, str(tid), {"content": content, "pub_time": parse_local(x.get("pub_time"))})

    # -- applying -------------------------------------------------------------------------------

    def _apply_once(self, shop_id: str, e: _Event) -> dict[str, Any]:
        try:
            with self.engine.begin() as conn:
                conn.execute(order_events.insert().values(shop_id=shop_id, event_id=e.id, kind=e.kind,
                                                          order_id=e.order_id, result="applying",
                                                          received_at=self.clock.now()))
        except IntegrityError:
            return {"id": e.id, "order_id": e.order_id, "result": "duplicate"}
        try:
            result = self._do(shop_id, e)
        except BaseException:
            with self.engine.begin() as conn:  # not applied: a redelivery must be able to try again
                conn.execute(order_events.delete().where(order_events.c.shop_id == shop_id,
                                                         order_events.c.event_id == e.id))
            raise
        with self.engine.begin() as conn:
            conn.execute(order_events.update().where(order_events.c.shop_id == shop_id,
                                                     order_events.c.event_id == e.id).values(result=result))
        return {"id": e.id, "order_id": e.order_id, "result": result}

    def _do(self, shop_id: str, e: _Event) -> str:
        rec = self.configs.get(shop_id)
        pulled = rec is not None and rec.kind != "store"
        if e.kind == "order.facts":
            facts: OrderFacts = e.data["facts"]
            now = self.clock.now()
            if facts.fetched_at is None:
                occurred = e.data["occurred_at"]
                facts = facts.model_copy(update={"fetched_at": min(occurred, now) if occurred else now})
            if pulled:
                self.cache.put(shop_id, facts, origin="push")
                return "cached"
            self.store.put(shop_id, facts)
            return "stored"
        if not pulled:
            return "ignored"  # a platform message carries no full facts to store
        if e.kind == "taobao_logistics_LogsticDetailTrace" and self._add_step(shop_id, e):
            return "cached"
        if e.kind.startswith(("taobao_trade_", "taobao_refund_", "taobao_logistics_")):
            self.cache.invalidate(shop_id, e.order_id)
            return "invalidated"
        return "ignored"

    def _add_step(self, shop_id: str, e: _Event) -> bool:
        c = e.data["content"]
        entry = self.cache.entry(shop_id, e.order_id)
        out_sid = str(c.get("out_sid") or "").strip()
        if entry is None or not out_sid:
            return False
        try:
            facts = entry.facts()
        except (ValidationError, ValueError, OrderNotFound):
            return False
        step = {"at": parse_local(c.get("time")), "desc": str(c.get("desc") or ""),
                **({"action": str(c["action"])} if c.get("action") else {})}
        data = facts.model_dump(mode="json")
        for sh in data.get("shipments") or []:
            if str(sh.get("tracking_no") or "") == out_sid:
                evs = sh.setdefault("events", [])
                new = OrderFacts.model_validate({"order_id": "x", "shipments": [{"events": [step]}]}) \
                    .shipments[0].events[0].model_dump(mode="json")
                if new not in evs:
                    evs.append(new)
                    evs.sort(key=lambda ev: ev.get("at") or "")
                    sh["trace"] = "live"
                self.cache.backend.put(shop_id, e.order_id, type(entry)(
                    OrderFacts.model_validate(data).model_dump_json(), entry.origin, entry.fetched_at,
                    entry.stored_at))
                return True
        return False


def events_for(engine: Engine, shop_id: str) -> list[dict[str, Any]]:
    """The events received for a shop (for tests and support)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(order_events).where(order_events.c.shop_id == shop_id)
                            .order_by(order_events.c.received_at)).all()
    return [dict(r._mapping) for r in rows]
