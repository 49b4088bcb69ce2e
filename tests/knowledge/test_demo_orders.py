"""The demo shop's orders cover every situation of the dev scenarios, on any seeding date."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.clock import FixedClock
from drafter.situation import assess
from knowledge.demo_orders import DemoOrderStore, demo_orders, merge_patch
from knowledge.errors import OrderNotFound
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore

CST = timezone(timedelta(hours=8))
NEEDED = {"awaiting_dispatch", "out_of_stock", "presale", "shipped", "stuck", "signed", "partial", "unpaid",
          "closed", "forbidden"}


@pytest.mark.parametrize("seeded_at", [
    datetime(2026, 11, 12, 10, 0, tzinfo=CST),   # weekday morning
    datetime(2027, 2, 28, 23, 30, tzinfo=CST),   # late on a month end
    datetime(2026, 6, 1, 15, 59, tzinfo=CST),    # a minute before the cutoff
])
def test_every_situation_is_covered(seeded_at: datetime) -> None:
    settings = ShopSettings()
    orders = demo_orders(seeded_at, settings)
    assert len(orders) >= 12
    states = {}
    for facts, _ in orders:
        s = assess(facts, settings, [], seeded_at + timedelta(minutes=5))
        states[facts.order_id] = s
    got = {s.state for s in states.values()}
    assert NEEDED <= got, NEEDED - got
    assert states["T1003"].overdue and not states["T1001"].overdue
    assert states["T1002"].dispatch_on == (seeded_at + timedelta(minutes=5)).date()
    assert states["T1007"].state == "stuck"


def test_store_round_trip_and_live_update(engine) -> None:
    clock = FixedClock(datetime(2026, 11, 12, 10, tzinfo=CST))
    ShopStore(engine, clock).ensure("demo")
    store = DemoOrderStore(engine, clock)
    for facts, _ in demo_orders(clock.now(), ShopSettings()):
        store.put("demo", facts)
    assert store.get("demo", "T1001").status == "WAIT_SELLER_SEND_GOODS"
    updated = store.update("demo", "T1001", {"status": "WAIT_BUYER_CONFIRM_GOODS"})
    assert updated.status == "WAIT_BUYER_CONFIRM_GOODS" and store.get("demo", "T1001") == updated
    with pytest.raises(OrderNotFound):
        store.get("other", "T1001")
    from core.errors import InvalidInput
    with pytest.raises(InvalidInput) as exc:
        store.update("demo", "T1001", {"paid_at": "yesterday"})
    assert exc.value.field == "paid_at"
    assert store.get("demo", "T1001") == updated  # nothing written on a bad update


def test_merge_patch_follows_rfc_7386() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": 5}) == {
        "a": 1, "b": {"d": 3, "e": 4}, "f": 5}
