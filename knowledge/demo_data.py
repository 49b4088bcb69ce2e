"""The demo shop: its settings, its knowledge base directory and its orders (``replydesk demo seed``).

The demo orders cover every situation of the dev scenarios. Their timestamps are relative to
the seeding clock, so "overdue" stays overdue and "stuck" stays stuck on any date the demo is run.
Tests that need "the demo shop's rules" import ``DEMO_SETTINGS`` from here rather than copy them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from knowledge.orders import OrderFacts
from knowledge.shop_settings import ShopSettings

__all__ = ["DEMO_KB", "DEMO_NAME", "DEMO_SETTINGS", "demo_orders"]

DEMO_KB = Path(__file__).resolve().parent / "demo_kb"
DEMO_NAME = "Demo 旗舰店"
DEMO_SETTINGS = ShopSettings.model_validate({
    "timezone": "Asia/Shanghai", "ship_within_hours": 48, "daily_cutoff": "16:00", "ships_on_weekends": True,
    "holidays": [], "extra_workdays": [], "default_carriers": ["中通快递", "顺丰速运"],
    "compensation": {"coupon_yuan_max": 3, "needs_approval": True, "gift": "小礼品"},
    "tone": {"address": "亲", "sign_off": "祝您生活愉快"},
})


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
