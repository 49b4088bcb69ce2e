"""Urge events from the real draft path, the insight queries over them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from core.tables import urge_events
from tests.api.conftest import NOW, auth, build_container, seed_everything


def _draft(client: TestClient, key: str, order_id: str, message: str, received_at=None) -> dict:
    body = {"order_id": order_id, "message": message}
    if received_at is not None:
        body["received_at"] = received_at.isoformat()
    r = client.post("/v1/drafts", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def _flow(client: TestClient, keys: dict[str, str], clock, engine: sa.Engine) -> None:
    agent, manager = keys["agent"], keys["manager"]
    # A buyer's phone number in the message must never reach an urge event.
    t1004 = _draft(client, agent, "T1004", "怎么还不发货？我电话13812345678", received_at=NOW - timedelta(minutes=2))
    clock.advance(seconds=30)
    t1007 = _draft(client, agent, "T1007", "都三天了物流还不动")
    clock.advance(seconds=30)
    again = _draft(client, agent, "T1004", "亲，到底什么时候发？")
    _draft(client, agent, "T1005", "预售什么时候发货")
    _draft(client, keys["other-agent"], "T1004", "发货了吗")       # another shop's order id: not ours
    clock.advance(seconds=45)
    assert client.post(f"/v1/drafts/{again['id']}/approve", headers=auth(agent)).status_code == 200
    clock.advance(seconds=10)
    assert client.post(f"/v1/drafts/{again['id']}/inserted", headers=auth(agent)).status_code == 200
    clock.advance(seconds=5)
    assert client.post(f"/v1/drafts/{again['id']}/sent", headers=auth(agent)).status_code == 200
    assert client.post(f"/v1/drafts/{t1007['id']}/approve", json={"final_text": "亲，我们马上联系快递核实。"},
                       headers=auth(manager)).status_code == 200

    with engine.connect() as conn:
        rows = {r.draft_id: r for r in conn.execute(sa.select(urge_events).where(urge_events.c.shop_id == "demo"))}
    assert len(rows) == 4
    e1 = rows[t1004["id"]]
    assert (e1.state, e1.cause, e1.sku, e1.carrier) == ("out_of_stock", "out_of_stock", "MUG-01", None)
    assert e1.received_at == NOW - timedelta(minutes=2) and e1.drafted_at == NOW  # the message's time, not the draft's
    assert "13812345678" not in json.dumps([list(r) for r in rows.values()], default=str)
    e7 = rows[t1007["id"]]
    assert (e7.state, e7.cause, e7.carrier) == ("stuck", "courier_stall", "中通快递")
    assert (e7.decision, e7.decided_by) == ("edited", keys["manager"] and e7.decided_by)
    ea = rows[again["id"]]
    assert ea.decision == "approved" and ea.decided_at and ea.inserted_at and ea.sent_at
    assert rows[t1004["id"]].decision is None   # superseded by the second urge, never decided

    # Queries: manager only, own shop only, in the shop's timezone.
    q = "since=2026-11-12T00:00&until=2026-11-13"
    r = client.get(f"/v1/insights/urges?{q}&by=sku", headers=auth(manager))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 4
    assert {g["key"]: g["count"] for g in body["groups"]}["MUG-01"] >= 2
    assert body["range"]["since"] == "2026-11-12T00:00:00+08:00"
    by_state = {g["key"]: g["count"] for g in client.get(f"/v1/insights/urges?{q}&by=state",
                                                         headers=auth(manager)).json()["groups"]}
    assert by_state == {"out_of_stock": 2, "stuck": 1, "presale": 1}
    hours = client.get(f"/v1/insights/urges?{q}&by=hour", headers=auth(manager)).json()
    assert len(hours["groups"]) == 24 and hours["groups"][10]["key"] == "2026-11-12T10:00:00+08:00"
    assert [(g["key"][11:13], g["count"]) for g in hours["groups"] if g["count"]] == [("10", 1), ("11", 3)], hours
    # A range that ends before the events holds none of them.
    assert client.get("/v1/insights/urges?since=2026-11-11&until=2026-11-12T10:00&by=sku",
                      headers=auth(manager)).json()["total"] == 0
    other = client.get(f"/v1/insights/urges?{q}&by=sku", headers=auth(keys["other-manager"])).json()
    assert other["total"] == 1   # the other shop sees its own urge only
    assert client.get(f"/v1/insights/urges?{q}", headers=auth(agent)).status_code == 403
    assert client.get("/v1/insights/urges?by=nope", headers=auth(manager)).status_code == 422
    assert client.get("/v1/insights/urges?since=yesterday", headers=auth(manager)).status_code == 422
    assert client.get("/v1/insights/urges?since=2026-11-13&until=2026-11-12", headers=auth(manager)).status_code == 422

    rep = client.get(f"/v1/insights/repeats?{q}", headers=auth(manager)).json()
    assert rep["orders"] == 1 and rep["top"][0] == {**rep["top"][0], "order_id": "T1004", "urges": 2}
    rt = client.get(f"/v1/insights/response-times?{q}", headers=auth(manager)).json()
    assert rt["stages"]["sent"]["n"] == 1 and rt["stages"]["sent"]["p50"] == 60.0   # 11:01:00 -> 11:02:00
    assert rt["stages"]["decided"]["n"] == 2
    assert {a["key"] for a in rt["per_agent"]} == {e7.decided_by, ea.decided_by}
    ap = {s["state"]: s for s in client.get(f"/v1/insights/approvals?{q}", headers=auth(manager)).json()["states"]}
    assert ap["out_of_stock"]["approved_unedited_share"] == 1.0 and ap["stuck"]["approved_unedited_share"] == 0.0
    causes = client.get(f"/v1/insights/causes?{q}", headers=auth(manager)).json()["causes"]
    assert causes[0] == {"cause": "out_of_stock", "count": 2, "usual": None, "ratio": None}  # no history before

    jl = client.get(f"/v1/insights/export?{q}", headers=auth(manager))
    lines = [json.loads(x) for x in jl.text.splitlines()]
    assert len(lines) == 4 and "message" not in lines[0] and lines[0]["order_id"] == "T1004"
    assert "13812345678" not in jl.text
    cs = list(csv.DictReader(io.StringIO(client.get(f"/v1/insights/export?{q}&format=csv",
                                                    headers=auth(manager)).text)))
    assert len(cs) == 4 and cs[0]["sku"] == "MUG-01"
    summary = client.get(f"/v1/insights/summary?{q}", headers=auth(manager)).json()
    assert summary["total"] == 4
    assert {g["key"]: g["count"] for g in summary["breakdown"]["carrier"]} == {None: 3, "中通快递": 1}


def test_urge_events_and_queries_on_sqlite(client: TestClient, demo: dict[str, str], clock, container) -> None:
    _flow(client, demo, clock, container.engine)


def test_urge_events_and_queries_on_postgresql(pg_schema_url: str, tmp_path, clock, embedder) -> None:
    from api.app import create_app
    from core.settings import Settings

    c = build_container(Settings(data_dir=tmp_path / "pg", database_url=pg_schema_url), clock, embedder)
    try:
        keys = seed_everything(c)
        with TestClient(create_app(container=c)) as client:
            _flow(client, keys, clock, c.engine)
    finally:
        c.close()
