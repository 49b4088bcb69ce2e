"""Drafts over HTTP: create, read, the order's live status, and bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import auth


def test_draft_is_created_pending_and_can_be_read_back(client: TestClient, demo: dict[str, str]) -> None:
    r = client.post("/v1/drafts", json={"order_id": "T1006", "message": "发货了吗？单号多少"}, headers=auth(demo["agent"]))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("d_") and body["status"] == "pending"
    assert "78812345678901" in body["text"] and body["guard"]["ok"]
    assert body["facts"]["order_id"] == "T1006" and body["prompt"]["hash"].startswith("sha256:")
    assert set(body["timings_ms"]) >= {"intent", "facts", "situation", "retrieve", "compose", "guard", "total"}
    assert any(c["kind"] == "policy" and c["revision"] >= 1 for c in body["citations"])
    got = client.get(f"/v1/drafts/{body['id']}", headers=auth(demo["agent"]))
    assert got.status_code == 200 and got.json() == body


def test_unknown_order_is_answered_honestly_not_as_an_error(client: TestClient, demo: dict[str, str]) -> None:
    r = client.post("/v1/drafts", json={"order_id": "NOPE-1", "message": "什么时候发货"}, headers=auth(demo["agent"]))
    assert r.status_code == 201
    body = r.json()
    assert body["order_error"] == "not_found" and body["facts"] is None
    assert "核对" in body["text"] and body["commitments"] == []
    # Someone must look before the buyer hears anything about an order the shop cannot find.
    assert body["needs_human"] is True and "order number" in body["human_reason"]


def test_order_ids_are_read_as_the_source_spells_them(client: TestClient, demo: dict[str, str]) -> None:
    h = auth(demo["agent"])
    exact = client.post("/v1/drafts", json={"order_id": "T1003", "message": "怎么还不发货"}, headers=h).json()
    for typed in ("t1003", " Ｔ１００３ "):
        r = client.post("/v1/drafts", json={"order_id": typed, "message": "怎么还不发货"}, headers=h)
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["order_id"] == "T1003" and got["order_error"] is None and got["facts"]["order_id"] == "T1003"
        assert got["text"] == exact["text"] and got["needs_human"] is False
    # The same conversation: the newest draft superseded the older ones of the same order.
    pending = client.get("/v1/drafts", params={"status": "pending"}, headers=h).json()["items"]
    assert [d["order_id"] for d in pending].count("T1003") == 1


def test_order_update_is_live(client: TestClient, demo: dict[str, str]) -> None:
    msg = {"order_id": "T1003", "message": "怎么还不发货"}
    before = client.post("/v1/drafts", json=msg, headers=auth(demo["agent"])).json()
    assert "抱歉" in before["text"] and "78800000000001" not in before["text"]
    coupon = next(a for a in before["actions"] if a["kind"] == "coupon")
    assert coupon["amount_yuan"] == 3 and coupon["needs_approval"] is True
    patch = {"status": "WAIT_BUYER_CONFIRM_GOODS", "shipments": [{
        "carrier": "中通快递", "tracking_no": "78800000000001", "shipped_at": "2026-11-12T10:00:00+08:00",
        "events": [{"at": "2026-11-12T10:30:00+08:00", "desc": "已揽收"}]}]}
    assert client.patch("/v1/orders/T1003", json=patch, headers=auth(demo["agent"])).status_code == 403
    r = client.patch("/v1/orders/T1003", json=patch, headers=auth(demo["manager"]))
    assert r.status_code == 200, r.text
    after = client.post("/v1/drafts", json=msg, headers=auth(demo["agent"])).json()
    assert "78800000000001" in after["text"] and "78800000000001" not in before["text"]


def test_a_malformed_status_is_a_422_and_the_order_is_kept(client: TestClient, demo: dict[str, str]) -> None:
    # Found by schemathesis: a list where a status belongs raised inside the validator (a 500).
    h = auth(demo["manager"])
    before = client.get("/v1/orders/T1001", headers=h).json()
    for body in ({"order_id": "T1001", "items": [{"status": []}]}, {"order_id": "T1001", "status": {"a": 1}}):
        r = client.put("/v1/orders/T1001", json=body, headers=h)
        assert r.status_code == 422, r.text
    assert client.get("/v1/orders/T1001", headers=h).json() == before


def test_another_shops_draft_is_404(client: TestClient, demo: dict[str, str]) -> None:
    d = client.post("/v1/drafts", json={"order_id": "T1001", "message": "今天能发吗"}, headers=auth(demo["agent"])).json()
    r = client.get(f"/v1/drafts/{d['id']}", headers=auth(demo["other-agent"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # and the other shop cannot see this shop's orders either
    assert client.get("/v1/orders/T1001", headers=auth(demo["other-agent"])).status_code == 404


def test_bad_input_gets_clear_4xx(client: TestClient, demo: dict[str, str]) -> None:
    h = auth(demo["agent"])
    r = client.post("/v1/drafts", json={"order_id": "T1", "message": "x" * 2001}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "message"
    r = client.post("/v1/drafts", json={"order_id": "T1", "message": "hi", "context": [{"role": "buyer", "text": "a"}] * 21},
                    headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "context"
    r = client.post("/v1/drafts", content=b'{"order_id": "T1", "message": ', headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = client.post("/v1/drafts", json={"order_id": "T1", "message": "hi", "surprise": 1}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "surprise"
    r = client.post("/v1/drafts", json={"order_id": 5, "message": ["no"]}, headers=h)
    assert r.status_code == 422
    r = client.post("/v1/drafts", content=b'{"order_id": "T1", "message": "\xff\xfe"}', headers={**h, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    big = b'{"order_id": "T1", "message": "' + b"a" * 1_100_000 + b'"}'
    r = client.post("/v1/drafts", content=big, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert r.headers["x-request-id"]
    # The same body sent chunked (no Content-Length): still a 413, not a parser's 400.
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))
    r = client.post("/v1/drafts", content=chunks, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text
    # A message (or order id) of only whitespace says nothing: 422 naming the field.
    for field, body in (("message", {"order_id": "T1003", "message": " \u3000\n\t "}),
                        ("order_id", {"order_id": "   ", "message": "还不发货？"})):
        r = client.post("/v1/drafts", json=body, headers=h)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_auth_errors(client: TestClient, demo: dict[str, str]) -> None:
    body = {"order_id": "T1001", "message": "今天能发吗"}
    assert client.post("/v1/drafts", json=body).status_code == 401
    assert client.post("/v1/drafts", json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    r = client.post("/v1/drafts", json=body, headers=auth("rdk_not-a-key"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok" and r.json()["checks"]["index"] == "ok"


def test_cors_is_off_by_default_and_allow_listed_when_set(tmp_path, clock) -> None:
    from api.app import create_app
    from api.container import Container
    from core.settings import Settings

    pre = {"Origin": "chrome-extension://abcdefghijklmnopabcdefghijklmnop", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    for origins, allowed in (([], False), (["chrome-extension://abcdefghijklmnopabcdefghijklmnop"], True)):
        c = Container.build(Settings(data_dir=tmp_path / str(allowed), cors_origins=origins), clock=clock,
                            with_index=False)
        with TestClient(create_app(Settings(cors_origins=origins), container=c)) as client:
            r = client.options("/v1/drafts", headers=pre)
            assert (r.headers.get("access-control-allow-origin") == pre["Origin"]) is allowed
            other = client.options("/v1/drafts", headers={**pre, "Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers
        c.close()
