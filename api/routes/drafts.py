"""Drafts: create one for a buyer message, the review queue, and the agent's decisions."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ContainerDep, Principal
from api.errors import status_and_code
from api.idempotency import idempotent
from api.metrics import Metrics
from core.errors import ReplydeskError
from drafter import create
from drafter.compensation import Approval
from drafter.drafts import DraftItem
from drafter.guard import GuardReport, Violation
from drafter.request import MAX_MESSAGE, DraftRequest
from drafter.result import DraftResult
from drafter.review import RejectReason
from drafter.tasks import Accepted, Task

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])
log = logging.getLogger("replydesk.api")


class DraftPage(BaseModel):
    items: list[DraftItem]
    next_cursor: str | None


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    final_text: str | None = Field(default=None, max_length=MAX_MESSAGE)
    override_reason: str | None = Field(
        default=None, max_length=500,
        description="Required (and logged) to approve text the claim check flags, unless the shop refuses that")
    actions: list[Accepted] | None = Field(default=None, max_length=20, description=(
        "The proposed actions to carry out, by index in the draft's actions (a coupon may carry a lower "
        "amount_yuan). Omitted: the shop's defaults (settings.actions_default); [] takes none."))
    confirmed_needs_human: bool = Field(
        default=False, description="The agent was shown why the draft needs a person and confirmed (logged)")


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_MESSAGE)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: RejectReason
    note: str | None = Field(default=None, max_length=1000)


class DecisionOut(BaseModel):
    draft: DraftItem
    event: str | None = Field(description="The event logged; null when this repeated an earlier decision")
    warnings: list[Violation] = []
    tasks: list[Task] = Field(default=[], description="The draft's tasks (accepted handoffs) and their state")
    approvals: list[Approval] = Field(default=[], description="The draft's compensation requests")


def _metrics(request: Request) -> Metrics | None:
    return getattr(request.app.state, "metrics", None)


def _observe(request: Request, result: DraftResult) -> None:
    if (m := _metrics(request)) is not None:
        m.observe_draft(result)
        m.decisions.labels("draft_created").inc()


@router.post("", status_code=201, response_model=DraftItem)
def create_draft(body: DraftRequest, key: Principal, c: ContainerDep, request: Request) -> Any:
    """Draft a reply to ``message`` for ``order_id``; stored as pending for a human to review.

    An unknown order is not an error of the request: the draft says so honestly.
    """
    def act() -> DraftItem:
        created = create.create_draft(body, key.shop_id, c.draft_services(), c.review, author=key.id,
                               default_composer=c.settings.composer)
        _observe(request, created.result)
        assert created.item is not None  # a review was given: the draft is stored
        return created.item

    out = idempotent(request, c, key.id, body, 201, act)
    if isinstance(out, DraftItem):
        # The item is a DraftItem already: one pass to JSON. Returned as a model, FastAPI would dump it, validate
        # the dump as the response model and serialise that (three passes over the draft, on every draft).
        return Response(out.model_dump_json(), status_code=201, media_type="application/json")
    return out


@router.post("/stream", response_class=StreamingResponse, responses={200: {
    "content": {"text/event-stream": {}},
    "description": "SSE: `template` (instant, not stored), `token` ({text}), `final` (stored, guarded), `error`"}})
def stream_draft(body: DraftRequest, key: Principal, c: ContainerDep, request: Request) -> StreamingResponse:
    """Stream a draft: the template draft at once, the model's tokens as they come, then the guarded final.

    The streamed tokens are unguarded; only the ``final`` event's draft can be approved.
    """
    c.shops.get(key.shop_id)
    events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
    composer = "llm" if c.llm_client() is not None else "template"  # unless the request says

    def work() -> None:
        try:
            created = create.create_draft(
                body, key.shop_id, c.draft_services(), c.review, author=key.id, default_composer=composer,
                on_template=lambda r: events.put(("template", r.model_dump(mode="json"))),
                on_token=lambda t: events.put(("token", {"text": t})))
            _observe(request, created.result)
            assert created.item is not None  # a review was given: the draft is stored
            events.put(("final", created.item.model_dump(mode="json")))
        except ReplydeskError as exc:
            # The same stable codes as the JSON error bodies (api/errors.py), e.g. "invalid_input".
            _, code = status_and_code(exc)
            events.put(("error", {"code": code, "message": exc.message, "field": exc.field}))
        except Exception:  # the stream must end with an event, never a dropped connection
            log.exception("stream draft failed")
            events.put(("error", {"code": "internal_error", "message": "something went wrong on our side"}))
        finally:
            events.put(None)

    threading.Thread(target=work, name="draft-stream", daemon=True).start()

    def sse() -> Iterator[bytes]:
        while (ev := events.get()) is not None:
            name, data = ev
            yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("", response_model=DraftPage)
def list_drafts(key: Principal, c: ContainerDep,
                status: Literal["pending", "approved", "rejected", "sent", "superseded", "all"] = "pending",
                limit: Annotated[int, Query(ge=1, le=100)] = 20,
                cursor: Annotated[str | None, Query(max_length=200)] = None,
                sort: Literal["newest", "waiting", "decided"] = "newest") -> DraftPage:
    """The review queue: newest first; ``sort=waiting``: the buyer waiting longest first (by ``received_at``);
    ``sort=decided``: the latest decisions first (the history of approved and sent replies)."""
    items, nxt = c.drafts.list(key.shop_id, status=None if status == "all" else status, limit=limit, cursor=cursor,
                               sort=sort)
    return DraftPage(items=items, next_cursor=nxt)


@router.get("/{draft_id}", response_model=DraftItem)
def get_draft(draft_id: str, key: Principal, c: ContainerDep) -> DraftItem:
    return c.drafts.item(key.shop_id, draft_id)


def _out(d, request: Request) -> DecisionOut:
    if d.event and (m := _metrics(request)) is not None:
        m.decisions.labels(d.event).inc()
    return DecisionOut(draft=d.draft, event=d.event, warnings=d.warnings, tasks=d.tasks, approvals=d.approvals)


@router.post("/{draft_id}/check", response_model=GuardReport)
def check(draft_id: str, body: CheckBody, key: Principal, c: ContainerDep) -> GuardReport:
    """The claim check of ``text`` (the agent's edit, as it is typed) against the facts the draft saw.

    Each claim and violation carries ``start``/``end``: its place in ``text`` in Unicode code points.
    Nothing is stored or logged; approval checks the final text again.
    """
    return c.review.check(key.shop_id, draft_id, body.text)


@router.post("/{draft_id}/approve", response_model=DecisionOut, responses={409: {
    "description": "`override_required`: the claim check flags the text (violations in `error.details`); send "
                   "`override_reason` to approve anyway. `claim_check_refused`: the shop does not approve "
                   "flagged text. `conflict`: the draft is not pending."}})
def approve(draft_id: str, key: Principal, c: ContainerDep, request: Request,
            body: ApproveBody | None = None) -> DecisionOut:
    """Approve as is, or with an edited ``final_text``. The final text is checked; the stored draft keeps that
    check (``final_guard``) and, when it flags the text, the agent's ``override_reason``.

    The accepted ``actions`` become tasks (carried out at once where the shop's setup can) and
    compensation requests for a manager; coupons above the shop's limit are refused (422)."""
    return idempotent(request, c, key.id, body, 200, lambda: _out(
        c.review.approve(key.shop_id, draft_id, body.final_text if body else None, key.id,
                         override_reason=body.override_reason if body else None,
                         accepted=body.actions if body else None,
                         confirmed_needs_human=body.confirmed_needs_human if body else False), request))


@router.post("/{draft_id}/unapprove", response_model=DecisionOut)
def unapprove(draft_id: str, key: Principal, c: ContainerDep, request: Request) -> DecisionOut:
    """Undo an approval while the reply is not sent: the draft is pending again (its edited text kept)."""
    return idempotent(request, c, key.id, None, 200, lambda: _out(
        c.review.unapprove(key.shop_id, draft_id, key.id), request))


@router.post("/{draft_id}/reject", response_model=DecisionOut)
def reject(draft_id: str, body: RejectBody, key: Principal, c: ContainerDep, request: Request) -> DecisionOut:
    return idempotent(request, c, key.id, body, 200, lambda: _out(
        c.review.reject(key.shop_id, draft_id, body.reason, body.note, key.id), request))


@router.post("/{draft_id}/inserted", response_model=DecisionOut)
def inserted(draft_id: str, key: Principal, c: ContainerDep, request: Request) -> DecisionOut:
    """The approved text was put into the chat input box."""
    return idempotent(request, c, key.id, None, 200, lambda: _out(
        c.review.inserted(key.shop_id, draft_id, key.id), request))


@router.post("/{draft_id}/sent", response_model=DecisionOut)
def sent(draft_id: str, key: Principal, c: ContainerDep, request: Request) -> DecisionOut:
    """The agent confirms the reply went out to the buyer."""
    return idempotent(request, c, key.id, None, 200, lambda: _out(
        c.review.sent(key.shop_id, draft_id, key.id), request))
