"""The generic HTTP adapter, only against a fake shop endpoint on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import InvalidInput
from knowledge.errors import (
    OrderNotFound,
    SourceConfigError,
    SourceMalformed,
    SourceRateLimited,
    SourceRemoteError,
)
from tests.knowledge.sources.conftest import SHOP, connect_http

FACTS: dict[str, Any] = {
    "order_id": "A1001", "status": "SELLER_CONSIGNED_PART", "paid_at": "2026-11-09T10:01:30+08:00",
    "items": [{"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock",
               "status": "WAIT_BUYER_CONFIRM_GOODS"},
              {"sku": "PLATE-02", "title": "骨瓷餐盘", "quantity": 2, "stock": "out_of_stock",
               "restock_eta": "2026-11-16", "status": "WAIT_SELLER_SEND_GOODS"}],
    "shipments": [{"carrier": "中通快递", "tracking_no": "78812345678901", "shipped_at": "2026-11-10T18:00:00+08:00",
                   "item_skus": ["MUG-01"], "events": [{"at": "2026-11-10T19:02:11+08:00", "desc": "已揽收"}]}],
    "warehouse": "杭州仓",
}


def test_order_facts_json_with_a_verified_hmac(shop_api, configs, make_sources, clock) -> None:
    shop_api.bodies["A1001"] = FACTS
    connect_http(configs, shop_api)
    out = make_sources().check(SHOP, "A1001")
    assert shop_api.calls == [{"order_id": "A1001", "signature_ok": True}]
    f = out["facts"]
    assert f["items"][1]["status"] == "WAIT_SELLER_SEND_GOODS" and f["shipments"][0]["item_skus"] == ["MUG-01"]
    assert f["fetched_at"] == clock.now().isoformat() and f["warehouse"] == "杭州仓"


def test_a_wrong_hmac_secret_is_a_configuration_error(shop_api, configs, make_sources) -> None:
    shop_api.bodies["A1001"] = FACTS
    configs.connect(SHOP, "http", {"url": shop_api.url}, {"hmac_secret": "not-the-one"})
    with pytest.raises(SourceConfigError) as e:
        make_sources().get(SHOP, "A1001")
    assert e.value.code == "http:401"


@pytest.mark.parametrize("mode", ["malformed", "invalid"])
def test_a_malformed_answer_is_unavailable_never_a_guess(shop_api, configs, make_sources, mode: str) -> None:
    shop_api.bodies["A1001"] = FACTS
    connect_http(configs, shop_api)
    shop_api.behaviour.then(mode)
    with pytest.raises(SourceMalformed):
        make_sources().get(SHOP, "A1001")


@pytest.mark.parametrize("body", [
    {**FACTS, "order_id": "A9999"},                                  # about another order
    {**FACTS, "paid_at": "2026-11-09 10:01:30"},                     # no offset: which zone?
    [FACTS],                                                         # not an object
    {**FACTS, "items": [{"sku": "MUG-01", "quantity": "two"}]},      # wrong type
])
def test_strict_validation(shop_api, configs, make_sources, body: Any) -> None:
    shop_api.bodies["A1001"] = body
    connect_http(configs, shop_api)
    with pytest.raises(SourceMalformed):
        make_sources().get(SHOP, "A1001")


def test_errors_map_to_behaviour(shop_api, configs, make_sources, sleeps) -> None:
    shop_api.bodies["A1001"] = FACTS
    connect_http(configs, shop_api)
    src = make_sources(ttl_s=0)
    with pytest.raises(OrderNotFound):
        src.get(SHOP, "nope")
    shop_api.behaviour.then("http500")
    assert src.get(SHOP, "A1001").order_id == "A1001" and sleeps == [0.2]
    shop_api.behaviour.then("rate_limit")
    with pytest.raises(SourceRateLimited) as e:
        src.check(SHOP, "A1001")  # no cache: get() would serve the facts it read a moment ago
    assert e.value.retry_after == 30
    shop_api.behaviour.delay_s = 1.0
    with pytest.raises(SourceRemoteError) as e2:
        make_sources(timeout_s=0.2, retries=0).check(SHOP, "A1001")
    assert e2.value.code == "http:timeout"


def test_a_field_mapping_reads_another_json_and_unlisted_values_stay_unknown(shop_api, configs,
                                                                            make_sources) -> None:
    shop_api.bodies["B7"] = {"ok": True, "data": {
        "no": "B7", "state": "部分发货", "payTime": "2026-11-09 10:01:30",
        "lines": [{"code": "MUG-01", "name": "杯", "n": 1, "st": "已发货", "inv": "有货"},
                  {"code": "PLATE-02", "name": "盘", "n": 2, "st": "缺货中", "inv": "缺货"}],
        "parcels": [{"co": "中通快递", "waybill": "78812345678901", "skus": ["MUG-01"],
                     "trace": [{"t": "2026-11-10 19:02:11", "d": "已揽收"}]}]}}
    mapping = {"root": "data", "fields": {"order_id": "no", "status": "state", "paid_at": "payTime"},
               "status_values": {"部分发货": "SELLER_CONSIGNED_PART", "已发货": "WAIT_BUYER_CONFIRM_GOODS"},
               "stock_values": {"有货": "in_stock", "缺货": "out_of_stock"},
               "items": {"path": "lines", "fields": {"sku": "code", "title": "name", "quantity": "n", "status": "st",
                                                      "stock": "inv"}},
               "shipments": {"path": "parcels", "fields": {"carrier": "co", "tracking_no": "waybill",
                                                           "item_skus": "skus"}},
               "events": {"path": "trace", "fields": {"at": "t", "desc": "d"}}, "timezone": "Asia/Shanghai"}
    connect_http(configs, shop_api, mapping=mapping)
    out = make_sources().check(SHOP, "B7")
    f = out["facts"]
    assert f["status"] == "SELLER_CONSIGNED_PART" and f["paid_at"] == "2026-11-09T10:01:30+08:00"
    assert [(i["status"], i["stock"]) for i in f["items"]] == [("WAIT_BUYER_CONFIRM_GOODS", "in_stock"),
                                                               (None, "out_of_stock")]  # 缺货中 is not listed
    assert f["shipments"][0]["events"] == [{"at": "2026-11-10T19:02:11+08:00", "desc": "已揽收"}]
    assert {"fact": "items[1].stock", "from": "lines[1].inv", "value": "out_of_stock"} in out["mapping"]


def test_a_bad_mapping_is_refused_when_connecting(configs, shop_api) -> None:
    with pytest.raises(InvalidInput) as e:
        connect_http(configs, shop_api, mapping={"fields": {"colour": "c"}})
    assert e.value.field == "settings.mapping.fields"
    with pytest.raises(InvalidInput):
        connect_http(configs, shop_api, mapping={"status_values": {"x": "SHIPPED_MAYBE"}})
