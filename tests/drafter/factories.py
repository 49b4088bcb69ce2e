"""Small builders for order facts and situations used across the drafter tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from drafter.situation import Notice, Situation, assess
from knowledge.demo_data import DEMO_SETTINGS
from knowledge.orders import OrderFacts
from knowledge.shop_settings import ShopSettings

CST = timezone(timedelta(hours=8))
SETTINGS = DEMO_SETTINGS  # the demo shop's rules: coupons up to 3 yuan, cutoff 16:00
BACKLOG = Notice(id="n-1111", text="双11期间订单量激增，仓库积压，现货订单发货将延迟1-2天，请客服如实告知买家。",
                 valid_from=datetime(2026, 11, 11, tzinfo=CST), valid_to=datetime(2026, 11, 18, 23, 59, 59, tzinfo=CST))
SPRING = Notice(id="n-spring", text="春节放假：仓库2月14日至2月21日停止发货，2月22日起按付款顺序陆续发出。",
                valid_from=datetime(2027, 2, 10, tzinfo=CST), valid_to=datetime(2027, 2, 22, 23, 59, 59, tzinfo=CST))


def t(s: str) -> datetime:
    """'11-04 09:20' in 2026, Beijing time."""
    md, hm = s.split()
    m, d = md.split("-")
    hh, mm = hm.split(":")
    return datetime(2026, int(m), int(d), int(hh), int(mm), tzinfo=CST)


def order(status: str = "WAIT_SELLER_SEND_GOODS", paid: str | None = "11-04 09:20", **kw: Any) -> OrderFacts:
    paid_at = t(paid) if paid else None
    data: dict[str, Any] = {
        "order_id": kw.pop("order_id", "T1"), "status": status, "paid_at": paid_at,
        "promised_ship_by": (paid_at + timedelta(hours=48)) if paid_at else None,
        "items": [{"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock"}],
    }
    data.update(kw)
    return OrderFacts.model_validate(data)


def shipped(carrier: str = "中通快递", no: str = "78812345678901", at: str = "11-05 17:20",
            events: list[tuple[str, str]] | None = None, **kw: Any) -> OrderFacts:
    evs = events if events is not None else [("11-05 19:02", "【杭州市】中通快递 已揽收")]
    status = kw.pop("status", "WAIT_BUYER_CONFIRM_GOODS")
    return order(status, shipments=[{
        "carrier": carrier, "tracking_no": no, "shipped_at": t(at),
        "events": [{"at": t(a), "desc": d} for a, d in evs]}], **kw)


def situation(facts: OrderFacts | None, now: str, notices: list[Notice] | None = None, *,
              order_error: str | None = None, message: str = "", settings: ShopSettings = SETTINGS) -> Situation:
    return assess(facts, settings, notices or [], t(now), order_error=order_error, message_hint=message)
