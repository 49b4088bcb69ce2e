"""The demo shop's orders cover every situation of the dev scenarios, on any seeding date."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from drafter.situation import assess
from knowledge.demo_data import DEMO_KB, DEMO_SETTINGS, demo_orders
from knowledge.shop_settings import ShopSettings

CST = timezone(timedelta(hours=8))
NEEDED = {"awaiting_dispatch", "out_of_stock", "presale", "shipped", "stuck", "signed", "partial", "unpaid",
          "closed", "forbidden"}


@pytest.mark.parametrize("settings", [ShopSettings(), DEMO_SETTINGS], ids=["default", "demo"])
@pytest.mark.parametrize("seeded_at", [
    datetime(2026, 11, 12, 10, 0, tzinfo=CST),   # weekday morning
    datetime(2027, 2, 28, 23, 30, tzinfo=CST),   # late on a month end
    datetime(2026, 6, 1, 15, 59, tzinfo=CST),    # a minute before the cutoff
])
def test_every_situation_is_covered(seeded_at: datetime, settings: ShopSettings) -> None:
    orders = demo_orders(seeded_at, settings)
    assert len(orders) >= 12
    states = {}
    for facts, _ in orders:
        s = assess(facts, settings, [], seeded_at + timedelta(minutes=5))
        states[facts.order_id] = s
    got = {s.state for s in states.values()}
    assert NEEDED <= got, NEEDED - got
    assert states["T1003"].overdue and not states["T1001"].overdue
    when = seeded_at + timedelta(minutes=5)
    handover = settings.last_pickup_time or settings.cutoff_time
    if when.time() < handover:
        assert states["T1002"].dispatch_on == when.date()
    else:  # after the day's last pickup (the cutoff without one) "today" is no longer true (issue 12)
        est = states["T1002"].estimate
        assert states["T1002"].dispatch_on is None and est is not None and est.earliest > when.date()
    assert states["T1007"].state == "stuck"


def test_the_demo_shop_is_defined_once_with_its_knowledge_base() -> None:
    assert DEMO_SETTINGS.compensation.coupon_yuan_max == 3 and DEMO_SETTINGS.daily_cutoff == "16:00"
    assert (DEMO_KB / "ship-time.md").is_file()
