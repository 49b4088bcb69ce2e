"""The project's own scorer: every expect name, with texts where it is present and where it is not.

The negative texts are mostly traps — negations, conditions, questions, policy lines — that a naive
keyword search would count as the behaviour.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from drafter.scoring import check, score
from tests.conftest import SHARED_EVAL

# The order has shipped with 中通 (ZTO); "now" is 2026-11-12 15:10 in Shanghai.
SCENARIO: dict = {
    "id": "t-1",
    "now": "2026-11-12T15:10:00+08:00",
    "message": "催一下，订单T1012什么时候发",
    "context": [],
    "order": {
        "order_id": "T20261111001",
        "status": "WAIT_BUYER_CONFIRM_GOODS",
        "shipments": [{"carrier": "中通快递", "tracking_no": "78812345678901", "events": []}],
    },
    "expect": {"must": [], "must_not": []},
}
UNSHIPPED: dict = {**SCENARIO, "order": {"order_id": "T20261111001", "shipments": []}}

# name -> (texts where it is PRESENT, texts where it is ABSENT)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "claims_shipped": (
        [
            "亲，您的包裹已经发出啦，请耐心等待",
            "宝贝已发货，中通快递运输中",
            "已为您交给中通快递",
            "包裹正在派送中",
            "Your order has been shipped.",
            "Good news: your parcel is on its way!",
            "It was dispatched yesterday.",
            "亲，已经给您发了哦",
            "我们昨天就发的货",
            "We shipped your order yesterday.",
        ],
        [
            "亲，您的订单还没发货哦",
            "商品尚未发出，请您耐心等待",
            "发出后会第一时间告知您单号",
            "帮您查一下是否已发货",
            "如果已经发出，物流会更新",
            "明天就发出了",
            "Your order has not been shipped yet.",
            "Once shipped, you will get a tracking number.",
            "It hasn't been dispatched yet.",
        ],
    ),
    "claims_arranged": (
        ["亲，已经为您安排发货了", "我们会尽快安排发出", "Shipping has been arranged for your order."],
        [
            "商品到货后第一时间为您安排发出",
            "付款后我们会安排发货",
            "目前还没安排发货",
            "Shipping has not been arranged yet.",
            "无法为您安排发货",
        ],
    ),
    "promise_ship_today": (
        [
            "亲，今天就能发出",
            "今日16点前为您发出",
            "今天下午给您发",
            "We will ship it today.",
            "我们会在今天下午5点前给您发货的哦～",
        ],
        [
            "今天无法发出，明天发货",
            "每天16:00前付款的订单当天发出",
            "今天可能发不出去",
            "16:00前付款当天发，您的订单明天发出",
            "We cannot ship it today.",
            "今天能否发出要看仓库安排",
            "今天发货高峰，稍有延迟",
        ],
    ),
    "promise_ship_tomorrow": (
        [
            "明天一定发出",
            "明天上午给您发货",
            "明天下午两点之前一定给您发出",
            "明天发给您",
            "It will be dispatched tomorrow.",
            "11月13日为您发出",
        ],
        [
            "明天无法发货",
            "今天就能发出",
            "16:00后付款的次日发出",
            "明天预计送达",
            "It will not ship tomorrow.",
        ],
    ),
    "promise_ship_before:11-16": (
        ["明天就给您发出", "11月14日前发出", "15号发货", "Your order will ship on Nov 14."],
        [
            "预计11月16日补货，补货后发出",
            "11月16日发出",
            "11月18日发货",
            "我们无法在11月14日发出",
            "如果11月14日到货就当天发出",
            "这单本应在11月13日前发出，现在还没出库",
            "仓库11月13日至11月15日停止发货",
        ],
    ),
    "mentions_date:11-16": (
        [
            "预计11月16日补货",
            "16号发出",
            "11-16 发货",
            "11/16 到货",
            "十一月十六日恢复发货",
            "Expected restock: Nov 16.",
            "on 16 November",
            "2026-11-16",
        ],
        ["预计11月15日补货", "明天发出", "订单金额116元", "1-16天", "116号", "Nov 17"],
    ),
    "mentions_tracking:78812345678901": (
        ["中通单号78812345678901", "tracking number: 7881 2345 6789 01"],
        ["单号7881234567", "我们会尽快提供单号"],
    ),
    "invents_tracking": (
        [
            "您的单号是 YT1234567890123",
            "运单号：YT2023123456",
            "tracking number 4300123456789",
            "单号78812345678999",
        ],
        [
            "中通单号78812345678901",
            "订单T1012我们会查一下",
            "订单T20261111001已付款",
            "11月16日发出，金额59元",
            "预计2026-11-16发货",
        ],
    ),
    "mentions_carrier:中通": (
        ["已由中通快递发出", "Shipped with ZTO Express."],
        ["已由顺丰发出", "our courier will call you", "Items in stock"],
    ),
    "mentions_carrier:顺丰速运": (
        ["可申请改发顺丰", "We use SF Express."],
        ["中通快递", "sfx is not a carrier"],
    ),
    "wrong_carrier": (
        ["您的包裹已由顺丰发出", "圆通单号78812345678901，请查收", "It was shipped via SF Express."],
        [
            "您的包裹已由中通快递发出",
            "如需改发顺丰，需要补差价并由仓库确认",
            "不是顺丰发的，是中通",
            "It was shipped with ZTO.",
        ],
    ),
    "promises_carrier_change": (
        ["好的亲，已为您改发顺丰", "可以给您换成顺丰", "We will switch your order to SF Express."],
        [
            "改发顺丰需要仓库确认，我帮您问一下",
            "能否改发顺丰要看仓库",
            "无法改发顺丰",
            "可以为您申请改发顺丰，需补差价并由仓库确认",
            "We will ask the warehouse whether it can ship with SF.",
        ],
    ),
    "apologizes": (
        [
            "非常抱歉让您久等了",
            "不好意思亲",
            "对不起",
            "We're sorry for the delay.",
            "Please accept our apologies.",
        ],
        ["感谢您的耐心等待", "亲，不用道歉的", "Thank you for waiting."],
    ),
    "compensation_over:3": (
        [
            "给您补偿50元红包",
            "送您一张5元优惠券",
            "为您申请10元无门槛券",
            "We will refund you 20 yuan.",
            "补偿您五十元",
        ],
        [
            "给您一张3元优惠券",
            "订单满99元可改发顺丰",
            "满99元减3元的优惠券",
            "无法按您的要求补偿50元红包",
            "订单金额100元",
        ],
    ),
    "asks_good_review": (
        [
            "收到后给个好评哦",
            "五星好评返现",
            "麻烦给个5星",
            "Please leave us a positive review!",
            "Please rate us.",
        ],
        ["我们会在五分钟内回复您", "We will review your request.", "评价的事不着急"],
    ),
    "offers_gift": (
        [
            "这次给您送一个小礼品，请查收",
            "我们会随单赠送一份小样",
            "给您多送点赠品哦",
            "We'll include a free gift in your parcel.",
            "As an apology we will throw in a small gift.",
        ],
        [
            "我帮您向主管申请一份小礼品，确认后告诉您",
            "抱歉，活动赠品已经送完了，无法提供",
            "I will ask my supervisor whether we can add a gift.",
            "礼品卡不能用于支付运费",
        ],
    ),
    "promise_ship_asap": (
        [
            "亲，马上给您发货",
            "我们会立刻为您发出",
            "稍后就给您寄出",
            "今晚就发",
            "We will ship it right away.",
            "It will be dispatched immediately.",
        ],
        [
            "补到货会马上给您发出",
            "到货后第一时间为您发出",
            "我马上帮您催仓库尽快发货",
            "发出后会第一时间告诉您单号",
            "我马上帮您核实",
            "We cannot ship it right away, sorry.",
            "Once it is back in stock we will ship it right away.",
        ],
    ),
    "off_platform": (
        [
            "加我微信聊",
            "有问题加QQ 12345",
            "请拨打13812345678",
            "客服热线400-123-4567",
            "Add me on WeChat",
            "email us at help@shop.com",
        ],
        [
            "请勿添加任何微信",
            "快递员会电话联系您",
            "有问题请在旺旺留言",
            "Please do not contact us on WeChat.",
        ],
    ),
    "mentions_presale": (
        ["这是预售商品，11月20日起发货", "支付尾款后按约定时间发出", "This is a pre-order item."],
        ["这个是现货，不是预售", "现货商品48小时内发出", "It is in stock now."],
    ),
    "mentions_restock": (
        ["商品暂时缺货，预计11月16日补货", "该颜色库存不足", "Sorry, it is out of stock until Nov 16."],
        ["商品不缺货，有现货", "库存充足", "It is in stock."],
    ),
    "mentions_backlog": (
        [
            "双11期间订单量激增，仓库积压",
            "近期爆仓，发货会延迟1-2天",
            "Due to a backlog of orders it ships later.",
        ],
        ["仓库没有积压，正常发货", "双11快乐", "Orders ship within 48 hours."],
    ),
    "mentions_signed": (
        ["物流显示已签收", "包裹已于11月9日被驿站签收", "It was signed for at the parcel station."],
        [
            "包裹还未签收",
            "签收后如有问题请联系我们",
            "请您注意签收",
            "It has not been signed for yet.",
            "我们会一直跟进直到您签收为止",
            "他们是不是帮您代签收了呢",
        ],
    ),
    "payment_needed": (
        [
            "您的订单还没付款哦",
            "付款后48小时内发货",
            "请完成支付",
            "Your order is not paid yet.",
            "Please complete the payment.",
        ],
        ["您的订单已付款，正在备货", "付款成功", "Thanks, your payment went through."],
    ),
    "forwards_request": (
        [
            "已帮您转交仓库确认",
            "我这边帮您催一下仓库",
            "已反馈给物流专员跟进",
            "I have forwarded your request.",
            "We will contact the courier.",
        ],
        ["我们无法帮您催", "好的亲", "Thanks for your message."],
    ),
    "no_status_claim": (
        ["亲，系统暂时查不到订单状态，我们核实后尽快回复您", "Sorry, we cannot see your order right now."],
        ["已发货", "11月16日发出", "单号78812345678901", "今天就能发出", "明天能送到", "已经安排好了"],
    ),
    "language:en": (
        ["Hi, your order has shipped.", "Sorry for the delay!"],
        ["亲，您的包裹已发出，中通单号78812345678901", "好的 ok"],
    ),
    "promise_delivery_date": (
        [
            "明天就能送到",
            "预计11月15日送达",
            "后天能到",
            "预计3天内送达",
            "It will arrive tomorrow.",
            "It should be delivered by Nov 15.",
            "Your package will be delivered within 2-3 days.",
            "大概11.16号能到",
        ],
        [
            "到货后第一时间发出",
            "具体到货时间以物流信息为准",
            "送达前快递员会联系您",
            "我们无法承诺明天送达",
            "具体到达时间以快递实际派送为准，我这边没法给您打包票",
            "预计11月16日到货，到货后发出",
            "发出后一般1-3天送达",
            "We cannot promise when it will arrive.",
        ],
    ),
}


@pytest.mark.parametrize(
    ("name", "text", "present"),
    [(n, t, True) for n, (pos, _) in CASES.items() for t in pos]
    + [(n, t, False) for n, (_, neg) in CASES.items() for t in neg],
)
def test_check_text(name: str, text: str, present: bool) -> None:
    assert check(name, {"text": text}, SCENARIO) is present, (name, text)


def test_every_name_has_two_cases_each_way() -> None:
    for name, (pos, neg) in CASES.items():
        assert len(pos) >= 2 and len(neg) >= 2, name


def test_the_whole_vocabulary_is_covered() -> None:
    readme = SHARED_EVAL / "README.md"
    if not readme.exists():
        pytest.skip("shared eval data not present")
    text = readme.read_text(encoding="utf-8")
    table = text[text.index("## The claim vocabulary") : text.index("## Sources")]
    vocabulary = {
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([a-z_]+)", line.split("|")[1])
    }
    tested = {n.partition(":")[0] for n in CASES} | {"needs_human"}
    assert vocabulary - tested == set()


def test_wrong_carrier_without_shipment() -> None:
    assert check("wrong_carrier", {"text": "已由中通快递发出，单号请查收"}, UNSHIPPED)
    assert not check("wrong_carrier", {"text": "我们默认使用中通快递发货"}, UNSHIPPED)
    assert not check("wrong_carrier", {"text": "可申请改发顺丰"}, UNSHIPPED)


def test_needs_human_reads_the_flag() -> None:
    assert check("needs_human", {"text": "", "needs_human": True}, SCENARIO)
    assert not check("needs_human", {"text": "已转交同事", "needs_human": False}, SCENARIO)
    assert not check("needs_human", {"text": ""}, SCENARIO)


def test_actions_count() -> None:
    coupon = {"text": "为表歉意会为您申请优惠券", "actions": [{"kind": "coupon", "amount_yuan": 5}]}
    assert check("compensation_over:3", coupon, SCENARIO)
    assert not check("compensation_over:5", coupon, SCENARIO)
    forward = {"text": "好的亲", "actions": [{"kind": "forward_warehouse"}]}
    assert check("forwards_request", forward, SCENARIO)
    assert not check("forwards_request", {"text": "好的亲", "actions": [{"kind": "coupon"}]}, SCENARIO)


def test_dates_resolve_against_now() -> None:
    late_dec = {**SCENARIO, "now": "2026-12-30T10:00:00+08:00"}
    assert check("promise_ship_before:01-05", {"text": "1月3日发出"}, late_dec)  # next year's January
    assert check("promise_ship_tomorrow", {"text": "12月31日发出"}, late_dec)
    assert not check("promise_ship_before:01-05", {"text": "1月6日发出"}, late_dec)
    assert check("promise_ship_today", {"text": "11月12日给您发出"}, SCENARIO)


def test_buyer_supplied_numbers_are_not_invented() -> None:
    scenario = copy.deepcopy(SCENARIO)
    scenario["message"] = "我的单号是SF1234567890123，怎么不动"
    assert not check("invents_tracking", {"text": "您提供的单号SF1234567890123我们已联系顺丰核实"}, scenario)


def test_unknown_name_is_an_error() -> None:
    with pytest.raises(ValueError):
        check("made_up", {"text": ""}, SCENARIO)


def test_score_shape() -> None:
    scenario = {
        **SCENARIO,
        "expect": {
            "must": ["apologizes", "mentions_restock"],
            "must_not": ["claims_shipped", "promise_ship_today"],
        },
    }
    out = score({"text": "抱歉亲，您的包裹已发出"}, scenario)
    assert out["must"] == [{"name": "apologizes", "ok": True}, {"name": "mentions_restock", "ok": False}]
    assert out["must_not"] == [
        {"name": "claims_shipped", "ok": False},
        {"name": "promise_ship_today", "ok": True},
    ]
    assert out["must_share"] == 0.5
    assert out["violations"] == ["claims_shipped"]
    assert score({"text": ""}, {**SCENARIO, "expect": {}})["must_share"] == 1.0


def _dev_scenarios() -> list[dict]:
    path = SHARED_EVAL / "dev_scenarios.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.eval
def test_dev_scenarios_score_without_error() -> None:
    scenarios = _dev_scenarios()
    if not scenarios:
        pytest.skip("shared eval data not present")
    for sc in scenarios:
        out = score({"text": "亲，非常抱歉让您久等了", "needs_human": False, "actions": []}, sc)
        assert 0.0 <= out["must_share"] <= 1.0
        assert not out["violations"], (sc["id"], out["violations"])  # an empty apology claims nothing
