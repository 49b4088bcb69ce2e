"""core.webhooks against a real HTTP receiver on loopback (signature checked there, retries observed)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.clock import FixedClock
from core.webhooks import send_webhook, sign, verify_signature
from tests.fakes.server import LoopbackServer
from tests.fakes.webhook_receiver import WebhookReceiver

AT = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)
SECRET = "whsec-test-7f7f7f7f"


def _send(url: str, **kw):  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    res = send_webhook(url, kw.pop("secret", SECRET), "task.created", {"task": "t1", "note": "加急"},
                       delivery_id=kw.pop("delivery_id", "d-1"), clock=FixedClock(AT), sleep=sleeps.append, **kw)
    return res, sleeps


def test_signed_delivery_is_accepted_once() -> None:
    rx = WebhookReceiver(SECRET, now=AT.timestamp())
    with LoopbackServer(rx.app) as srv:
        res, sleeps = _send(srv.url + "/hook")
    assert res.ok and res.attempts == 1 and res.status == 200 and sleeps == []
    assert rx.requests == [{"delivery": "d-1", "event": "task.created", "signature_ok": True}]
    assert rx.processed["d-1"] == {"note": "加急", "task": "t1"}


def test_5xx_is_retried_with_backoff_and_the_same_delivery_id() -> None:
    rx = WebhookReceiver(SECRET, now=AT.timestamp(), fail_first=2)
    with LoopbackServer(rx.app) as srv:
        res, sleeps = _send(srv.url + "/hook", backoff_s=0.1)
    assert res.ok and res.attempts == 3 and res.history == ["503", "503", "200"]
    assert sleeps == [0.1, 0.2]
    assert {r["delivery"] for r in rx.requests} == {"d-1"} and len(rx.processed) == 1


def test_wrong_secret_is_refused_and_not_retried() -> None:
    rx = WebhookReceiver(SECRET, now=AT.timestamp())
    with LoopbackServer(rx.app) as srv:
        res, sleeps = _send(srv.url + "/hook", secret="another-secret")
    assert not res.ok and res.status == 401 and res.attempts == 1 and sleeps == []
    assert rx.processed == {}


def test_unreachable_receiver_gives_up_visibly() -> None:
    res, sleeps = _send("http://127.0.0.1:9/hook", attempts=3, backoff_s=0.01, timeout_s=0.5)
    assert not res.ok and res.attempts == 3 and res.status is None
    assert res.error and "Error" in res.error and len(res.history) == 3 and len(sleeps) == 2


def test_signature_rejects_replay_outside_tolerance_and_tampering() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, 1000, body)
    assert verify_signature(SECRET, header, body, now=1100)
    assert not verify_signature(SECRET, header, body, now=1000 + 301)
    assert not verify_signature(SECRET, header, b'{"a":2}', now=1000)
    assert not verify_signature(SECRET, "garbage", body, now=1000)
