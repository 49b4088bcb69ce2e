"""Idempotency-Key: a retried POST answers as the first one did and acts once."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.api.conftest import auth


def test_retried_draft_creation_and_decision_act_once(client: TestClient, demo: dict[str, str]) -> None:
    h = {**auth(demo["agent"]), "Idempotency-Key": "req-1"}
    body = {"order_id": "T1006", "message": "发货了吗"}
    first = client.post("/v1/drafts", json=body, headers=h)
    again = client.post("/v1/drafts", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.headers.get("idempotent-replayed") == "true"
    other = client.post("/v1/drafts", json={**body, "message": "单号"}, headers=h)
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    # the same idempotency key under another API key is a different request
    twin = client.post("/v1/drafts", json={"order_id": "T1004", "message": "发货了吗"},
                       headers={**auth(demo["admin"]), "Idempotency-Key": "req-1"})
    assert twin.status_code == 201 and twin.json()["id"] != first.json()["id"]

    d = first.json()["id"]
    hd = {**auth(demo["agent"]), "Idempotency-Key": "decide-1"}
    r1 = client.post(f"/v1/drafts/{d}/reject", json={"reason": "wrong_tone"}, headers=hd)
    r2 = client.post(f"/v1/drafts/{d}/reject", json={"reason": "wrong_tone"}, headers=hd)
    assert r1.json() == r2.json() and r1.json()["event"] == "rejected"
    events = [json.loads(x)["event"] for x in
              client.get("/v1/feedback/export", headers=auth(demo["manager"])).text.splitlines()]
    assert events.count("draft_created") == 2 and events.count("rejected") == 1
    assert client.post("/v1/drafts", json=body, headers={**auth(demo["agent"]), "Idempotency-Key": ""}).status_code == 422
