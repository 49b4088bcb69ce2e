"""Order sources through the API and the CLI: admin configuration, checks, pushed events, /readyz and
/metrics, and a full session grepped for the configured secrets."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.container import Container
from core.clock import FixedClock
from core.settings import Settings
from knowledge.sources.events import sign_event
from knowledge.sources.secretbox import new_key
from tests.fakes.server import LoopbackServer
from tests.fakes.shop_endpoint import FakeShopEndpoint
from tests.fakes.top_gateway import FakeTop
from tests.knowledge.sources.test_taobao import TID, split_trade, traces

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)
EVENTS_SECRET = "evt-secret-0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    e = {"REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_SECRET_KEY": new_key(),
         "REPLYDESK_RATE_LIMIT_PER_MIN": "0", "REPLYDESK_ORDER_CACHE_BACKEND": "database"}
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    return e


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def container(env: dict[str, str], clock: FixedClock) -> Iterator[Container]:
    c = Container.build(Settings(), clock=clock, with_index=False)
    c.shops.ensure("acme", name="Acme")
    c.shops.ensure("other")
    yield c
    c.close()


@pytest.fixture
def keys(container: Container) -> dict[str, str]:
    out = {}
    for role in ("agent", "manager", "admin"):
        _, out[role] = container.keys.create("acme", role)
    _, out["other-admin"] = container.keys.create("other", "admin")
    return out


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container)) as c:
        yield c


@pytest.fixture
def top() -> Iterator[FakeTop]:
    fake = FakeTop()
    fake.trades[TID] = split_trade()
    traces(fake)
    with LoopbackServer(fake.app) as srv:
        fake.url = srv.url + "/router/rest"  # type: ignore[attr-defined]
        yield fake


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def taobao_body(top: FakeTop, **kw: Any) -> dict[str, Any]:
    return {"kind": "taobao", "settings": {"gateway_url": top.url, "app_key": top.app_key},  # type: ignore[attr-defined]
            "secrets": {"app_secret": top.app_secret, "session": top.session}, "events_secret": EVENTS_SECRET, **kw}


def post_event(client: TestClient, body: Any, *, shop: str = "acme", secret: str = EVENTS_SECRET,
               ts: int | None = None) -> Any:
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(ts if ts is not None else int(NOW.timestamp()))
    return client.post("/v1/orders/events", content=raw, headers={
        "Content-Type": "application/json", "X-Replydesk-Shop": shop, "X-Replydesk-Timestamp": stamp,
        "X-Replydesk-Signature": sign_event(secret, stamp, raw)})


def test_admin_connects_a_source_and_never_sees_a_secret_again(client, keys, top) -> None:
    r = client.put("/v1/shop/order-source", json=taobao_body(top), headers=h(keys["admin"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "taobao" and body["secrets_set"] == ["app_secret", "session"]
    assert body["events_secret_set"] is True
    assert top.app_secret not in r.text and top.session not in r.text and EVENTS_SECRET not in r.text
    # Changing the URL alone keeps the credentials (write-only: left out = kept).
    again = client.put("/v1/shop/order-source", json={"kind": "taobao", "settings": {
        "gateway_url": top.url, "app_key": top.app_key, "sign_method": "hmac"}}, headers=h(keys["admin"]))  # type: ignore[attr-defined]
    assert again.status_code == 200 and again.json()["secrets_set"] == ["app_secret", "session"]
    assert client.put("/v1/shop/order-source", json=taobao_body(top), headers=h(keys["manager"])).status_code == 403
    bad = client.put("/v1/shop/order-source", json={"kind": "http", "settings": {"url": "ftp://x"}},
                     headers=h(keys["admin"]))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "settings.url"
    checked = client.post("/v1/shop/order-source/check", json={"order_id": TID}, headers=h(keys["admin"]))
    assert checked.status_code == 200 and checked.json()["facts"]["status"] == "SELLER_CONSIGNED_PART"
    assert checked.json()["mapping"]


def test_a_missing_secret_key_is_a_clear_error(client, keys, top, container, monkeypatch) -> None:
    from knowledge.sources.secretbox import SecretBox

    monkeypatch.setattr(container.sources.configs, "box", SecretBox(None))
    r = client.put("/v1/shop/order-source", json=taobao_body(top), headers=h(keys["admin"]))
    assert r.status_code == 503 and "REPLYDESK_SECRET_KEY is not set" in r.json()["error"]["message"]


def test_pushed_events_are_signed_idempotent_and_reach_the_next_draft(client, keys, top, container, clock) -> None:
    assert client.put("/v1/shop/order-source", json=taobao_body(top), headers=h(keys["admin"])).status_code == 200
    d1 = client.post("/v1/drafts", json={"order_id": TID, "message": "发货了吗"}, headers=h(keys["agent"])).json()
    assert d1["facts"]["status"] == "SELLER_CONSIGNED_PART"
    calls = top.count("taobao.trade.fullinfo.get")
    facts = dict(d1["facts"], status="WAIT_BUYER_CONFIRM_GOODS")
    facts["items"] = [dict(i, status="WAIT_BUYER_CONFIRM_GOODS") for i in facts["items"]]
    facts.pop("fetched_at")
    r = post_event(client, {"id": "evt-1", "order": facts, "occurred_at": NOW.isoformat()})
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "cached"
    assert post_event(client, {"id": "evt-1", "order": facts}).json()["results"][0]["result"] == "duplicate"
    d2 = client.post("/v1/drafts", json={"order_id": TID, "message": "发货了吗"}, headers=h(keys["agent"])).json()
    assert d2["facts"]["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert top.count("taobao.trade.fullinfo.get") == calls  # the push, not a new pull
    # A logistics message adds its step to the matching parcel.
    step = {"id": "tmc-77", "topic": "taobao_logistics_LogsticDetailTrace", "pub_time": "2026-11-12 10:59:00",
            "content": json.dumps({"tid": int(TID), "out_sid": "78812345678901", "company_name": "中通快递",
                                   "action": "ARRIVAL", "desc": "【上海转运中心】已到达", "time": "2026-11-12 10:58:00"},
                                  ensure_ascii=False)}
    assert post_event(client, step).json()["results"][0]["result"] == "cached"
    d3 = client.post("/v1/drafts", json={"order_id": TID, "message": "到哪了"}, headers=h(keys["agent"])).json()
    assert d3["facts"]["shipments"][0]["events"][-1]["desc"] == "【上海转运中心】已到达"
    # A trade message drops the cached facts: the next draft reads the order again.
    msg = {"id": 9001, "topic": "taobao_trade_TradeSuccess", "pub_time": "2026-11-12 10:59:30",
           "content": {"tid": int(TID), "status": "TRADE_FINISHED", "buyer_nick": "t**3"}}
    assert post_event(client, msg).json()["results"][0]["result"] == "invalidated"
    client.post("/v1/drafts", json={"order_id": TID, "message": "发货了吗"}, headers=h(keys["agent"]))
    assert top.count("taobao.trade.fullinfo.get") == calls + 1


def test_event_refusals(client, keys, top) -> None:
    client.put("/v1/shop/order-source", json=taobao_body(top), headers=h(keys["admin"]))
    good = {"id": "e1", "order": {"order_id": TID, "status": "WAIT_BUYER_CONFIRM_GOODS"}}
    assert post_event(client, good, secret="wrong-secret-wrong-secret").status_code == 401
    assert post_event(client, good, shop="nosuchshop").status_code == 401
    assert post_event(client, good, ts=int(NOW.timestamp()) - 3600).status_code == 401
    r = post_event(client, {"id": "e2", "order": {"order_id": TID, "paid_at": "yesterday"}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "order.paid_at"
    r = post_event(client, {"order": {"order_id": TID}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "id"
    r = post_event(client, {"id": "e3", "topic": "taobao_trade_TradeSuccess", "content": "{not json"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "content"


def test_readyz_and_metrics_report_the_sources(client, keys, top) -> None:
    client.put("/v1/shop/order-source", json=taobao_body(top), headers=h(keys["admin"]))
    client.post("/v1/drafts", json={"order_id": TID, "message": "发货了吗"}, headers=h(keys["agent"]))
    client.post("/v1/drafts", json={"order_id": TID, "message": "发货了吗"}, headers=h(keys["agent"]))
    top.behaviour.then("invalid_session")
    client.post("/v1/shop/order-source/check", json={"order_id": TID}, headers=h(keys["admin"]))
    ready = client.get("/readyz").json()
    src = next(s for s in ready["order_sources"] if s["shop_id"] == "acme")
    assert src["kind"] == "taobao" and src["last_success_at"] and src["last_error_code"] == "top:27:invalid-sessionkey"
    m = client.get("/metrics").text
    assert 'replydesk_order_upstream_calls_total{api="taobao.trade.fullinfo.get",kind="taobao"}' in m
    assert 'replydesk_order_upstream_errors_total{code="top:27:invalid-sessionkey",kind="taobao"} 1.0' in m
    assert 'replydesk_order_cache_total{kind="taobao",result="hit"} 1.0' in m
    assert "replydesk_order_upstream_seconds_bucket" in m


def test_a_full_session_never_shows_a_secret(client, keys, top, container, env, tmp_path, caplog) -> None:
    """Logs, exports, API answers and error bodies of a session that uses every credential."""
    caplog.set_level(logging.DEBUG)
    shop_api = FakeShopEndpoint(hmac_secret="shop-hmac-secret-7q7q7q7q")
    texts: list[str] = []
    secrets = [top.app_secret, top.session, EVENTS_SECRET, shop_api.hmac_secret, env["REPLYDESK_SECRET_KEY"]]
    with LoopbackServer(shop_api.app) as srv:
        shop_api.bodies["A1"] = {"order_id": "A1", "status": "WAIT_SELLER_SEND_GOODS", "paid_at": NOW.isoformat()}
        A, M = h(keys["admin"]), h(keys["agent"])
        calls: list[Any] = [
            client.put("/v1/shop/order-source", json=taobao_body(top), headers=A),
            client.get("/v1/shop/order-source", headers=A),
            client.post("/v1/shop/order-source/check", json={"order_id": TID}, headers=A),
            client.post("/v1/drafts", json={"order_id": TID, "message": "发货了吗"}, headers=M),
            client.get(f"/v1/orders/{TID}", headers=M),
        ]
        top.behaviour.always("invalid_session")
        calls += [client.post("/v1/shop/order-source/check", json={"order_id": TID}, headers=A),
                  client.post("/v1/drafts", json={"order_id": "3961234567890999", "message": "发货了吗"}, headers=M)]
        top.behaviour.always(None)
        calls.append(client.put("/v1/shop/order-source", json={**taobao_body(top), "secrets": {
            "app_secret": top.app_secret + "-wrong"}}, headers=A))
        secrets.append(top.app_secret + "-wrong")
        calls.append(client.post("/v1/shop/order-source/check", json={"order_id": TID}, headers=A))
        calls.append(client.put("/v1/shop/order-source", json={"kind": "http", "settings": {"url": srv.url + "/orders"},
                                                               "secrets": {"hmac_secret": shop_api.hmac_secret}},
                                headers=A))
        calls += [client.post("/v1/shop/order-source/check", json={"order_id": "A1"}, headers=A),
                  client.post("/v1/drafts", json={"order_id": "A1", "message": "今天能发吗"}, headers=M),
                  post_event(client, {"id": "e1", "order": {"order_id": "A1", "status": "WAIT_SELLER_SEND_GOODS"}}),
                  post_event(client, {"id": "e2", "order": {}}, secret="x" * 20),
                  client.put("/v1/shop/order-source", json={"kind": "http", "settings": {"url": "nope"},
                                                            "secrets": {"hmac_secret": "leak-me-if-you-can-123"}},
                             headers=A),
                  client.get("/readyz"), client.get("/metrics"),
                  client.get("/v1/feedback/export", headers=h(keys["manager"])),
                  client.get("/v1/drafts?status=all", headers=M)]
        secrets.append("leak-me-if-you-can-123")
        texts += [f"{r.status_code} {r.headers} {r.text}" for r in calls]
        assert {r.status_code for r in calls} >= {200, 201, 401, 422, 503}
        runner = CliRunner()
        for args in (["orders", "connect", "--shop", "other", "--source", "http", "--url", srv.url + "/orders",
                      "--hmac-secret", shop_api.hmac_secret, "--events-secret", EVENTS_SECRET],
                     ["orders", "check", "--shop", "other", "A1"], ["shops", "list"],
                     ["orders", "connect", "--shop", "other", "--source", "taobao", "--app-key", "k",
                      "--app-secret", "cli-secret-zzzz", "--gateway", top.url]):  # type: ignore[attr-defined]
            from api.cli import app as cli

            res = runner.invoke(cli, args, env=env)
            texts.append(res.output)
        secrets.append("cli-secret-zzzz")
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    with container.engine.connect() as conn:
        for table in ("order_sources", "order_cache", "order_events", "drafts", "feedback_events"):
            texts += [json.dumps([str(v) for v in row], ensure_ascii=False)
                      for row in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    blob = "\n".join(texts)
    assert TID in blob and "A1" in blob  # the session did happen
    leaked = [s for s in secrets if s and s in blob]
    assert leaked == [], f"secrets found: {[s[:4] + '…' for s in leaked]}"
    time.sleep(0)  # keep the session's servers up until every call is done


def test_shops_cli_creates_and_lists_shops(env, tmp_path) -> None:
    from api.cli import app as cli

    runner = CliRunner()
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"timezone": "Asia/Shanghai", "daily_cutoff": "17:00",
                                    "default_carriers": ["中通快递"]}), encoding="utf-8")
    r = runner.invoke(cli, ["shops", "create", "newshop", "--name", "新店", "--settings", str(settings)], env=env)
    assert r.exit_code == 0, r.output
    assert "created shop newshop" in r.output
    assert runner.invoke(cli, ["shops", "create", "newshop"], env=env).exit_code == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"daily_cutoff": "25:99"}), encoding="utf-8")
    r = runner.invoke(cli, ["shops", "create", "badshop", "--settings", str(bad)], env=env)
    assert r.exit_code == 2 and "daily_cutoff" in r.output
    key = runner.invoke(cli, ["keys", "create", "--shop", "newshop", "--role", "admin"], env=env)
    assert key.exit_code == 0 and key.output.strip().splitlines()[-1].startswith("rdk_")
    listed = runner.invoke(cli, ["shops", "list"], env=env).output
    assert "newshop\t新店\tsettings rev 1\torders: store" in listed
    r = runner.invoke(cli, ["orders", "connect", "--shop", "newshop", "--source", "http"], env=env)
    assert r.exit_code == 2 and "--url" in r.output
    no_key = {**env, "REPLYDESK_SECRET_KEY": ""}
    r = runner.invoke(cli, ["orders", "connect", "--shop", "newshop", "--source", "http", "--url",
                            "http://127.0.0.1:9/o", "--hmac-secret", "abcdefabcdefabcdef"], env=no_key)
    assert r.exit_code == 1 and "REPLYDESK_SECRET_KEY is not set" in r.output
