"""Signed, retried webhooks to a shop's own system (insight alerts, task handoffs).

A delivery is one JSON body sent to one URL, possibly several times: every attempt carries the same
``X-Replydesk-Delivery`` id so the receiver can drop the repeats (exactly-once *processing* is the
receiver's dedupe on that id; we can only promise at-least-once *sending*).

Signature (Stripe-style, so receivers can reuse known code)::

    X-Replydesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The timestamp is inside the signed string, so a captured request cannot be replayed later with a new
``t``; receivers should refuse a ``t`` too far from their clock (:func:`verify_signature` does).

Retried: network errors, timeouts, 408, 429 and 5xx, with exponential backoff. Not retried: other
4xx (the receiver understood and refused; sending again would not change its mind).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.clock import Clock, SystemClock

__all__ = [
    "SIGNATURE_HEADER",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "WebhookDelivery",
    "send_webhook",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Replydesk-Signature"
DELIVERY_HEADER = "X-Replydesk-Delivery"
EVENT_HEADER = "X-Replydesk-Event"

_RETRY_STATUS = frozenset({408, 425, 429})


@dataclass
class WebhookDelivery:
    """What happened to one delivery: ``ok`` once a 2xx came back."""

    delivery_id: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    # One line per attempt ("503", "ConnectError: ...") so a failure is explainable on a page.
    history: list[str] = field(default_factory=list)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float, tolerance_s: int = 300) -> bool:
    """Receiver side (our tests and fakes use it; shops may copy it)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - ts) > tolerance_s:
        return False
    expected = sign(secret, ts, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def send_webhook(
    url: str,
    secret: str,
    event: str,
    payload: Mapping[str, Any],
    *,
    delivery_id: str,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    attempts: int = 5,
    backoff_s: float = 0.5,
    timeout_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> WebhookDelivery:
    """Send ``payload`` as event ``event``; never raises for the receiver's failures.

    The caller stores the returned delivery (a failed one stays visible: an alert or a task shows
    it), rather than this module swallowing errors it cannot act on.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    clock = clock or SystemClock()
    body = json.dumps(dict(payload), ensure_ascii=False, sort_keys=True, default=str).encode()
    result = WebhookDelivery(delivery_id=delivery_id, ok=False, attempts=0)
    with httpx.Client(transport=transport, timeout=timeout_s) as client:
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            ts = int(clock.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, ts, body),
                DELIVERY_HEADER: delivery_id,
                EVENT_HEADER: event,
            }
            try:
                resp = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                result.status, result.error = None, f"{type(exc).__name__}: {exc}"
                result.history.append(result.error)
            else:
                result.status = resp.status_code
                result.history.append(str(resp.status_code))
                if resp.is_success:
                    result.ok, result.error = True, None
                    return result
                result.error = f"HTTP {resp.status_code}"
                if resp.status_code < 500 and resp.status_code not in _RETRY_STATUS:
                    return result
            if attempt < attempts:
                sleep(backoff_s * 2 ** (attempt - 1))
    return result
