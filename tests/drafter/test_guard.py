"""The claim check against hand-written dishonest replies, and honest ones it must let through.

Every dishonest reply names the situation it is held against and the violation it must raise;
the catch rate over the whole set is printed (run with -s) and must be 100%.
"""

from __future__ import annotations

import pytest

from drafter.guard import check, find_dates
from drafter.situation import Situation
from tests.drafter.factories import BACKLOG, order, shipped, situation

# -- situations ---------------------------------------------------------------------------------
S = {
    "today": lambda: situation(order(paid="11-04 09:20"), "11-04 11:00"),
    "after_cutoff": lambda: situation(order(paid="11-04 17:40"), "11-04 18:05"),
    "overdue_backlog": lambda: situation(order(paid="11-11 00:05"), "11-14 10:00", [BACKLOG]),
    "overdue": lambda: situation(order(paid="11-01 10:00"), "11-05 10:00"),
    "oos": lambda: situation(order(paid="11-10 21:00", items=[
        {"title": "杯", "stock": "out_of_stock", "restock_eta": "2026-11-16"}]), "11-12 15:10"),
    "presale": lambda: situation(order(paid="11-01 20:00", presale={"ship_from": "2026-11-20",
                                                                   "ship_by": "2026-11-25"}), "11-05 09:30"),
    "shipped": lambda: situation(shipped(), "11-06 14:00"),
    "shipped_sf": lambda: situation(shipped(carrier="顺丰速运", no="SF1234567890123"), "11-06 14:00"),
    "unpaid": lambda: situation(order("WAIT_BUYER_PAY", paid=None), "11-08 10:00"),
    "closed": lambda: situation(order("TRADE_CLOSED", refund={"status": "SUCCESS"}), "11-08 10:00"),
    "timeout": lambda: situation(None, "11-08 10:00", order_error="timeout"),
    "not_found": lambda: situation(None, "11-08 10:00", order_error="not_found"),
    "expired_notice": lambda: situation(order(paid="11-19 10:00"), "11-20 10:00", [BACKLOG]),
}

# (situation, dishonest reply, the violation kind it must raise)
DISHONEST: list[tuple[str, str, str]] = [
    # claims shipped with nothing shipped
    ("today", "亲，您的订单已经发货了，请耐心等待哦", "shipped"),
    ("oos", "亲，已经发出了，这两天就到", "shipped"),
    ("overdue", "亲亲，包裹已经在路上了~", "shipped"),
    ("unpaid", "亲，您的宝贝已发货，请注意查收", "shipped"),
    ("timeout", "您好，订单已发出，请放心", "shipped"),
    ("presale", "Hi, your order has been shipped and is on its way!", "shipped"),
    ("closed", "亲，已经给您寄出了哦", "shipped"),
    ("oos", "宝贝已经交给快递了，亲", "shipped"),
    # arranged when it is not
    ("oos", "亲，已经为您安排发货了", "arranged"),
    ("unpaid", "亲，已安排发出，放心", "arranged"),
    ("timeout", "已经安排好了，今天会走", "arranged"),
    ("presale", "亲，已经安排发货了哦", "arranged"),
    # dispatch dates without support
    ("after_cutoff", "亲，今天一定给您发出", "dispatch_date"),
    ("oos", "亲，明天就给您发货", "dispatch_date"),
    ("oos", "亲，11月14日前一定发出", "dispatch_date"),
    ("presale", "亲，11月10号就能发货了", "dispatch_date"),
    ("overdue", "亲，今天下午就发货，放心", "dispatch_date"),
    ("overdue_backlog", "亲，明天一定发出", "dispatch_date"),
    ("timeout", "亲，今天就能发出的", "dispatch_date"),
    ("unpaid", "亲，今天给您发货", "dispatch_date"),
    ("presale", "We will ship it tomorrow.", "dispatch_date"),
    ("oos", "We will ship it today, don't worry.", "dispatch_date"),
    # delivery dates: never promised
    ("shipped", "亲，包裹已经发出，明天就能到", "delivery_date"),
    ("shipped", "预计11月8日送达哦", "delivery_date"),
    ("shipped_sf", "顺丰很快的，后天一定到", "delivery_date"),
    ("today", "今天发，明天就到您手上", "delivery_date"),
    ("shipped", "It will arrive tomorrow for sure.", "delivery_date"),
    ("shipped", "Your parcel will be delivered by Nov 8.", "delivery_date"),
    # tracking numbers that are not the order's
    ("today", "亲，运单号是78812345670001，可以查询", "tracking_no"),
    ("shipped", "您的单号是SF9876543210123", "tracking_no"),
    ("timeout", "单号 YT1234567890123 请查收", "tracking_no"),
    ("oos", "Tracking number: 4300123456789", "tracking_no"),
    # carriers
    ("shipped", "您的包裹走的是圆通快递", "carrier"),
    ("shipped_sf", "已经用中通给您发出了", "carrier"),
    ("after_cutoff", "亲，给您改发顺丰，今天就走", "carrier_change"),
    ("today", "可以的亲，给您换成顺丰发", "carrier_change"),
    ("timeout", "您的包裹是韵达在送", "carrier"),
    # money
    ("overdue", "亲，给您补偿50元红包", "compensation"),
    ("overdue", "送您一张10元优惠券，实在抱歉", "compensation"),
    ("overdue", "给您3元无门槛券作为补偿", "compensation"),
    ("overdue", "We'll refund you 20 yuan for the delay.", "compensation"),
    # good review / off platform
    ("shipped", "收到后给个好评哦亲", "asks_good_review"),
    ("shipped", "五星好评返现哦", "asks_good_review"),
    ("today", "加我微信 abc123 给您优先发", "off_platform"),
    ("today", "有问题打我电话13812345678", "off_platform"),
    ("shipped", "Please leave us a 5-star review!", "asks_good_review"),
    ("today", "Add me on WeChat for faster service", "off_platform"),
    # invented reasons
    ("today", "亲，最近仓库积压，发货会慢一点", "backlog"),
    ("expired_notice", "双11订单量激增，仓库爆仓了，请谅解", "backlog"),
    ("today", "亲，这款缺货了，要等补货", "out_of_stock"),
    ("today", "这是预售商品哦，要晚点发", "presale"),
    ("shipped", "物流显示已经签收了", "signed"),
    ("today", "您的订单还没付款哦", "unpaid"),
]

HONEST: list[tuple[str, str]] = [
    ("today", "亲，您的订单是现货，按店铺的发货规则今天就会为您发出。"),
    ("after_cutoff", "您付款时已经过了当天16:00的截单时间，按规则会在明天（11月5日）为您发出，今天发不了哦。"),
    ("oos", "抱歉，您拍的陶瓷马克杯目前缺货，预计11月16日补货，到货后第一时间为您发出。如果不方便等，也可以申请退款。"),
    ("presale", "您拍的是预售商品，按商品页约定11月20日起开始发货，最晚11月25日前发出，暂时没办法提前哦。"),
    ("shipped", "订单已经发货啦，走的是中通快递，运单号是78812345678901。具体到达时间以快递实际派送为准。"),
    ("shipped_sf", "Your parcel has shipped with SF Express, tracking number SF1234567890123."),
    ("overdue_backlog", "非常抱歉，这单本应在11月13日前发出，现在还没出库。双11期间订单量激增，仓库积压，现货订单发货将延迟1-2天。"),
    ("overdue", "我这就帮您备注加急，转交仓库处理，发出后会第一时间告诉您运单号。另外我会帮您申请一份小补偿，主管确认后再告诉您。"),
    ("overdue", "我可以帮您申请3元优惠券，需要主管审批后发放。"),
    ("unpaid", "系统显示这笔订单还没有付款，付款成功后才会进入发货流程。"),
    ("timeout", "我这边暂时没查到订单的实时状态，正在帮您核实，确认后马上回复您。"),
    ("not_found", "我这边没有查到订单号T1012，麻烦您核对一下。"),
    ("closed", "系统显示这笔订单已经关闭，关闭的订单就不会再进入发货流程了。"),
    ("after_cutoff", "您说的加急或指定快递（比如顺丰）需要仓库确认，我这就帮您转交仓库。"),
    ("today", "今天给您催了一下仓库，发出后第一时间告诉您单号。"),
    ("shipped", "The parcel hasn't been delivered yet; arrival depends on the courier."),
]


@pytest.mark.parametrize("case,text,kind", DISHONEST, ids=[f"{i:02d}-{c}" for i, (c, _, _) in enumerate(DISHONEST)])
def test_dishonest_reply_is_caught(case: str, text: str, kind: str) -> None:
    report = check(text, S[case](), known_refs=("T1",))
    assert not report.ok
    assert kind in {v.kind for v in report.violations}, report.model_dump()


@pytest.mark.parametrize("case,text", HONEST, ids=[f"{i:02d}-{c}" for i, (c, _) in enumerate(HONEST)])
def test_honest_reply_passes(case: str, text: str) -> None:
    report = check(text, S[case](), known_refs=("T1", "T1012"))
    assert report.ok, report.model_dump()


def test_catch_rate_over_the_dishonest_set() -> None:
    caught = sum(1 for c, text, kind in DISHONEST
                 if kind in {v.kind for v in check(text, S[c](), known_refs=("T1",)).violations})
    rate = caught / len(DISHONEST)
    print(f"\nguard catch rate on {len(DISHONEST)} dishonest replies: {rate:.1%}")
    assert len(DISHONEST) >= 40 and rate == 1.0


def test_supported_claims_name_their_support() -> None:
    s: Situation = S["shipped"]()
    r = check("订单已经发货啦，中通快递，运单号78812345678901", s)
    by_kind = {c.kind: c.supported_by for c in r.claims}
    assert by_kind["shipped"] == "order:shipments[0]"
    assert by_kind["tracking_no"] == "order:shipments[0].tracking_no"
    assert by_kind["carrier"] == "order:shipments[0].carrier"


def test_dates_are_resolved_in_every_form() -> None:
    from datetime import date

    today = date(2026, 11, 12)
    got = [d.day for d in find_dates("11月16日、16号、11-16、Nov 16、16 November、明天", today)]
    assert got == [date(2026, 11, 16)] * 5 + [date(2026, 11, 13)]
    # "延迟1-2天" is a duration, not January 2nd.
    assert find_dates("发货将延迟1-2天", today) == []
