"""The Jushuitan adapter, only against the fake Jushuitan server on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.errors import OrderNotFound, SourceConfigError, SourceMalformed, SourceRateLimited
from knowledge.sources.jushuitan import ERP_STATUS
from tests.knowledge.sources.conftest import SHOP, connect_jst

SO = "3961234567890555"


def erp(o_id: int, status: str, items: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"o_id": o_id, "so_id": SO, "shop_id": 10012345, "status": status, "shop_status": "SELLER_CONSIGNED_PART",
            "pay_date": "2026-11-09 10:01:30", "order_date": "2026-11-09 10:00:00", "pay_amount": 0,
            "shop_buyer_id": "t**3", "wms_co_id": 10086, "wms_co_name": "杭州仓", "l_id": None,
            "logistics_company": None, "send_date": None, "items": items, **kw}


def item(sku: str, name: str, **kw: Any) -> dict[str, Any]:
    return {"oi_id": 1, "sku_id": sku, "name": name, "qty": 1, "price": 39.0, "amount": 39.0, "raw_so_id": SO,
            "refund_status": "none", "item_status": "", **kw}


def split_orders() -> list[dict[str, Any]]:
    """A platform order split in the ERP: the parent (Split) and three children, two shipped."""
    return [
        erp(9001, "Split", [item("MUG-01", "陶瓷马克杯"), item("CUP-02", "玻璃杯"), item("PLATE-02", "骨瓷餐盘")]),
        erp(9002, "Sent", [item("MUG-01", "陶瓷马克杯")], l_id="78812345678901", logistics_company="中通快递",
            send_date="2026-11-10 18:00:00", pay_amount=117.0),
        erp(9003, "Sent", [item("CUP-02", "玻璃杯")], l_id="SF1234567890123", logistics_company="顺丰速运",
            send_date="2026-11-11 09:00:00"),
        erp(9004, "WaitConfirm", [item("PLATE-02", "骨瓷餐盘", refund_status="waiting")]),
    ]


def test_split_order_is_paged_with_has_next_and_mapped_per_line(jst, configs, make_sources) -> None:
    jst.page_size = 1  # four ERP orders: four pages
    jst.orders[SO] = split_orders()
    connect_jst(configs, jst)
    out = make_sources().check(SHOP, SO)
    f = out["facts"]
    assert jst.count() == 4 and all(c["signature_ok"] for c in jst.calls)
    assert [c["params"]["version"] for c in jst.calls] == ["2"] * 4
    assert f["status"] == "SELLER_CONSIGNED_PART"
    assert [(i["sku"], i["status"]) for i in f["items"]] == [("MUG-01", "WAIT_BUYER_CONFIRM_GOODS"),
                                                             ("CUP-02", "WAIT_BUYER_CONFIRM_GOODS"),
                                                             ("PLATE-02", "WAIT_SELLER_SEND_GOODS")]
    assert [(s["carrier"], s["tracking_no"], s["item_skus"]) for s in f["shipments"]] == [
        ("中通快递", "78812345678901", ["MUG-01"]), ("顺丰速运", "SF1234567890123", ["CUP-02"])]
    assert f["shipments"][0]["shipped_at"] == "2026-11-10T18:00:00+08:00"
    assert f["items"][2]["refund_status"] == "WAITING" and f["refund"] is None
    assert f["amount"] == 117.0 and f["warehouse"] == "杭州仓" and f["buyer_nick"] == "t**3"
    assert len(out["raw"]["pages"]) == 4


def test_erp_statuses_are_mapped_explicitly_and_unknown_ones_stay_unknown(jst, configs, make_sources) -> None:
    connect_jst(configs, jst)
    src = make_sources(ttl_s=0)
    for status, want in [*ERP_STATUS.items(), ("SomethingNew", None)]:
        jst.orders[SO] = [erp(9100, status, [item("MUG-01", "杯")], shop_status=None)]
        f = src.get(SHOP, SO)
        assert f.items[0].status == want, status
        assert f.status == want, status  # without shop_status, the lines say it (or nobody does)
    jst.orders[SO] = [erp(9100, "WaitConfirm", [item("MUG-01", "杯")], shop_status="SOMETHING_ELSE")]
    assert src.get(SHOP, SO).status == "WAIT_SELLER_SEND_GOODS"


def test_an_expired_token_is_refreshed_once_and_stored_for_every_worker(jst, configs, make_sources) -> None:
    jst.orders[SO] = split_orders()
    connect_jst(configs, jst)
    jst.behaviour.then("token_expired")
    f = make_sources().get(SHOP, SO)
    assert f.order_id == SO
    assert jst.count("/openWeb/auth/refreshToken") == 1
    stored = configs.secrets(configs.get(SHOP))  # type: ignore[arg-type]
    assert stored["access_token"] == jst.access_token and stored["refresh_token"] == jst.refresh_token
    # Another worker (a new router) uses the stored token without refreshing again.
    assert make_sources(ttl_s=0).get(SHOP, SO).order_id == SO
    assert jst.count("/openWeb/auth/refreshToken") == 1


def test_a_token_that_cannot_be_refreshed_is_a_configuration_error(jst, configs, make_sources) -> None:
    jst.orders[SO] = split_orders()
    connect_jst(configs, jst)
    jst.refresh_token = "revoked-elsewhere"
    jst.behaviour.then("token_expired")
    with pytest.raises(SourceConfigError) as e:
        make_sources().get(SHOP, SO)
    assert e.value.code.startswith("jst:") and "authorise" in e.value.message


def test_a_wrong_secret_is_a_configuration_error(jst, configs, make_sources) -> None:
    jst.orders[SO] = split_orders()
    configs.connect(SHOP, "jushuitan", {"base_url": jst.url, "app_key": jst.app_key},
                    {"app_secret": "wrong-secret", "access_token": jst.access_token})
    with pytest.raises(SourceConfigError) as e:
        make_sources().get(SHOP, SO)
    assert e.value.code == "jst:10" and jst.calls[0]["signature_ok"] is False


def test_rate_limit_fails_fast_then_recovers(jst, configs, make_sources, clock) -> None:
    jst.orders[SO] = split_orders()
    connect_jst(configs, jst)
    src = make_sources(ttl_s=0)
    jst.behaviour.then("rate_limit")
    with pytest.raises(SourceRateLimited):
        src.get(SHOP, SO)
    with pytest.raises(SourceRateLimited):
        src.get(SHOP, SO)
    assert jst.count() == 1
    clock.advance(seconds=2)
    assert src.get(SHOP, SO).order_id == SO


def test_malformed_is_unavailable_5xx_is_retried_and_unknown_is_not_found(jst, configs, make_sources,
                                                                          sleeps) -> None:
    jst.orders[SO] = split_orders()
    connect_jst(configs, jst)
    src = make_sources(ttl_s=0)
    jst.behaviour.then("malformed")
    with pytest.raises(SourceMalformed):
        src.get(SHOP, SO)
    jst.behaviour.then("http500")
    assert src.get(SHOP, SO).order_id == SO and sleeps == [0.2]
    with pytest.raises(OrderNotFound):
        src.get(SHOP, "3961234567899999")
