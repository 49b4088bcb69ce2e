"""The demo order store: an SQL-backed order source, and the demo orders that ``demo seed`` writes.

The demo orders cover every situation of the dev scenarios. Their timestamps are relative to
the seeding clock, so "overdue" stays overdue and "stuck" stays stuck on any date the demo is run.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.errors import InvalidInput
from core.tables import orders
from knowledge.errors import OrderNotFound
from knowledge.orders import OrderFacts
from knowledge.shop_settings import ShopSettings

__all__ = ["DemoOrderStore", "demo_orders", "merge_patch"]


class DemoOrderStore:
    """Order facts kept in SQL; it is the demo's "live" order system (updates show at once)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def get(self, shop_id: str, order_id: str) -> OrderFacts:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(orders.c.facts_json).where(
                orders.c.shop_id == shop_id, orders.c.order_id == order_id)).first()
        if row is None:
            raise OrderNotFound(f"order {order_id!r} not found")
        return OrderFacts.model_validate_json(row.facts_json)

    def put(self, shop_id: str, facts: OrderFacts) -> OrderFacts:
        # Store only what can be read back: extra fields nested too deep, or strings with lone
        # surrogates, would be written and then break every later read of this shop's orders.
        try:
            payload = facts.model_dump_json(exclude_none=False)
            OrderFacts.model_validate_json(payload)
        except (ValidationError, ValueError) as exc:
            raise InvalidInput(f"order facts cannot be stored: {str(exc).splitlines()[0][:200]}",
                               field="order") from exc
        now = self.clock.now()
        with self.engine.begin() as conn:
            cur = conn.execute(sa.select(orders.c.version).where(
                orders.c.shop_id == shop_id, orders.c.order_id == facts.order_id)).first()
            if cur is None:
                conn.execute(orders.insert().values(shop_id=shop_id, order_id=facts.order_id,
                                                    facts_json=payload, version=1, updated_at=now))
            else:
                conn.execute(orders.update().where(
                    orders.c.shop_id == shop_id, orders.c.order_id == facts.order_id).values(
                    facts_json=payload, version=cur.version + 1, updated_at=now))
        return facts

    def update(self, shop_id: str, order_id: str, patch: dict[str, Any]) -> OrderFacts:
        """Apply a JSON merge patch (RFC 7386) to an order; the result must still be valid facts."""
        current = self.get(shop_id, order_id).model_dump(mode="json")
        merged = merge_patch(current, patch)
        if merged.get("order_id") != order_id:
            raise InvalidInput("order_id cannot be changed", field="order_id")
        try:
            facts = OrderFacts.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InvalidInput(f"invalid order facts: {err['msg']}",
                               field=".".join(str(x) for x in err["loc"])) from exc
        return self.put(shop_id, facts)

    def list(self, shop_id: str) -> list[OrderFacts]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(orders.c.facts_json).where(orders.c.shop_id == shop_id)
                                .order_by(orders.c.order_id))
            return [OrderFacts.model_validate_json(r.facts_json) for r in rows]


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def demo_orders(now: datetime, settings: ShopSettings) -> list[tuple[OrderFacts, str]]:
    """(order, what it demonstrates) for the demo shop, relative to ``now``."""
    tz = settings.zone
    now = now.astimezone(tz)
    h = timedelta(hours=1)
    d = timedelta(days=1)
    window = timedelta(hours=settings.ship_within_hours)
    today = now.date()

    def at(day_offset: int, hh: int, mm: int = 0) -> datetime:
        return datetime.combine(today + timedelta(days=day_offset), time(hh, mm), tzinfo=tz)

    def order(oid: str, status: str, paid: datetime | None, **kw: Any) -> OrderFacts:
        items = kw.pop("items", [{"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock"}])
        promised = kw.pop("promised_ship_by", (paid + window) if paid else None)
        return OrderFacts.model_validate({
            "order_id": oid, "status": status, "paid_at": paid, "promised_ship_by": promised, "items": items, **kw})

    def shipment(carrier: str, no: str, shipped: datetime, events: list[tuple[datetime, str]]) -> dict:
        return {"carrier": carrier, "tracking_no": no, "shipped_at": shipped,
                "events": [{"at": t, "desc": e} for t, e in events]}

    plate = {"sku": "PLATE-02", "title": "骨瓷餐盘", "quantity": 2, "stock": "out_of_stock",
             "restock_eta": (today + 4 * d).isoformat()}
    return [
        (order("T1001", "WAIT_SELLER_SEND_GOODS", now - 0.5 * h),
         "in stock, just paid: ships today before the cutoff, else the next working day"),
        (order("T1002", "WAIT_SELLER_SEND_GOODS", at(-1, 20, 30)),
         "paid after yesterday's cutoff: goes out today under the policy"),
        (order("T1003", "WAIT_SELLER_SEND_GOODS", now - window - 26 * h),
         "overdue: past the promised ship-by time, in stock"),
        (order("T1004", "WAIT_SELLER_SEND_GOODS", now - 20 * h, items=[
            {"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "out_of_stock",
             "restock_eta": (today + 3 * d).isoformat()}]),
         "out of stock with a restock date"),
        (order("T1005", "WAIT_SELLER_SEND_GOODS", now - 3 * d,
               presale={"ship_from": (today + 5 * d).isoformat(), "ship_by": (today + 10 * d).isoformat()},
               promised_ship_by=at(10, 23, 59)),
         "presale: ships from a fixed date"),
        (order("T1006", "WAIT_BUYER_CONFIRM_GOODS", now - 2 * d, shipments=[shipment(
            "中通快递", "78812345678901", now - 30 * h,
            [(now - 28 * h, "【杭州市】中通快递 已揽收"), (now - 10 * h, "【杭州转运中心】已发出，下一站【上海转运中心】")])]),
         "shipped: carrier, tracking number, last event"),
        (order("T1007", "WAIT_BUYER_CONFIRM_GOODS", now - 6 * d, shipments=[shipment(
            "中通快递", "78812345670000", now - 5 * d,
            [(now - 5 * d + 3 * h, "【杭州市】中通快递 已揽收"), (now - 4 * d, "【杭州转运中心】已发出")])]),
         "stuck in transit: no tracking event for more than 48 hours"),
        (order("T1008", "WAIT_BUYER_CONFIRM_GOODS", now - 5 * d, shipments=[shipment(
            "中通快递", "78812340001111", now - 5 * d + 6 * h,
            [(now - 4 * d, "已揽收"), (now - 2 * d, "已签收，签收人：菜鸟驿站")])]),
         "signed for at a parcel station"),
        (order("T1009", "SELLER_CONSIGNED_PART", now - 4 * d, items=[
            {"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock"}, plate],
            shipments=[shipment("中通快递", "78812349990000", now - 3 * d,
                                [(now - 3 * d + 3 * h, "已揽收"), (now - 1 * d, "已签收")])]),
         "split: one item delivered, the other out of stock until its restock date"),
        (order("T1010", "WAIT_BUYER_PAY", None), "not paid yet"),
        (order("T1011", "TRADE_CLOSED", now - 6 * d, refund={"status": "SUCCESS"}), "refunded and closed"),
        (order("T1012", "PAID_FORBID_CONSIGN", now - 1 * d), "the platform forbids shipping"),
        (order("T1013", "WAIT_BUYER_CONFIRM_GOODS", now - 2 * d, shipments=[shipment(
            "顺丰速运", "SF1234567890123", now - 20 * h, [(now - 18 * h, "已揽收")])]),
         "shipped with SF (try an English message)"),
        (order("T1014", "WAIT_SELLER_SEND_GOODS", now - 2 * h, items=[
            {"sku": "VASE-03", "title": "手工花瓶", "quantity": 1, "stock": "unknown"}]),
         "stock unknown: the reply keeps to the order's own deadline"),
    ]


def dump_order_line(facts: OrderFacts, note: str) -> str:
    return f"{facts.order_id}\t{facts.status or '-'}\t{note}"


def facts_json(facts: OrderFacts) -> str:
    return json.dumps(facts.model_dump(mode="json"), ensure_ascii=False)
