"""The SQL order store behind PUT/PATCH /v1/orders: round trip, merge-patch updates, nothing written on bad input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.clock import FixedClock
from core.errors import InvalidInput
from knowledge.demo_data import DEMO_SETTINGS, demo_orders
from knowledge.errors import OrderNotFound
from knowledge.order_store import SqlOrderStore, merge_patch
from knowledge.shops import ShopStore

CST = timezone(timedelta(hours=8))


def test_store_round_trip_and_live_update(engine) -> None:
    clock = FixedClock(datetime(2026, 11, 12, 10, tzinfo=CST))
    ShopStore(engine, clock).ensure("demo")
    store = SqlOrderStore(engine, clock)
    for facts, _ in demo_orders(clock.now(), DEMO_SETTINGS):
        store.put("demo", facts)
    assert store.get("demo", "T1001").status == "WAIT_SELLER_SEND_GOODS"
    updated = store.update("demo", "T1001", {"status": "WAIT_BUYER_CONFIRM_GOODS"})
    assert updated.status == "WAIT_BUYER_CONFIRM_GOODS" and store.get("demo", "T1001") == updated
    with pytest.raises(OrderNotFound):
        store.get("other", "T1001")
    with pytest.raises(InvalidInput) as exc:
        store.update("demo", "T1001", {"paid_at": "yesterday"})
    assert exc.value.field == "paid_at"
    assert store.get("demo", "T1001") == updated  # nothing written on a bad update
    with pytest.raises(InvalidInput) as exc:
        store.update("demo", "T1001", {"order_id": "T9999"})
    assert exc.value.field == "order_id"
    assert [f.order_id for f in store.list("demo")][:2] == ["T1001", "T1002"]


def test_merge_patch_follows_rfc_7386() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": 5}) == {
        "a": 1, "b": {"d": 3, "e": 4}, "f": 5}
