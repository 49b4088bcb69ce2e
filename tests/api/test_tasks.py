"""Issue 18 through the API: approving a draft carries out its accepted actions.

Against the fakes on loopback: the Taobao gateway (``taobao.trade.memo.update``, signature verified
by the fake) and a shop's own system receiving signed webhooks; with no integration a task stays open
for a person (/v1/tasks). Compensation waits for a manager; the limit is enforced by the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from core.clock import FixedClock
from core.settings import Settings
from knowledge.orders import OrderFacts
from knowledge.shop_settings import ShopSettings
from knowledge.sources.secretbox import new_key
from tests.fakes.server import LoopbackServer
from tests.fakes.top_gateway import FakeTop
from tests.fakes.webhook_receiver import WebhookReceiver

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)
TID = "3961234500000018"
HOOK_SECRET = "whsec-acme-0123456789"
SETTINGS = ShopSettings.model_validate({"compensation": {"coupon_yuan_max": 3, "needs_approval": True,
                                                         "gift": "小礼品"}})


def overdue(order_id: str) -> dict[str, Any]:
    paid = NOW - timedelta(days=4)
    return {"order_id": order_id, "status": "WAIT_SELLER_SEND_GOODS", "paid_at": paid.isoformat(),
            "promised_ship_by": (paid + timedelta(hours=48)).isoformat(),
            "items": [{"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock"}],
            "amount": 39.0}


@pytest.fixture
def container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    for k, v in {"REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_SECRET_KEY": new_key(),
                 "REPLYDESK_RATE_LIMIT_PER_MIN": "0", "REPLYDESK_ORDER_CACHE_BACKEND": "database"}.items():
        monkeypatch.setenv(k, v)
    c = Container.build(Settings(), clock=FixedClock(NOW), with_index=False)
    c.shops.ensure("acme", name="Acme", settings=SETTINGS)
    c.shops.ensure("other", name="Other", settings=SETTINGS)
    c.orders.put("acme", OrderFacts.model_validate(overdue("T18")))
    c.orders.put("acme", OrderFacts.model_validate(overdue("T19")))
    assert c.desk is not None
    c.desk.sleep = lambda s: None  # retries do not wait in tests
    yield c
    c.close()


@pytest.fixture
def keys(container: Container) -> dict[str, str]:
    out = {}
    for role in ("agent", "manager", "admin"):
        _, out[role] = container.keys.create("acme", role)
        _, out[f"other-{role}"] = container.keys.create("other", role)
    return out


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container)) as c:
        yield c


def h(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def draft(client: TestClient, key: str, order_id: str = "T18", message: str = "都四天了怎么还不发货？") -> dict:
    r = client.post("/v1/drafts", json={"order_id": order_id, "message": message}, headers=h(key))
    assert r.status_code == 201, r.text
    return r.json()


def flagged(r: Any) -> set[str]:
    """The kinds the claim check flags in a refused approval (409 override_required, as the review page gets it)."""
    assert r.status_code == 409 and r.json()["error"]["code"] == "override_required", r.text
    return {v["kind"] for v in r.json()["error"]["details"]}


def index_of(d: dict, kind: str) -> int:
    return next(i for i, a in enumerate(d["actions"]) if a["kind"] == kind)


def test_the_draft_says_what_will_happen_and_approving_leaves_a_task_open_for_a_person(client, keys) -> None:
    d = draft(client, keys["agent"])
    kinds = [a["kind"] for a in d["actions"]]
    assert "priority" in kinds and "coupon" in kinds, kinds
    assert "已经帮您" not in d["text"] and "我已经" not in d["text"], d["text"]  # nothing is done yet
    assert d["guard"]["ok"], d["guard"]
    body = {"actions": [{"index": index_of(d, "priority")}, {"index": index_of(d, "coupon")}]}
    r = client.post(f"/v1/drafts/{d['id']}/approve", json=body, headers=h(keys["agent"], **{"Idempotency-Key": "a1"}))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [(t["kind"], t["executor"], t["status"]) for t in out["tasks"]] == [("priority", "manual", "open")]
    assert [(a["kind"], a["amount_yuan"], a["status"], a["cause"]) for a in out["approvals"]] == [
        ("coupon", 3.0, "pending", "overdue")]
    # Retried (same key, and without one): the same outcome, nothing made twice.
    again = client.post(f"/v1/drafts/{d['id']}/approve", json=body, headers=h(keys["agent"], **{"Idempotency-Key": "a1"}))
    assert again.json()["tasks"][0]["id"] == out["tasks"][0]["id"]
    plain = client.post(f"/v1/drafts/{d['id']}/approve", json=body, headers=h(keys["agent"]))
    assert plain.status_code == 200 and plain.json()["event"] is None
    listed = client.get("/v1/tasks?status=open", headers=h(keys["agent"])).json()["items"]
    assert [t["id"] for t in listed] == [out["tasks"][0]["id"]]
    t = listed[0]
    assert t["facts"]["order_id"] == "T18" and t["facts"]["items"][0]["title"] == "陶瓷马克杯"
    assert [e["event"] for e in t["events"]] == ["created"] and t["events"][0]["actor"]
    assert len(client.get("/v1/approvals", headers=h(keys["agent"])).json()["items"]) == 1


def test_a_done_claim_needs_the_done_task(client, keys) -> None:
    d = draft(client, keys["agent"])
    client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "priority")}]},
                headers=h(keys["agent"]))
    claim = "亲，我已经帮您备注加急并转交仓库，有消息马上告诉您。"
    d2 = draft(client, keys["agent"], message="还没发吗")
    r = client.post(f"/v1/drafts/{d2['id']}/approve", json={"final_text": claim, "actions": []},
                    headers=h(keys["agent"]))
    assert "handoff_warehouse" in flagged(r)  # the task is open, not done
    assert client.post(f"/v1/drafts/{d2['id']}/check", json={"text": claim},
                       headers=h(keys["agent"])).json()["ok"] is False  # the as-you-type check agrees
    task = client.get("/v1/tasks", headers=h(keys["agent"])).json()["items"][0]
    done = client.post(f"/v1/tasks/{task['id']}/done", json={"note": "仓库已插旗"}, headers=h(keys["agent"]))
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert [e["event"] for e in done.json()["events"]] == ["created", "done"]
    d3 = draft(client, keys["agent"], message="还没发吗？？")
    r3 = client.post(f"/v1/drafts/{d3['id']}/approve", json={"final_text": claim, "actions": []},
                     headers=h(keys["agent"]))
    assert r3.status_code == 200 and r3.json()["warnings"] == [], r3.text
    # The next draft knows it too (the pipeline reads the done actions).
    assert client.get("/v1/tasks?status=open", headers=h(keys["agent"])).json()["items"] == []


def test_coupon_limit_and_bad_choices_are_4xx_and_leave_the_draft_pending(client, keys) -> None:
    d = draft(client, keys["agent"])
    c = index_of(d, "coupon")
    for body, field in (({"actions": [{"index": c, "amount_yuan": 50}]}, "actions.0.amount_yuan"),
                        ({"actions": [{"index": 20}]}, "actions.0.index"),
                        ({"actions": [{"index": c}, {"index": c}]}, "actions.1.index"),
                        ({"actions": [{"index": index_of(d, "priority"), "amount_yuan": 2}]}, "actions.0.amount_yuan")):
        r = client.post(f"/v1/drafts/{d['id']}/approve", json=body, headers=h(keys["agent"]))
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    assert client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": "x"}]},
                       headers=h(keys["agent"])).status_code == 422
    assert client.get(f"/v1/drafts/{d['id']}", headers=h(keys["agent"])).json()["status"] == "pending"
    ok = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": c, "amount_yuan": 2}]},
                     headers=h(keys["agent"]))
    assert ok.status_code == 200 and ok.json()["approvals"][0]["amount_yuan"] == 2


def test_a_manager_approves_or_declines_agents_cannot_and_shops_are_apart(client, keys, container) -> None:
    ids = []
    for oid in ("T18", "T19"):
        d = draft(client, keys["agent"], order_id=oid)
        r = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "coupon")}]},
                        headers=h(keys["agent"]))
        ids.append(r.json()["approvals"][0]["id"])
    a, b = ids
    assert client.post(f"/v1/approvals/{a}/approve", headers=h(keys["agent"])).status_code == 403
    assert client.post(f"/v1/approvals/{a}/approve", headers=h(keys["other-manager"])).status_code == 404
    assert client.get("/v1/approvals", headers=h(keys["other-agent"])).json()["items"] == []
    r = client.post(f"/v1/approvals/{a}/approve", headers=h(keys["manager"]))
    assert r.status_code == 200 and r.json()["event"] == "coupon_approved" and r.json()["approval"]["status"] == "approved"
    assert client.post(f"/v1/approvals/{a}/approve", headers=h(keys["manager"])).json()["event"] is None
    assert client.post(f"/v1/approvals/{a}/decline", json={"reason": "x"},
                       headers=h(keys["manager"])).status_code == 409
    assert client.post(f"/v1/approvals/{b}/decline", json={"reason": ""}, headers=h(keys["manager"])).status_code == 422
    dec = client.post(f"/v1/approvals/{b}/decline", json={"reason": "本周补偿已超预算"}, headers=h(keys["manager"]))
    assert dec.status_code == 200 and dec.json()["approval"]["decline_reason"] == "本周补偿已超预算"
    events = [e["event"] for e in container.feedback.events("acme")]
    assert events.count("coupon_requested") == 2 and "coupon_approved" in events and "coupon_declined" in events
    weekly = client.get("/v1/compensation/weekly", headers=h(keys["manager"])).json()["items"]
    assert weekly == [{"week": "2026-W46", "cause": "overdue", "kind": "coupon", "count": 1, "yuan": 3.0}]
    assert client.get("/v1/compensation/weekly", headers=h(keys["agent"])).status_code == 403
    # Approved is not yet given: a task to give the coupon is open; once it is done the reply may say so.
    give = [t for t in client.get("/v1/tasks", headers=h(keys["agent"])).json()["items"] if t["kind"] == "coupon"]
    assert [(t["order_id"], t["label"]) for t in give] == [("T18", "发放优惠券")]
    d = draft(client, keys["agent"], order_id="T18", message="补偿呢")
    early = client.post(f"/v1/drafts/{d['id']}/approve", json={"final_text": "已经给您发放了优惠券，请查收。",
                                                               "actions": []}, headers=h(keys["agent"]))
    assert "compensation_granted" in flagged(early)
    assert client.post(f"/v1/tasks/{give[0]['id']}/done", headers=h(keys["agent"])).status_code == 200
    d = draft(client, keys["agent"], order_id="T18", message="补偿到了吗")
    given = client.post(f"/v1/drafts/{d['id']}/approve", json={"final_text": "已经给您发放了优惠券，请查收。",
                                                               "actions": []}, headers=h(keys["agent"]))
    assert given.status_code == 200 and given.json()["warnings"] == [], given.text
    d = draft(client, keys["agent"], order_id="T19", message="补偿呢")
    given = client.post(f"/v1/drafts/{d['id']}/approve", json={"final_text": "已经给您发放了优惠券，请查收。",
                                                               "actions": []}, headers=h(keys["agent"]))
    assert "compensation_granted" in flagged(given)


def test_a_lowered_limit_is_enforced_at_approval(client, keys, container) -> None:
    d = draft(client, keys["agent"])
    aid = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "coupon")}]},
                      headers=h(keys["agent"])).json()["approvals"][0]["id"]
    r = client.put("/v1/shop/settings", json={"compensation": {"coupon_yuan_max": 1, "needs_approval": True}},
                   headers=h(keys["manager"]))
    assert r.status_code == 200, r.text
    refused = client.post(f"/v1/approvals/{aid}/approve", headers=h(keys["manager"]))
    assert refused.status_code == 422 and "limit" in refused.json()["error"]["message"]


def test_task_routes_answer_4xx_for_bad_input(client, keys) -> None:
    a = h(keys["agent"])
    assert client.get("/v1/tasks?status=bogus", headers=a).status_code == 422
    assert client.get("/v1/tasks?updated_since=2026-11-12T10:00:00", headers=a).status_code == 422
    assert client.get("/v1/tasks/t_nope", headers=a).status_code == 404
    assert client.post("/v1/tasks/t_nope/done", headers=a).status_code == 404
    assert client.post("/v1/approvals/c_nope/approve", headers=h(keys["manager"])).status_code == 404
    assert client.post("/v1/tasks/t_nope/done", json={"extra": 1}, headers=a).status_code == 422


# -- executors -------------------------------------------------------------------------------------------


@pytest.fixture
def top() -> Iterator[FakeTop]:
    fake = FakeTop()
    fake.load_facts(overdue(TID))
    with LoopbackServer(fake.app) as srv:
        fake.url = srv.url + "/router/rest"  # type: ignore[attr-defined]
        yield fake


def connect_taobao(client: TestClient, keys: dict[str, str], top: FakeTop, **settings: Any) -> None:
    r = client.put("/v1/shop/order-source", json={
        "kind": "taobao", "settings": {"gateway_url": top.url, "app_key": top.app_key, **settings},  # type: ignore[attr-defined]
        "secrets": {"app_secret": top.app_secret, "session": top.session}}, headers=h(keys["admin"]))
    assert r.status_code == 200, r.text


def test_priority_writes_the_taobao_memo_once_signed(client, keys, top) -> None:
    connect_taobao(client, keys, top)
    top.trades[TID]["seller_memo"] = "老客户，送小样"
    d = draft(client, keys["agent"], order_id=TID)
    r = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "priority")}]},
                    headers=h(keys["agent"]))
    task = r.json()["tasks"][0]
    assert (task["executor"], task["status"]) == ("taobao", "done"), task
    assert [e["event"] for e in task["events"]] == ["created", "sent", "done"]
    memo_calls = [c for c in top.calls if c["method"] == "taobao.trade.memo.update"]
    assert len(memo_calls) == 1 and memo_calls[0]["signature_ok"]
    memo = top.trades[TID]["seller_memo"]
    assert memo.startswith("老客户，送小样\n") and task["id"] in memo and "加急" in memo  # the old memo kept
    assert top.trades[TID]["seller_flag"] == 1
    metrics = client.get("/metrics").text
    assert 'replydesk_tasks_total{executor="taobao",kind="priority",outcome="done"} 1.0' in metrics
    # Approving again, and retrying the done task, write nothing more.
    client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "priority")}]},
                headers=h(keys["agent"]))
    assert client.post(f"/v1/tasks/{task['id']}/retry", headers=h(keys["agent"])).status_code == 409
    assert top.count("taobao.trade.memo.update") == 1


def test_a_failed_memo_is_visible_and_a_retry_writes_it_once(client, keys, top, container) -> None:
    connect_taobao(client, keys, top)
    d = draft(client, keys["agent"], order_id=TID)
    top.behaviour.always("invalid_session")
    r = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "priority")}]},
                    headers=h(keys["agent"]))
    task = r.json()["tasks"][0]
    assert task["status"] == "failed" and "session" in task["last_error"].lower(), task
    assert [t["id"] for t in client.get("/v1/tasks?status=failed", headers=h(keys["agent"])).json()["items"]] == [task["id"]]
    top.behaviour.always(None)
    # The memo was written but the answer was lost: the retry finds its marker and writes nothing.
    top.trades[TID]["seller_memo"] = f"[replydesk {task['id']}] 加急：overdue"
    again = client.post(f"/v1/tasks/{task['id']}/retry", headers=h(keys["agent"])).json()
    assert again["status"] == "done" and "already" in again["events"][-1]["detail"]
    assert [e["event"] for e in again["events"]] == ["created", "sent", "failed", "retried", "sent", "done"]
    assert top.count("taobao.trade.memo.update") == 0


def test_the_webhook_is_signed_retried_and_delivered_once(client, keys, top, container) -> None:
    rx = WebhookReceiver(HOOK_SECRET, now=NOW.timestamp(), fail_first=1)
    with LoopbackServer(rx.app) as srv:
        connect_taobao(client, keys, top, tasks_webhook_url=srv.url + "/hook")
        r = client.put("/v1/shop/order-source", json={
            "kind": "taobao", "settings": {"gateway_url": top.url, "app_key": top.app_key,  # type: ignore[attr-defined]
                                           "tasks_webhook_url": srv.url + "/hook"},
            "secrets": {"webhook_secret": HOOK_SECRET}}, headers=h(keys["admin"]))
        assert r.status_code == 200 and "webhook_secret" in r.json()["secrets_set"] and HOOK_SECRET not in r.text
        d = draft(client, keys["agent"], order_id=TID, message="能不能今天发顺丰？都四天了")
        body = {"actions": [{"index": i} for i, a in enumerate(d["actions"]) if a["kind"] in
                            ("priority", "forward_warehouse")]}
        assert len(body["actions"]) == 2, d["actions"]
        out = client.post(f"/v1/drafts/{d['id']}/approve", json=body, headers=h(keys["agent"])).json()
        assert [(t["executor"], t["status"]) for t in out["tasks"]] == [("webhook", "done")] * 2
        assert all(x["signature_ok"] for x in rx.requests)
        assert len(rx.requests) == 3  # one 503 retried with the same delivery id
        assert set(rx.processed) == {t["id"] for t in out["tasks"]}
        hook = rx.processed[out["tasks"][0]["id"]]
        assert hook["order_id"] == TID and hook["facts"]["items"][0]["title"] == "陶瓷马克杯"
        assert top.count("taobao.trade.memo.update") == 0  # the shop's own system takes them instead
        # A retried approval (same Idempotency-Key, or none) and a retry of a done task send nothing more.
        again = client.post(f"/v1/drafts/{d['id']}/approve", json=body, headers=h(keys["agent"]))
        assert again.status_code == 200 and again.json()["event"] is None
        assert client.post(f"/v1/tasks/{out['tasks'][0]['id']}/retry", headers=h(keys["agent"])).status_code == 409
        assert len(rx.requests) == 3 and len(rx.processed) == 2
    # The receiver is gone: the next task fails visibly, with its history.
    d = draft(client, keys["agent"], order_id=TID, message="还没发？")
    out = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "priority")}]},
                      headers=h(keys["agent"])).json()
    assert out["tasks"][0]["status"] == "failed" and "webhook failed after 3 attempt(s)" in out["tasks"][0]["last_error"]


def test_a_promised_step_left_unticked_is_flagged(client, keys) -> None:
    d = draft(client, keys["agent"])
    assert "我这就" in d["text"] and "申请" in d["text"], d["text"]
    r = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": []}, headers=h(keys["agent"]))
    assert r.status_code == 200, r.text
    kinds = [(w["kind"], w["reason"]) for w in r.json()["warnings"]]
    assert [k for k, _ in kinds] == ["promise_not_taken", "promise_not_taken"], kinds
    assert "warehouse" in kinds[0][1] and "compensation" in kinds[1][1]
    d2 = draft(client, keys["agent"], message="还没发？")
    take = [{"index": i} for i, a in enumerate(d2["actions"]) if a["kind"] in ("priority", "coupon")]
    assert client.post(f"/v1/drafts/{d2['id']}/approve", json={"actions": take},
                       headers=h(keys["agent"])).json()["warnings"] == []


def test_an_edit_saying_the_memo_is_written_is_true_once_it_is(client, keys, top) -> None:
    connect_taobao(client, keys, top)
    d = draft(client, keys["agent"], order_id=TID)
    text = "亲，我已经帮您备注加急，仓库会优先处理。"
    take = {"final_text": text, "actions": [{"index": index_of(d, "priority")}]}
    assert "handoff_warehouse" in flagged(client.post(f"/v1/drafts/{d['id']}/approve", json=take,
                                                      headers=h(keys["agent"])))  # not done yet: refused
    r = client.post(f"/v1/drafts/{d['id']}/approve", json={**take, "override_reason": "the memo is written now"},
                    headers=h(keys["agent"]))
    assert r.json()["tasks"][0]["status"] == "done"
    assert r.json()["warnings"] == []  # the memo was written before the reply went out
    top.behaviour.always("isp")
    d2 = draft(client, keys["agent"], order_id=TID, message="还没发？")
    r2 = client.post(f"/v1/drafts/{d2['id']}/approve", json={"final_text": "已经帮您联系快递了。", "actions": []},
                     headers=h(keys["agent"]))
    assert "handoff_courier" in flagged(r2)


def test_priority_appends_the_erp_remark_once_signed(client, keys) -> None:
    from tests.fakes.jushuitan import FakeJushuitan

    jst = FakeJushuitan()
    jst.load_facts(overdue("T1888"))
    jst.orders["T1888"][0]["remark"] = "仓库：易碎品，多包一层"
    with LoopbackServer(jst.app) as srv:
        r = client.put("/v1/shop/order-source", json={
            "kind": "jushuitan", "settings": {"base_url": srv.url, "app_key": jst.app_key},
            "secrets": {"app_secret": jst.app_secret, "access_token": jst.access_token,
                        "refresh_token": jst.refresh_token}}, headers=h(keys["admin"]))
        assert r.status_code == 200, r.text
        d = draft(client, keys["agent"], order_id="T1888")
        out = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": [{"index": index_of(d, "priority")}]},
                          headers=h(keys["agent"])).json()
        task = out["tasks"][0]
        assert (task["executor"], task["status"]) == ("jushuitan", "done"), task
        assert [w["is_append"] for w in jst.remark_writes] == [True]
        remark = jst.orders["T1888"][0]["remark"]
        assert remark.startswith("仓库：易碎品，多包一层") and task["id"] in remark and "加急" in remark
        assert all(c["signature_ok"] for c in jst.calls if c["path"].endswith("remark/upload"))
        # The answer was lost and the task is sent again: the marker in the remark stops a second write.
        from core.tables import tasks as tasks_table

        with client.app.state.container.engine.begin() as conn:
            conn.execute(tasks_table.update().where(tasks_table.c.id == task["id"]).values(status="failed"))
        assert client.post(f"/v1/tasks/{task['id']}/retry", headers=h(keys["agent"])).json()["status"] == "done"
        assert len(jst.remark_writes) == 1
        # Everything shipped: nothing left to flag, and the task says so.
        shipped = dict(overdue("T1889"), status="WAIT_BUYER_CONFIRM_GOODS", shipments=[{
            "carrier": "中通快递", "tracking_no": "78812345678901", "shipped_at": NOW.isoformat(),
            "item_skus": ["MUG-01"], "events": []}])
        jst.load_facts(shipped)
        d2 = draft(client, keys["agent"], order_id="T1889", message="能改地址吗")
        take = [{"index": i} for i, a in enumerate(d2["actions"]) if a["kind"] == "forward_warehouse"]
        assert take, d2["actions"]
        t2 = client.post(f"/v1/drafts/{d2['id']}/approve", json={"actions": take},
                         headers=h(keys["agent"])).json()["tasks"][0]
        assert t2["status"] == "failed" and "shipped" in t2["last_error"]
