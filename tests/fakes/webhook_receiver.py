"""A shop's own system receiving replydesk webhooks: verifies the signature, dedupes by delivery id.

``fail_first`` makes the first N requests answer 503 (a receiver restarting), so senders' retries are
exercised over real HTTP.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verify_signature


class WebhookReceiver:
    def __init__(self, secret: str, *, now: float, fail_first: int = 0, status_after: int = 200) -> None:
        self.secret = secret
        self.now = now  # the receiver's clock, injected like ours
        self.fail_first = fail_first
        self.status_after = status_after
        self.requests: list[dict[str, Any]] = []  # every request, signature checked or not
        self.processed: dict[str, dict[str, Any]] = {}  # delivery id -> body, once per delivery
        self.app = FastAPI()
        self.app.post("/hook")(self._hook)

    async def _hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        sig_ok = verify_signature(self.secret, request.headers.get(SIGNATURE_HEADER, ""), body, now=self.now)
        self.requests.append({"delivery": request.headers.get(DELIVERY_HEADER),
                              "event": request.headers.get(EVENT_HEADER), "signature_ok": sig_ok})
        if len(self.requests) <= self.fail_first:
            return JSONResponse({"error": "restarting"}, status_code=503)
        if not sig_ok:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        delivery = request.headers.get(DELIVERY_HEADER, "")
        self.processed.setdefault(delivery, json.loads(body))
        return JSONResponse({"ok": True}, status_code=self.status_after)
