"""Tasks (accepted handoffs) and compensation approvals: the warehouse's list and the managers' queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ContainerDep, ManagerKey, Principal
from api.idempotency import idempotent
from drafter.compensation import Approval, Compensation
from drafter.tasks import ActionDesk, Task

router = APIRouter(tags=["tasks"])


def _desk(c: Any) -> ActionDesk:
    assert c.desk is not None  # Container.build always makes one
    return c.desk


def _comp(c: Any) -> Compensation:
    assert c.compensation is not None
    return c.compensation


class TaskPage(BaseModel):
    items: list[Task]
    now: datetime = Field(description="The server's time: ages are measured from it; pass it as updated_since to "
                                      "get only what changed after this answer")


class DoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=500)


class ApprovalPage(BaseModel):
    items: list[Approval]


class DecideOut(BaseModel):
    approval: Approval
    event: str | None = Field(description="The feedback event logged; null when this repeated an earlier decision")


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


@router.get("/v1/tasks", response_model=TaskPage)
def list_tasks(key: Principal, c: ContainerDep,
               status: Literal["open", "sent", "done", "failed", "all"] = "open",
               draft_id: Annotated[str | None, Query(max_length=40)] = None,
               order_id: Annotated[str | None, Query(max_length=64)] = None,
               updated_since: datetime | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> TaskPage:
    """Tasks of the caller's shop, oldest first (``status=open``: what is still to be done)."""
    if updated_since is not None and updated_since.tzinfo is None:
        from core.errors import InvalidInput

        raise InvalidInput("updated_since needs a timezone offset (e.g. 2026-11-12T11:00:00+08:00)",
                           field="updated_since")
    items = _desk(c).list(key.shop_id, status=None if status == "all" else status, draft_id=draft_id,
                        order_id=order_id, updated_since=updated_since, limit=limit)
    return TaskPage(items=items, now=c.clock.now())


class TaskSettings(BaseModel):
    role: str = Field(description="The caller's role (pages show the managers' queue only to managers)")
    actions_default: list[str] = Field(description="The proposed actions ticked by default on approval")
    coupon_yuan_max: float
    needs_approval: bool
    gift: str | None = None


@router.get("/v1/tasks/settings", response_model=TaskSettings)
def task_settings(key: Principal, c: ContainerDep) -> TaskSettings:
    """What the review page needs to offer the actions: the shop's defaults and compensation limits."""
    s = c.shops.get(key.shop_id).settings
    return TaskSettings(role=key.role, actions_default=list(s.actions_default),
                        coupon_yuan_max=s.compensation.coupon_yuan_max, needs_approval=s.compensation.needs_approval,
                        gift=s.compensation.gift)


@router.get("/v1/tasks/{task_id}", response_model=Task)
def get_task(task_id: str, key: Principal, c: ContainerDep) -> Task:
    return _desk(c).get(key.shop_id, task_id)


@router.post("/v1/tasks/{task_id}/done", response_model=Task)
def task_done(task_id: str, key: Principal, c: ContainerDep, request: Request, body: DoneBody | None = None) -> Task:
    """A person did it (the warehouse flagged the order, a colleague called the courier)."""
    return idempotent(request, c, key.id, body, 200, lambda: _desk(c).mark_done(
        key.shop_id, task_id, key.id, body.note if body else None))


@router.post("/v1/tasks/{task_id}/retry", response_model=Task)
def task_retry(task_id: str, key: Principal, c: ContainerDep, request: Request) -> Task:
    """Send a failed task again (same task id: the memo and the webhook's receiver see it once)."""
    return idempotent(request, c, key.id, None, 200, lambda: _desk(c).retry(key.shop_id, task_id, key.id))


@router.get("/v1/approvals", response_model=ApprovalPage)
def list_approvals(key: Principal, c: ContainerDep,
                   status: Literal["pending", "approved", "declined", "all"] = "pending",
                   draft_id: Annotated[str | None, Query(max_length=40)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ApprovalPage:
    """Compensation requests, oldest first. Every role may read them (an agent sees how its request went)."""
    return ApprovalPage(items=_comp(c).list(key.shop_id, status=None if status == "all" else status,
                                                  draft_id=draft_id, limit=limit))


@router.post("/v1/approvals/{approval_id}/approve", response_model=DecideOut)
def approve_compensation(approval_id: str, key: ManagerKey, c: ContainerDep, request: Request) -> DecideOut:
    """Managers only. The shop's coupon limit is checked again (422 when it is now exceeded)."""
    def act() -> DecideOut:
        a, ev = _comp(c).approve(key.shop_id, approval_id, key.id)
        return DecideOut(approval=a, event=ev)

    return idempotent(request, c, key.id, None, 200, act)


@router.post("/v1/approvals/{approval_id}/decline", response_model=DecideOut)
def decline_compensation(approval_id: str, body: DeclineBody, key: ManagerKey, c: ContainerDep,
                         request: Request) -> DecideOut:
    def act() -> DecideOut:
        a, ev = _comp(c).decline(key.shop_id, approval_id, key.id, body.reason)
        return DecideOut(approval=a, event=ev)

    return idempotent(request, c, key.id, body, 200, act)


@router.get("/v1/compensation/weekly")
def compensation_weekly(key: ManagerKey, c: ContainerDep, since: datetime | None = None) -> dict[str, Any]:
    """Compensation given per ISO week (shop timezone), cause and kind."""
    if since is not None and since.tzinfo is None:
        from core.errors import InvalidInput

        raise InvalidInput("since needs a timezone offset", field="since")
    return {"items": _comp(c).given_per_week(key.shop_id, since=since)}
