"""Decisions, the queue, stats, export and /metrics over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import auth, build_container, seed_everything


def _draft(client: TestClient, key: str, order_id: str, message: str = "怎么还不发货") -> dict:
    r = client.post("/v1/drafts", json={"order_id": order_id, "message": message}, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def test_queue_decisions_stats_export(client: TestClient, demo: dict[str, str], clock) -> None:
    _review_flow(client, demo, clock)


def test_the_same_flow_on_postgresql(pg_schema_url: str, tmp_path, clock, embedder) -> None:
    from api.app import create_app
    from core.settings import Settings

    c = build_container(Settings(data_dir=tmp_path / "pg", database_url=pg_schema_url), clock, embedder)
    keys = seed_everything(c)
    with TestClient(create_app(container=c)) as client:
        _review_flow(client, keys, clock)
    c.close()


def _review_flow(client: TestClient, demo: dict[str, str], clock) -> None:
    a = demo["agent"]
    ids = []
    for oid in ("T1001", "T1004", "T1006", "T1007"):
        ids.append(_draft(client, a, oid)["id"])
        clock.advance(seconds=10)
    page = client.get("/v1/drafts?status=pending&limit=3", headers=auth(a)).json()
    assert [i["id"] for i in page["items"]] == ids[::-1][:3] and page["next_cursor"]
    rest = client.get(f"/v1/drafts?status=pending&limit=3&cursor={page['next_cursor']}", headers=auth(a)).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert page["items"][0]["message"] == "怎么还不发货" and page["items"][0]["order_id"] == "T1007"

    r = client.post(f"/v1/drafts/{ids[0]}/approve", headers=auth(a))
    assert r.status_code == 200 and r.json()["event"] == "approved"
    assert client.post(f"/v1/drafts/{ids[0]}/approve", json={}, headers=auth(a)).json()["event"] is None
    text = client.get(f"/v1/drafts/{ids[1]}", headers=auth(a)).json()["text"]
    r = client.post(f"/v1/drafts/{ids[1]}/approve", json={"final_text": text + "明天一定到！"}, headers=auth(a))
    assert r.status_code == 409 and r.json()["error"]["code"] == "override_required"
    assert r.json()["error"]["field"] == "override_reason"
    assert any(v["kind"] == "delivery_date" for v in r.json()["error"]["details"])
    r = client.post(f"/v1/drafts/{ids[1]}/check", json={"text": text + "明天一定到！"}, headers=auth(a))
    assert r.status_code == 200 and r.json()["ok"] is False
    v = next(v for v in r.json()["violations"] if v["kind"] == "delivery_date")
    assert (text + "明天一定到！")[v["start"]:v["end"]] == v["text"]
    assert client.post(f"/v1/drafts/{ids[1]}/check", json={"text": text}, headers=auth(a)).json()["ok"] is True
    assert client.post(f"/v1/drafts/{ids[1]}/check", json={}, headers=auth(a)).status_code == 422
    r = client.post(f"/v1/drafts/{ids[1]}/approve", json={"final_text": text + "明天一定到！",
                                                         "override_reason": "已和仓库电话确认"}, headers=auth(a))
    assert r.json()["event"] == "edited" and any(w["kind"] == "delivery_date" for w in r.json()["warnings"])
    assert r.json()["draft"]["final_guard"]["ok"] is False
    assert r.json()["draft"]["override_reason"] == "已和仓库电话确认"
    r = client.post(f"/v1/drafts/{ids[2]}/reject", json={"reason": "wrong_tone", "note": "太长"}, headers=auth(a))
    assert r.status_code == 200 and r.json()["draft"]["status"] == "rejected"

    # illegal transitions and bad bodies
    r = client.post(f"/v1/drafts/{ids[2]}/approve", headers=auth(a))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert client.post(f"/v1/drafts/{ids[3]}/reject", json={"reason": "meh"}, headers=auth(a)).status_code == 422
    assert client.post(f"/v1/drafts/{ids[3]}/sent", headers=auth(a)).status_code == 409
    assert client.post("/v1/drafts/d_nope/approve", headers=auth(a)).status_code == 404
    assert client.post(f"/v1/drafts/{ids[0]}/approve", headers=auth(demo["other-agent"])).status_code == 404
    assert client.get("/v1/drafts?cursor=garbage", headers=auth(a)).status_code == 422
    assert client.post(f"/v1/drafts/{ids[0]}/inserted", headers=auth(a)).json()["event"] == "inserted"
    assert client.post(f"/v1/drafts/{ids[0]}/sent", headers=auth(a)).json()["draft"]["status"] == "sent"

    assert client.get("/v1/feedback/stats", headers=auth(a)).status_code == 403
    s = client.get("/v1/feedback/stats", headers=auth(demo["manager"])).json()
    assert (s["total_drafts"], s["approved"], s["edited"], s["rejected"]) == (4, 1, 1, 1)
    assert s["rejection_reasons"] == {"wrong_tone": 1}
    r = client.get("/v1/feedback/export", headers=auth(demo["manager"]))
    assert r.headers["content-type"].startswith("application/x-ndjson")
    events = [json.loads(line) for line in r.text.splitlines()]
    assert [e["event"] for e in events] == ["draft_created"] * 4 + ["approved", "edited", "rejected", "inserted", "sent"]
    assert all(e["prompt"]["hash"].startswith("sha256:") for e in events)
    edited = next(e for e in events if e["event"] == "edited")
    assert edited["final_check"]["ok"] is False and edited["override"]["reason"] == "已和仓库电话确认"
    assert next(e for e in events if e["event"] == "approved")["final_check"]["ok"] is True
    other = client.get("/v1/feedback/export", headers=auth(demo["other-manager"])).text
    assert other == ""

    m = client.get("/metrics").text
    assert 'replydesk_decisions_total{event="edited"} 1.0' in m
    assert "replydesk_drafts_total" in m and "replydesk_draft_step_seconds_bucket" in m


def test_the_desk_waiting_order_history_undo_and_refusal(client: TestClient, demo: dict[str, str], clock) -> None:
    a, m = auth(demo["agent"]), auth(demo["manager"])
    desk = client.get("/v1/shop/desk", headers=a).json()
    assert desk["role"] == "agent" and desk["timezone"] and desk["response_target_s"] == 60
    assert client.get("/v1/shop/desk", headers=m).json()["role"] == "manager"

    # Waiting order: by when the buyer's message arrived, not by when the draft was made.
    now = clock.now()
    made = {}
    for order_id, waited in (("T1001", 30), ("T1004", 300), ("T1006", 5)):
        r = client.post("/v1/drafts", json={"order_id": order_id, "message": "怎么还不发货",
                                            "received_at": (now - timedelta(seconds=waited)).isoformat()}, headers=a)
        assert r.status_code == 201, r.text
        made[order_id] = r.json()
        clock.advance(seconds=1)
    waiting = client.get("/v1/drafts", params={"status": "pending", "sort": "waiting", "limit": 2}, headers=a).json()
    assert [d["order_id"] for d in waiting["items"]] == ["T1004", "T1001"]
    rest = client.get("/v1/drafts", params={"status": "pending", "sort": "waiting", "cursor": waiting["next_cursor"]},
                      headers=a).json()
    assert [d["order_id"] for d in rest["items"]] == ["T1006"] and rest["next_cursor"] is None
    assert client.get("/v1/drafts", params={"sort": "oldest"}, headers=a).status_code == 422

    # History, newest decision first; undo while unsent brings a draft back, not after it is sent.
    for oid in ("T1001", "T1006"):
        assert client.post(f"/v1/drafts/{made[oid]['id']}/approve", json={}, headers=a).status_code == 200
        clock.advance(seconds=5)
    hist = client.get("/v1/drafts", params={"status": "approved", "sort": "decided"}, headers=a).json()["items"]
    assert [d["order_id"] for d in hist] == ["T1006", "T1001"] and hist[0]["decided_at"]
    r = client.post(f"/v1/drafts/{made['T1006']['id']}/unapprove", headers=a)
    assert r.status_code == 200 and r.json()["event"] == "unapproved" and r.json()["draft"]["status"] == "pending"
    client.post(f"/v1/drafts/{made['T1001']['id']}/sent", headers=a)
    r = client.post(f"/v1/drafts/{made['T1001']['id']}/unapprove", headers=a)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"

    # A shop that refuses flagged text: no override helps; the honest text still goes.
    settings = client.get("/v1/shop/settings", headers=m).json()["settings"]
    settings["review"] = {"block_violations": True, "response_target_s": 45}
    assert client.put("/v1/shop/settings", json=settings, headers=m).status_code == 200
    assert client.get("/v1/shop/desk", headers=a).json()["block_violations"] is True
    d = made["T1004"]
    r = client.post(f"/v1/drafts/{d['id']}/approve", json={"final_text": d["text"] + "明天一定到！",
                                                         "override_reason": "我确定"}, headers=a)
    assert r.status_code == 409 and r.json()["error"]["code"] == "claim_check_refused", r.text
    assert r.json()["error"]["details"]
    assert client.post(f"/v1/drafts/{d['id']}/approve", json={}, headers=a).json()["draft"]["status"] == "approved"
