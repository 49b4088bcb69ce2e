"""A fake shop order endpoint: ``GET /orders/{order_id}`` answering order-facts JSON (or any JSON),
checking the optional HMAC signature headers the generic HTTP adapter sends.

Modes: ``malformed`` (not JSON), ``invalid`` (JSON that is not valid facts), ``http500``, ``rate_limit``
(429), ``slow:S``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.behaviour import Behaviour


class FakeShopEndpoint:
    def __init__(self, *, hmac_secret: str | None = None) -> None:
        self.hmac_secret = hmac_secret
        self.bodies: dict[str, Any] = {}
        self.behaviour = Behaviour()
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/orders/{order_id}", self.get, methods=["GET"])])

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    async def get(self, request: Request) -> Response:
        oid = request.path_params["order_id"]
        ok = True
        if self.hmac_secret is not None:
            ts = request.headers.get("x-replydesk-timestamp", "")
            want = "sha256=" + hmac.new(self.hmac_secret.encode(), f"{ts}.GET.{request.url.path}".encode(),
                                        hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, request.headers.get("x-replydesk-signature", ""))
        with self._lock:
            self.calls.append({"order_id": oid, "signature_ok": ok})
        mode = await self.behaviour.next_mode()
        if not ok:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if mode == "malformed":
            return PlainTextResponse('{"order_id": "' + oid, media_type="application/json")
        if mode == "invalid":
            return JSONResponse({"order_id": oid, "items": "not a list", "paid_at": "yesterday"})
        if mode == "http500":
            return PlainTextResponse("oops", status_code=500)
        if mode == "rate_limit":
            return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "30"})
        if oid not in self.bodies:
            return JSONResponse({"error": "no such order"}, status_code=404)
        return JSONResponse(self.bodies[oid])
