"""The Taobao Open Platform adapter, only against the fake TOP gateway on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from drafter.situation import assess
from knowledge.errors import (
    OrderNotFound,
    SourceConfigError,
    SourceMalformed,
    SourceRateLimited,
    SourceRemoteError,
)
from knowledge.shop_settings import ShopSettings
from tests.knowledge.sources.conftest import NOW, SHOP, connect_top

TID = "3961234567890123"


def split_trade() -> dict[str, Any]:
    """A trade as taobao.trade.fullinfo.get returns it: three lines, two parcels, one line not shipped."""
    def line(oid: int, sku: str, title: str, status: str, **kw: Any) -> dict[str, Any]:
        return {"oid": oid, "num_iid": 600012345678, "title": title, "num": 1, "outer_sku_id": sku,
                "outer_iid": sku.split("-")[0], "sku_id": "5000000017", "status": status, "price": "39.00",
                "payment": "39.00", "refund_status": "NO_REFUND", "sku_properties_name": "颜色:白色",
                "pic_path": "https://gd4.alicdn.com/x.jpg", "seller_type": "B", **kw}
    return {
        "tid": int(TID), "status": "SELLER_CONSIGNED_PART", "type": "fixed", "shipping_type": "express",
        "created": "2026-11-09 10:00:00", "pay_time": "2026-11-09 10:01:30", "modified": "2026-11-11 09:00:00",
        "buyer_nick": "t**3", "payment": "117.00", "seller_nick": "演示旗舰店",
        "orders": {"order": [
            line(39612345678901231, "MUG-01", "陶瓷马克杯", "WAIT_BUYER_CONFIRM_GOODS", logistics_company="中通快递",
                 invoice_no="78812345678901", consign_time="2026-11-10 18:00:00"),
            line(39612345678901232, "CUP-02", "玻璃杯", "WAIT_BUYER_CONFIRM_GOODS", logistics_company="顺丰速运",
                 invoice_no="SF1234567890123", consign_time="2026-11-11 09:00:00"),
            line(39612345678901233, "PLATE-02", "骨瓷餐盘", "WAIT_SELLER_SEND_GOODS", refund_status="WAIT_SELLER_AGREE",
                 est_con_time="付款后15天内"),
        ]},
    }


def traces(top: Any) -> None:
    top.traces["78812345678901"] = {"company_name": "中通快递", "status": "运输中", "steps": [
        {"status_time": "2026-11-10 19:02:11", "status_desc": "【杭州市】中通快递 已揽收", "action": "GOT"},
        {"status_time": "2026-11-11 06:40:00", "status_desc": "【杭州转运中心】已发出", "action": "DEPARTURE"}]}
    top.traces["SF1234567890123"] = {"company_name": "顺丰速运", "status": "对方已签收", "steps": []}


@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_every_sign_method_is_verified_by_the_gateway(top, configs, make_sources, method: str) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    connect_top(configs, top, sign_method=method)
    out = make_sources().check(SHOP, TID)
    assert out["facts"]["order_id"] == TID
    assert top.calls and all(c["signature_ok"] for c in top.calls)
    assert {c["params"]["sign_method"] for c in top.calls} == {method}


def test_a_wrong_app_secret_is_a_configuration_error_the_admin_sees(top, configs, make_sources) -> None:
    top.trades[TID] = split_trade()
    connect_top(configs, top, secret="not-the-secret")
    src = make_sources()
    with pytest.raises(SourceConfigError) as e:
        src.get(SHOP, TID)
    assert e.value.code == "top:25" and "not-the-secret" not in e.value.message
    assert top.count() == 1  # never retried
    status = src.status()[0]
    assert status["last_error_code"] == "top:25" and status["last_success_at"] is None


def test_split_order_maps_per_line_and_per_parcel(top, configs, make_sources) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    connect_top(configs, top)
    out = make_sources().check(SHOP, TID)
    f = out["facts"]
    assert f["status"] == "SELLER_CONSIGNED_PART"
    assert [i["status"] for i in f["items"]] == ["WAIT_BUYER_CONFIRM_GOODS", "WAIT_BUYER_CONFIRM_GOODS",
                                                 "WAIT_SELLER_SEND_GOODS"]
    assert [i["refund_status"] for i in f["items"]] == [None, None, "WAIT_SELLER_AGREE"]
    assert f["refund"] is None  # one line's refund is not the order's
    assert [(s["carrier"], s["tracking_no"], s["item_skus"]) for s in f["shipments"]] == [
        ("中通快递", "78812345678901", ["MUG-01"]), ("顺丰速运", "SF1234567890123", ["CUP-02"])]
    zto, sf = f["shipments"]
    assert [e["desc"] for e in zto["events"]] == ["【杭州市】中通快递 已揽收", "【杭州转运中心】已发出"]
    assert zto["events"][0]["at"] == "2026-11-10T19:02:11+08:00" and zto["shipped_at"] == "2026-11-10T18:00:00+08:00"
    # Each parcel's trace was asked for with its own sub-order (is_split), never the whole trade.
    asked = [c["params"] for c in top.calls if c["method"] == "taobao.logistics.trace.search"]
    assert [(p.get("is_split"), p.get("sub_tid")) for p in asked] == [("1", "39612345678901231"),
                                                                      ("1", "39612345678901232")]
    # The SF waybill was shipped offline: TOP says 对方已签收 with no steps. That is no delivery.
    assert sf["events"] == [] and sf["trace"] == "offline"
    assert f["paid_at"] == "2026-11-09T10:01:30+08:00" and f["amount"] == 117.0 and f["buyer_nick"] == "t**3"
    assert f["fetched_at"] == NOW.isoformat()
    assert {"fact": "items[2].status", "from": "trade.orders.order[2].status",
            "value": "WAIT_SELLER_SEND_GOODS"} in out["mapping"]
    assert out["raw"]["trade_fullinfo_get_response"]["trade"]["tid"] == int(TID)


def test_an_offline_waybill_is_not_evidence_of_delivery(top, configs, make_sources) -> None:
    trade = split_trade()
    trade["status"] = "WAIT_BUYER_CONFIRM_GOODS"
    trade["orders"]["order"] = trade["orders"]["order"][1:2]
    top.trades[TID] = trade
    traces(top)
    connect_top(configs, top)
    facts = make_sources().get(SHOP, TID)
    s = assess(facts, ShopSettings(), [], NOW)
    assert s.state != "signed" and not any(v.signed for v in s.shipments)


def test_unknown_values_stay_unknown(top, configs, make_sources) -> None:
    trade = split_trade()
    trade["status"] = "PAY_PENDING"
    trade["orders"]["order"][0]["status"] = "SOME_NEW_STATUS"
    del trade["pay_time"]
    top.trades[TID] = trade
    connect_top(configs, top)
    f = make_sources().get(SHOP, TID)
    assert f.status is None and f.items[0].status is None and f.paid_at is None
    assert all(it.stock == "unknown" for it in f.items)  # TOP does not say; never "in stock"


def test_invalid_session_is_a_configuration_error(top, configs, make_sources) -> None:
    top.trades[TID] = split_trade()
    connect_top(configs, top)
    top.behaviour.then("invalid_session")
    with pytest.raises(SourceConfigError) as e:
        make_sources().get(SHOP, TID)
    assert e.value.code == "top:27:invalid-sessionkey" and "re-authorise" in e.value.message
    assert top.session not in e.value.message


def test_isp_errors_are_retried_with_backoff(top, configs, make_sources, sleeps) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    connect_top(configs, top)
    top.behaviour.then("isp", "isp")
    f = make_sources().get(SHOP, TID)
    assert f.order_id == TID
    assert sleeps == [0.2, 0.4]  # injected: the test never waited
    assert top.count("taobao.trade.fullinfo.get") == 3


def test_isp_errors_that_persist_end_unavailable(top, configs, make_sources, sleeps) -> None:
    top.trades[TID] = split_trade()
    connect_top(configs, top)
    top.behaviour.always("isp")
    with pytest.raises(SourceRemoteError) as e:
        make_sources().get(SHOP, TID)
    assert e.value.code == "top:15:isp.top-remote-connection-timeout" and top.count() == 3


def test_app_call_limited_honours_the_ban_and_fails_fast(top, configs, make_sources, clock) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    connect_top(configs, top)
    src = make_sources(ttl_s=0)
    top.behaviour.then("rate_limit:71")
    with pytest.raises(SourceRateLimited) as e:
        src.get(SHOP, TID)
    assert e.value.retry_after == 71 and top.count() == 1
    clock.advance(seconds=70)
    with pytest.raises(SourceRateLimited):
        src.get(SHOP, TID)
    assert top.count() == 1  # failed fast: the platform was not asked during the ban
    clock.advance(seconds=2)
    assert src.get(SHOP, TID).order_id == TID


def test_malformed_json_is_unavailable_and_5xx_is_retried(top, configs, make_sources) -> None:
    top.trades[TID] = split_trade()
    traces(top)
    connect_top(configs, top)
    src = make_sources(ttl_s=0)
    top.behaviour.then("malformed")
    with pytest.raises(SourceMalformed):
        src.get(SHOP, TID)
    top.behaviour.then("http500")
    assert src.get(SHOP, TID).order_id == TID


def test_slowness_beyond_the_timeout_is_unavailable(top, configs, make_sources) -> None:
    top.trades[TID] = split_trade()
    connect_top(configs, top)
    top.behaviour.delay_s = 1.0
    with pytest.raises(SourceRemoteError) as e:
        make_sources(timeout_s=0.2, retries=0).get(SHOP, TID)
    assert e.value.code == "top:timeout"


def test_an_unknown_trade_is_not_found(top, configs, make_sources) -> None:
    connect_top(configs, top)
    with pytest.raises(OrderNotFound):
        make_sources().get(SHOP, "3961234567899999")
