"""Each parcel's own last event, classified; negations and pickup points are not what they look like."""

from __future__ import annotations

import pytest

from drafter.parcels import classify_event

CASES = [
    ("【杭州市】中通快递 已揽收", "collected"),
    ("快递员已取件", "collected"),
    ("【杭州转运中心】已发出，下一站【上海转运中心】", "in_transit"),
    ("Arrived at sorting center", "in_transit"),
    ("配送员正在为您派件", "out_for_delivery"),
    ("Out for delivery", "out_for_delivery"),
    ("快件已到达【幸福里菜鸟驿站】，请凭取件码7-3-1208及时取件", "pickup_point"),
    ("快件已投递至丰巢智能柜，请凭取件码取件", "pickup_point"),
    ("Ready for pickup at the parcel locker", "pickup_point"),
    ("客户未签收，明日再次派送", "delivery_failed"),
    ("派送不成功，电话无人接听，快件滞留网点", "delivery_failed"),
    ("Delivery attempt failed: no one home", "delivery_failed"),
    ("已签收，签收人：菜鸟驿站", "signed"),
    ("【上海市】快件已签收", "signed"),
    ("已签收，放置门口", "signed"),
    ("您的快件已从驿站取出", "signed"),
    ("Delivered, signed for by the front desk", "signed"),
    ("收件人拒收，快件已退回寄件人", "returned"),
    ("Returned to sender", "returned"),
    ("", "unknown"),
]


@pytest.mark.parametrize(("desc", "phase"), CASES)
def test_phase(desc: str, phase: str) -> None:
    assert classify_event(desc) == phase
