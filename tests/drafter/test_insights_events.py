"""What an urge event says about an order: state, cause, the SKU waited for, warehouse and carrier."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from drafter.guard import GuardReport
from drafter.insights.events import extract
from drafter.intent import Intent
from drafter.result import DraftResult
from drafter.situation import Notice, assess
from knowledge.orders import OrderFacts
from knowledge.shop_settings import ShopSettings
from prompts.loader import PromptRef

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=CST)
SETTINGS = ShopSettings()
H = timedelta(hours=1)


def _event(facts: dict, notices: list[Notice] | None = None) -> dict:
    f = OrderFacts.model_validate({"order_id": "T1", **facts})
    situation = assess(f, SETTINGS, notices or [], NOW)
    result = DraftResult(text="亲", intent=Intent(kind="urge"), guard=GuardReport(),
                         prompt=PromptRef(name="t", version="v1", hash="x"), facts=f.model_dump(mode="json"))
    return extract(result, situation)


def _paid(hours: float) -> dict:
    return {"status": "WAIT_SELLER_SEND_GOODS", "paid_at": (NOW - hours * H).isoformat(),
            "promised_ship_by": (NOW - hours * H + 48 * H).isoformat()}


ITEMS = [{"sku": "CUP-02", "stock": "in_stock"}, {"sku": "MUG-01", "stock": "out_of_stock", "restock_eta": "2026-11-20"}]


@pytest.mark.parametrize(("facts", "notices", "want"), [
    # Out of stock with a restock date already passed: a stock error, on the line that waits for it.
    ({**_paid(30), "items": ITEMS, "warehouse": "WH-GZ"}, None,
     {"state": "out_of_stock", "cause": "stock_error", "sku": "MUG-01", "warehouse": "WH-GZ", "restock_passed": True}),
    ({**_paid(30), "items": [{"sku": "MUG-01", "stock": "out_of_stock", "restock_eta": "2026-11-28"}]}, None,
     {"state": "out_of_stock", "cause": "out_of_stock", "sku": "MUG-01", "restock_passed": False}),
    ({**_paid(60), "items": [{"sku": "CUP-02", "stock": "in_stock", "store_code": "S-7"}]}, None,
     {"state": "awaiting_dispatch", "cause": "overdue", "overdue": True, "warehouse": "S-7"}),
    ({**_paid(10), "items": [{"sku": "CUP-02", "stock": "in_stock"}]}, None,
     {"state": "awaiting_dispatch", "cause": "awaiting", "overdue": False}),
    # The shop's own delay notice is in force: the urge is about an announced delay.
    ({**_paid(10), "items": [{"sku": "CUP-02", "stock": "in_stock"}]},
     [Notice(id="n1", text="双11发货延迟1-2天", valid_from=NOW - 48 * H, valid_to=NOW + 48 * H,
             effects=[{"kind": "dispatch_delay", "days_min": 1, "days_max": 2}])],
     {"state": "awaiting_dispatch", "cause": "notice_delay"}),
    # A parcel with no tracking event for days: the carrier is the cause, and the SKU in that parcel.
    ({"status": "WAIT_BUYER_CONFIRM_GOODS", "paid_at": (NOW - 120 * H).isoformat(),
      "items": [{"sku": "CUP-02", "stock": "in_stock"}],
      "shipments": [{"carrier": "圆通速递", "tracking_no": "YT1", "item_skus": ["CUP-02"],
                     "events": [{"at": (NOW - 90 * H).isoformat(), "desc": "已揽收"},
                                {"at": (NOW - 70 * H).isoformat(), "desc": "【杭州转运中心】已发出"}]}]}, None,
     {"state": "stuck", "cause": "courier_stall", "carrier": "圆通速递", "sku": "CUP-02"}),
    ({"status": "WAIT_BUYER_CONFIRM_GOODS", "paid_at": (NOW - 50 * H).isoformat(),
      "items": [{"sku": "CUP-02", "stock": "in_stock"}],
      "shipments": [{"carrier": "中通快递", "tracking_no": "ZT1",
                     "events": [{"at": (NOW - 5 * H).isoformat(), "desc": "您的快件已到达菜鸟驿站，请凭取件码取件"}]}]},
     None, {"state": "shipped", "cause": "at_pickup", "carrier": "中通快递"}),
])
def test_the_event_reads_the_situation(facts: dict, notices: list[Notice] | None, want: dict) -> None:
    got = _event(facts, notices)
    assert {k: got[k] for k in want} == want


def test_without_a_situation_nothing_is_guessed() -> None:
    result = DraftResult(text="亲", intent=Intent(kind="urge"), guard=GuardReport(),
                         prompt=PromptRef(name="t", version="v1", hash="x"), facts=None)
    assert extract(result, None) == {"state": "unknown", "cause": "unknown", "sku": None, "skus": [],
                                     "warehouse": None, "carrier": None, "overdue": False, "overdue_days": 0,
                                     "restock_passed": False}
