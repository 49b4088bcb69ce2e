"""The shop's order source (admins): which source its orders come from, with write-only credentials,
and a check that reads one order now. Pushed order events arrive at ``POST /v1/orders/events``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, ContainerDep
from knowledge.errors import EventRejected

router = APIRouter(tags=["order sources"])


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["store", "taobao", "jushuitan", "http"]
    settings: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str | None] = Field(default_factory=dict, description="Write-only; omit one to keep it")
    events_secret: str | None = Field(default=None, min_length=16, max_length=200, description="Write-only")


class SourceOut(BaseModel):
    shop_id: str
    kind: str
    settings: dict[str, Any]
    secrets_set: list[str] = Field(description="Names of the credentials that are set (never their values)")
    events_secret_set: bool
    revision: int
    updated_at: str
    last_success_at: str | None
    last_error_at: str | None
    last_error_code: str | None
    last_error: str | None


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=64)


@router.get("/v1/shop/order-source", response_model=SourceOut)
def get_source(key: AdminKey, c: ContainerDep) -> SourceOut:
    rec = c.sources.configs.get(key.shop_id)
    if rec is None:
        return SourceOut(shop_id=key.shop_id, kind="store", settings={}, secrets_set=[], events_secret_set=False,
                         revision=0, updated_at="", last_success_at=None, last_error_at=None, last_error_code=None,
                         last_error=None)
    return SourceOut(**rec.public(c.sources.configs.box))


@router.put("/v1/shop/order-source", response_model=SourceOut)
def put_source(body: SourceIn, key: AdminKey, c: ContainerDep) -> SourceOut:
    """Connect the shop's orders. Credentials are stored encrypted and never returned."""
    configs = c.sources.configs
    rec = configs.connect(key.shop_id, body.kind, body.settings, body.secrets, author=key.id)
    if body.events_secret:
        rec = configs.set_events_secret(key.shop_id, body.events_secret, author=key.id)
    return SourceOut(**rec.public(configs.box))


@router.post("/v1/shop/order-source/check")
def check_source(body: CheckIn, key: AdminKey, c: ContainerDep) -> dict[str, Any]:
    """Read one order from the source now (no cache): the normalised facts and the raw answer they map from."""
    return c.sources.check(key.shop_id, body.order_id)  # type: ignore[no-any-return]


@router.post("/v1/orders/events")
async def order_events(request: Request, c: ContainerDep) -> dict[str, Any]:
    """Pushed order changes, signed with the shop's events secret (see knowledge/sources/events.py).

    Headers: ``X-Replydesk-Shop``, ``X-Replydesk-Timestamp`` (unix seconds), ``X-Replydesk-Signature``
    (``sha256=`` HMAC of ``"{timestamp}." + body``). Each event id is applied once.
    """
    body = await request.body()
    h = request.headers
    try:
        shop = c.events.verify(h.get("x-replydesk-shop"), h.get("x-replydesk-timestamp"),
                               h.get("x-replydesk-signature"), body)
    except EventRejected as exc:
        raise HTTPException(401, exc.message) from exc
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, "the request body is not valid JSON") from exc
    from starlette.concurrency import run_in_threadpool

    results = await run_in_threadpool(c.events.apply, shop, payload)
    return {"results": results}
