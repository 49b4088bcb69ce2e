"""Idempotency-Key: a retried POST answers as the first one did and acts once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from api.seed import seed_demo
from core.clock import FixedClock
from core.errors import Unavailable
from core.settings import Settings
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


# -- concurrent first requests: real threads against the app, on SQLite and on PostgreSQL ---------------

class Gate:
    """Holds the first caller until a second one arrives (a bug: both would act) or ``hold_s`` passes,
    so the twin request is certainly in flight while the first is acting. Counts who got through."""

    def __init__(self, hold_s: float = 1.0, fail_first: bool = False) -> None:
        self.hold_s, self.fail_first = hold_s, fail_first
        self.entered = 0
        self._lock = threading.Lock()
        self._second = threading.Event()

    def __call__(self) -> None:
        with self._lock:
            self.entered += 1
            n = self.entered
        if n == 1:
            self._second.wait(self.hold_s)
            if self.fail_first:
                raise Unavailable("the first attempt fails")
        else:
            self._second.set()


class GatedOrders:
    def __init__(self, inner: Any, gate: Gate) -> None:
        self.inner, self.gate = inner, gate

    def get(self, shop_id: str, order_id: str) -> Any:
        self.gate()
        return self.inner.get(shop_id, order_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class GatedReview:
    def __init__(self, inner: Any, gate: Gate) -> None:
        self.inner, self.gate = inner, gate

    def reject(self, *args: Any, **kwargs: Any) -> Any:
        self.gate()
        return self.inner.reject(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Container, dict]]:
    url = request.getfixturevalue("pg_schema_url") if request.param == "postgresql" else None
    settings = Settings(data_dir=tmp_path / "data", database_url=url, rate_limit_per_min=0, order_timeout_s=30)
    c = Container.build(settings, clock=clock, with_index=False)
    keys = seed_demo(c).keys
    yield c, keys
    c.close()


def _together(client: TestClient, *calls: tuple[str, dict, dict]) -> list[tuple[Any, float, float]]:
    """POST the calls from one thread each, released at once; (response, sent, answered) per call."""
    start = threading.Barrier(len(calls))

    def go(call: tuple[str, dict, dict]) -> tuple[Any, float, float]:
        path, body, headers = call
        start.wait()
        sent = time.monotonic()
        r = client.post(path, json=body, headers=headers)
        return r, sent, time.monotonic()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def _events(client: TestClient, manager: str) -> list[dict]:
    return [json.loads(x) for x in client.get("/v1/feedback/export", headers=auth(manager)).text.splitlines()]


def test_two_simultaneous_first_drafts_act_once(world: tuple[Container, dict]) -> None:
    c, keys = world
    gate = Gate()
    c.sources = GatedOrders(c.sources, gate)  # drafts read orders through the sources
    h = {**auth(keys["agent"]), "Idempotency-Key": "burst-1"}
    body = {"order_id": "T1006", "message": "发货了吗"}
    with TestClient(create_app(container=c)) as client:
        (a, sent_a, done_a), (b, sent_b, done_b) = _together(client, ("/v1/drafts", body, h), ("/v1/drafts", body, h))
        events = _events(client, keys["manager"])
    assert max(sent_a, sent_b) < min(done_a, done_b)  # both requests were in flight at once
    assert gate.entered == 1  # one pipeline run
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert {a.headers.get("idempotent-replayed"), b.headers.get("idempotent-replayed")} == {None, "true"}
    assert [e["draft_id"] for e in events if e["event"] == "draft_created"] == [a.json()["id"]]
    assert [d.id for d in c.drafts.list("demo", status=None)[0]] == [a.json()["id"]]


def test_two_simultaneous_first_decisions_act_once(world: tuple[Container, dict]) -> None:
    c, keys = world
    gate = Gate()
    with TestClient(create_app(container=c)) as client:
        d = client.post("/v1/drafts", json={"order_id": "T1003", "message": "还没发货吗"},
                        headers=auth(keys["agent"])).json()["id"]
        c.review = GatedReview(c.review, gate)
        h = {**auth(keys["agent"]), "Idempotency-Key": f"reject-{d}"}
        path, body = f"/v1/drafts/{d}/reject", {"reason": "wrong_tone"}
        (a, sent_a, done_a), (b, sent_b, done_b) = _together(client, (path, body, h), (path, body, h))
        events = _events(client, keys["manager"])
    assert max(sent_a, sent_b) < min(done_a, done_b)
    assert gate.entered == 1
    assert a.status_code == b.status_code == 200 and a.json() == b.json() and a.json()["event"] == "rejected"
    assert [e["event"] for e in events if e["draft_id"] == d] == ["draft_created", "rejected"]


def test_a_failed_first_request_releases_its_claim_to_the_waiting_twin(world: tuple[Container, dict]) -> None:
    c, keys = world
    gate = Gate(fail_first=True)
    with TestClient(create_app(container=c)) as client:
        d = client.post("/v1/drafts", json={"order_id": "T1003", "message": "还没发货吗"},
                        headers=auth(keys["agent"])).json()["id"]
        c.review = GatedReview(c.review, gate)
        h = {**auth(keys["agent"]), "Idempotency-Key": f"reject-{d}"}
        path, body = f"/v1/drafts/{d}/reject", {"reason": "wrong_tone"}
        (a, sent_a, done_a), (b, sent_b, done_b) = _together(client, (path, body, h), (path, body, h))
        events = _events(client, keys["manager"])
        again = client.post(path, json=body, headers=h)
    assert max(sent_a, sent_b) < min(done_a, done_b)
    assert gate.entered == 2  # the first failed, then the twin acted
    assert sorted([a.status_code, b.status_code]) == [200, 503]
    ok = a if a.status_code == 200 else b
    assert ok.json()["event"] == "rejected" and again.json() == ok.json()
    assert [e["event"] for e in events if e["draft_id"] == d] == ["draft_created", "rejected"]


def test_an_abandoned_claim_is_taken_over_after_its_lease(world: tuple[Container, dict], clock: FixedClock,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed mid-request leaves its claim "in_progress": twins get a 409 until the lease ends."""
    from api import idempotency

    c, keys = world
    with TestClient(create_app(container=c)) as client:
        d = client.post("/v1/drafts", json={"order_id": "T1003", "message": "还没发货吗"},
                        headers=auth(keys["agent"])).json()["id"]
        monkeypatch.setattr(idempotency._Claims, "_release", lambda self: None)  # dies without releasing
        c.review = GatedReview(c.review, Gate(hold_s=0, fail_first=True))
        h = {**auth(keys["agent"]), "Idempotency-Key": f"approve-{d}"}
        path, body = f"/v1/drafts/{d}/reject", {"reason": "wrong_tone"}
        assert client.post(path, json=body, headers=h).status_code == 503
        monkeypatch.undo()
        monkeypatch.setattr(idempotency, "WAIT_S", 0.3)
        busy = client.post(path, json=body, headers=h)
        assert busy.status_code == 409 and busy.json()["error"]["field"] == "Idempotency-Key"
        clock.advance(seconds=idempotency.LEASE_S + 1)
        taken = client.post(path, json=body, headers=h)
        assert taken.status_code == 200 and taken.json()["event"] == "rejected"
        assert client.post(path, json=body, headers=h).json() == taken.json()


def test_a_working_claim_heartbeats_so_it_is_not_taken_over(world: tuple[Container, dict], clock: FixedClock,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A first request slower than the lease keeps its claim alive: a twin waits instead of acting too."""
    from api import idempotency

    monkeypatch.setattr(idempotency, "HEARTBEAT_S", 0.05)
    c, keys = world
    gate = Gate(hold_s=2.0)
    c.sources = GatedOrders(c.sources, gate)  # drafts read orders through the sources
    h = {**auth(keys["agent"]), "Idempotency-Key": "slow-1"}
    body = {"order_id": "T1006", "message": "发货了吗"}
    with TestClient(create_app(container=c)) as client, ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, "/v1/drafts", json=body, headers=h)
        while gate.entered == 0:  # the first request is acting
            time.sleep(0.01)
        clock.advance(seconds=idempotency.LEASE_S * 3)  # longer than a lease passes while it works...
        time.sleep(0.3)  # ...and it heartbeats meanwhile
        twin = pool.submit(client.post, "/v1/drafts", json=body, headers=h)
        a, b = first.result(), twin.result()
    assert gate.entered == 1
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert b.headers.get("idempotent-replayed") == "true"
