"""The guard against the dishonest phrasings of issue 12 (and the variants found while writing them),
the honest texts it must let through, and the fallback text it falls back to: true in every state.
"""

from __future__ import annotations

import pytest

from drafter.compose import fallback_text
from drafter.guard import check
from drafter.intent import classify
from drafter.situation import Notice
from knowledge.shop_settings import ShopSettings
from tests.drafter.factories import SETTINGS, order, shipped, situation

NO_GIFT = ShopSettings.model_validate({**SETTINGS.model_dump(mode="json"), "compensation": {"coupon_yuan_max": 3}})
FREE_GIFT = ShopSettings.model_validate({**SETTINGS.model_dump(mode="json"),
                                         "compensation": {"coupon_yuan_max": 3, "needs_approval": False,
                                                          "gift": "小礼品"}})
PICKUP = ShopSettings.model_validate({**SETTINGS.model_dump(mode="json"), "last_pickup": "17:00"})
PAUSE = Notice(id="move", text="仓库搬迁：11月10日至11月13日暂停发货。",
               effects=[{"kind": "dispatch_pause", "from": "2026-11-10", "until": "2026-11-13"}])

S = {
    "today": lambda: situation(order(paid="11-04 09:20"), "11-04 11:00"),
    "after_pickup": lambda: situation(order(paid="11-04 15:50"), "11-04 17:20", settings=PICKUP),
    "oos": lambda: situation(order(paid="11-10 21:00", items=[
        {"title": "杯", "stock": "out_of_stock", "restock_eta": "2026-11-16"}]), "11-12 15:10"),
    "overdue": lambda: situation(order(paid="11-01 10:00"), "11-05 10:00"),
    "paused": lambda: situation(order(paid="11-09 20:00"), "11-11 10:00", [PAUSE]),
    "no_gift": lambda: situation(order(paid="11-04 09:20"), "11-04 11:00", settings=NO_GIFT),
    "free_gift": lambda: situation(order(paid="11-04 09:20"), "11-04 11:00", settings=FREE_GIFT),
    "shipped": lambda: situation(shipped(), "11-06 14:00"),
    "stale": lambda: situation(order(paid="11-01 10:00", items=[
        {"title": "碗", "stock": "out_of_stock", "restock_eta": "2026-11-03"}]), "11-05 10:00"),
}

DISHONEST: list[tuple[str, str, str]] = [
    # a day promised without a date
    ("oos", "亲，今晚就给您发出", "dispatch_date"),
    ("oos", "马上给您发货哦", "dispatch_date"),
    ("overdue", "我们立刻为您发出，请放心", "dispatch_date"),
    ("overdue", "稍后就给您寄出", "dispatch_date"),
    ("oos", "一会儿就发，别急", "dispatch_date"),
    ("paused", "很快就发出了亲", "dispatch_date"),
    ("overdue", "We will ship it right away.", "dispatch_date"),
    ("oos", "It will go out tonight.", "dispatch_date"),
    ("overdue", "Your order will be dispatched in a moment.", "dispatch_date"),
    ("after_pickup", "亲，今天就给您发出", "dispatch_date"),
    ("after_pickup", "今晚发出，放心", "dispatch_date"),
    ("after_pickup", "Don't worry, it ships today.", "dispatch_date"),
    ("paused", "明天就能发货", "dispatch_date"),
    ("stale", "预计11月3日补货，补货后发出", "restock_date"),
    # a handover that did not happen
    ("overdue", "亲，已经打包好了，等快递来取", "shipped"),
    ("oos", "宝贝已打包，马上交给快递", "shipped"),
    ("today", "已经交给快递了，放心", "shipped"),
    ("overdue", "快递小哥已经取件了哦", "shipped"),
    ("overdue", "Your order has been packed and handed to the courier.", "shipped"),
    ("today", "The courier has collected your parcel.", "shipped"),
    ("overdue", "As promised, your order has left our warehouse.", "shipped"),
    ("overdue", "应该已经发出了，您再等等。", "shipped"),
    # gifts and freebies
    ("no_gift", "给您送一个小礼品，请查收", "gift"),
    ("today", "这次给您多送点赠品哦", "gift"),
    ("today", "We'll include a free gift in your parcel.", "gift"),
    ("no_gift", "帮您申请一份小礼品", "gift"),
    # paid reviews in any form
    ("today", "收到后晒图返现3元哦", "asks_good_review"),
    ("today", "带图评价送小样", "asks_good_review"),
    ("shipped", "五星好评返红包", "asks_good_review"),
    ("shipped", "Leave us a 5-star review and get cash back!", "asks_good_review"),
    ("shipped", "Please rate us after delivery.", "asks_good_review"),
    # carrier changes granted
    ("today", "可以的，给您改走顺丰", "carrier_change"),
    ("today", "帮您升级顺丰发出", "carrier_change"),
    ("today", "给您换成京东快递", "carrier_change"),
    ("today", "Sure, we'll ship it with SF Express.", "carrier_change"),
]

HONEST: list[tuple[str, str]] = [
    ("today", "亲，您的订单按店铺规则今天就会发出。"),
    ("oos", "补到货会马上给您发出；不想等的话也可以申请退款哦。"),
    ("oos", "到货后第一时间为您发出。"),
    ("overdue", "我马上帮您催仓库，有发货信息马上告诉您。"),
    ("overdue", "我马上帮您核实一下。"),
    # the missed event said as missed (an apology for being late), not a claim that it happened
    ("overdue", "I'm really sorry: your order should have left our warehouse by Nov 3 and it hasn't yet."),
    ("overdue", "非常抱歉，您的订单本应在11月3日前发出，现在还没有发出。"),
    ("paused", "按通知安排，您的订单最早11月14日发出。"),
    ("paused", "店铺通知：仓库搬迁：11月10日至11月13日暂停发货。"),
    ("today", "我帮您向主管申请一份小礼品，确认后告诉您。"),
    ("free_gift", "这次给您附赠一个小礼品。"),
    ("today", "加急或改发顺丰需要仓库确认，我这就帮您转交仓库。"),
    ("shipped", "您的包裹已经发出（中通快递，运单号78812345678901）。"),
    ("after_pickup", "快递最后一次揽收（17:00）已经过了，您的订单最早明天（11月5日）发出。"),
]


@pytest.mark.parametrize(("key", "text", "kind"), DISHONEST)
def test_dishonest_phrasings_are_caught(key: str, text: str, kind: str) -> None:
    report = check(text, S[key]())
    assert not report.ok and kind in {v.kind for v in report.violations}, (text, report.violations)


@pytest.mark.parametrize(("key", "text"), HONEST)
def test_honest_texts_pass(key: str, text: str) -> None:
    report = check(text, S[key]())
    assert report.ok, (text, report.violations)


FALLBACK_CASES = {
    "awaiting": (order(paid="11-04 09:20"), "11-04 11:00", None),
    "oos": (order(paid="11-10 21:00", items=[{"title": "杯", "stock": "out_of_stock"}]), "11-12 15:10", None),
    "presale": (order(paid="11-01 20:00", presale={"ship_from": "2026-11-20", "ship_by": "2026-11-25"}),
                "11-05 09:30", None),
    "shipped": (shipped(), "11-06 14:00", None),
    "signed": (shipped(events=[("11-08 15:30", "已签收")]), "11-10 20:00", None),
    "partial": (shipped(status="SELLER_CONSIGNED_PART", items=[
        {"title": "杯", "stock": "in_stock"}, {"title": "盘", "stock": "out_of_stock"}]), "11-07 12:00", None),
    "unpaid": (order("WAIT_BUYER_PAY", paid=None), "11-08 10:00", None),
    "closed_unpaid": (order("TRADE_CLOSED_BY_TAOBAO", paid=None), "11-08 10:00", None),
    "closed_refunded": (order("TRADE_CLOSED", refund={"status": "SUCCESS"}), "11-08 10:00", None),
    "refunding": (order(refund={"status": "WAIT_SELLER_AGREE"}), "11-05 09:00", None),
    "timeout": (None, "11-08 10:00", "timeout"),
}


@pytest.mark.parametrize("case", sorted(FALLBACK_CASES))
@pytest.mark.parametrize("message", ["怎么还不发货", "Has my order shipped yet?"])
def test_the_fallback_text_is_true_in_every_state(case: str, message: str) -> None:
    facts, now, err = FALLBACK_CASES[case]
    s = situation(facts, now, order_error=err)
    text = fallback_text(classify(message), SETTINGS, "seed", s)
    report = check(text, s)
    assert report.ok, (case, text, report.violations)
    assert not any(c.kind in ("dispatch_date", "date", "tracking_no", "carrier") for c in report.claims), text
    if s.facts_known:
        assert "can't see" not in text and "没查到" not in text  # the status is known: never say it is not
    if case in ("shipped", "signed", "partial"):
        assert any(c.kind == "shipped" or c.kind == "signed" for c in report.claims) or "签收" in text or "signed" in text
