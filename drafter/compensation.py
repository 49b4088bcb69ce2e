"""Compensation with a supervisor: coupons and gifts an agent asked for wait here for a manager.

A request is written when the agent approves the draft that proposed it (``ActionDesk.record``);
a manager approves it or declines it with a reason. The shop's coupon limit is checked again at
approval (it may have been lowered since). Every request, approval and decline is in the feedback
log. Until a request exists the reply may only say one will be made; until it is approved, only
that one was made ("已经帮您申请…"), never that anything was given.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import utc
from core.errors import Conflict, InvalidInput, NotFound
from core.tables import compensation_approvals, drafts
from drafter import feedback
from drafter.drafts import to_result

__all__ = ["Approval", "ApprovalNotFound", "Compensation", "APPROVAL_STATUSES"]

APPROVAL_STATUSES = ("pending", "approved", "declined")


class ApprovalNotFound(NotFound):
    pass


class Approval(BaseModel):
    id: str
    draft_id: str
    order_id: str
    kind: Literal["coupon", "gift"]
    amount_yuan: float | None = None
    gift: str | None = None
    cause: str
    reason: str
    status: Literal["pending", "approved", "declined"]
    requested_by: str | None = None
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decline_reason: str | None = None


class Compensation:
    def __init__(self, engine: Engine, clock: Clock, shops: Any, desk: Any = None) -> None:
        self.engine, self.clock, self.shops = engine, clock, shops
        self.desk = desk  # drafter.tasks.ActionDesk: an approved request becomes a task to give it

    def list(self, shop_id: str, *, status: str | None = "pending", draft_id: str | None = None,
             limit: int = 100) -> list[Approval]:
        if status is not None and status not in APPROVAL_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(APPROVAL_STATUSES)} or all", field="status")
        q = sa.select(compensation_approvals).where(compensation_approvals.c.shop_id == shop_id)
        if status:
            q = q.where(compensation_approvals.c.status == status)
        if draft_id:
            q = q.where(compensation_approvals.c.draft_id == draft_id)
        q = q.order_by(compensation_approvals.c.requested_at, compensation_approvals.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_approval(r) for r in conn.execute(q).all()]

    def get(self, shop_id: str, approval_id: str) -> Approval:
        return _approval(self._row(shop_id, approval_id))

    def approve(self, shop_id: str, approval_id: str, key_id: str | None) -> tuple[Approval, str | None]:
        """(the approval, the event logged; None when this repeated an earlier approval)."""
        row = self._row(shop_id, approval_id)
        if row.status == "approved":
            return _approval(row), None
        if row.status != "pending":
            raise Conflict(f"approval {approval_id} was {row.status}; only a pending request can be approved")
        if row.kind == "coupon":
            limit = self.shops.get(shop_id).settings.compensation.coupon_yuan_max
            if row.amount_yuan is None or row.amount_yuan > limit:
                raise InvalidInput(f"{row.amount_yuan:g} yuan is over this shop's coupon limit of {limit:g} yuan; "
                                   "decline it", field="amount_yuan")
        return self._decide(row, "approved", key_id, None), f"{row.kind}_approved"

    def decline(self, shop_id: str, approval_id: str, key_id: str | None, reason: str) -> tuple[Approval, str | None]:
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput("say why the request is declined", field="reason")
        row = self._row(shop_id, approval_id)
        if row.status == "declined" and row.decline_reason == reason:
            return _approval(row), None
        if row.status != "pending":
            raise Conflict(f"approval {approval_id} was {row.status}; only a pending request can be declined")
        return self._decide(row, "declined", key_id, reason[:500]), f"{row.kind}_declined"

    def _decide(self, row: sa.Row, status: str, key_id: str | None, reason: str | None) -> Approval:
        now = self.clock.now()
        with self.engine.begin() as conn:
            n = conn.execute(compensation_approvals.update().where(
                compensation_approvals.c.id == row.id, compensation_approvals.c.status == "pending").values(
                status=status, decided_by=key_id, decided_at=now, decline_reason=reason)).rowcount
            if not n:
                raise Conflict(f"approval {row.id} was decided by someone else meanwhile; reload it")
            d = conn.execute(sa.select(drafts).where(drafts.c.id == row.draft_id)).first()
            if d is not None:
                feedback.append(conn, at=now, shop_id=row.shop_id, event=f"{row.kind}_{status}", result=to_result(d),
                                key_id=key_id, amount_yuan=row.amount_yuan, cause=row.cause, approval_id=row.id,
                                **({"reason": reason} if reason else {}))
            to_run = None
            if status == "approved" and self.desk is not None:
                to_run = self.desk.record_issue(conn, shop_id=row.shop_id, draft_id=row.draft_id, order_id=row.order_id,
                                                index=row.action_index, kind=row.kind, amount=row.amount_yuan,
                                                facts=to_result(d).facts if d is not None else None, key_id=key_id)
        if to_run:
            self.desk.run_many(row.shop_id, [to_run])
        return self.get(row.shop_id, row.id)

    def given_per_week(self, shop_id: str, *, since: datetime | None = None) -> builtins.list[dict[str, Any]]:
        """Compensation given (approved), per ISO week of the approval in the shop's timezone, per cause
        and kind: ``{"week": "2026-W46", "cause", "kind", "count", "yuan"}`` (for insights)."""
        tz = self.shops.get(shop_id).settings.zone
        q = sa.select(compensation_approvals).where(compensation_approvals.c.shop_id == shop_id,
                                                    compensation_approvals.c.status == "approved")
        if since is not None:
            q = q.where(compensation_approvals.c.decided_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        acc: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: {"count": 0, "yuan": 0.0})
        for r in rows:
            at = utc(r.decided_at or r.requested_at).astimezone(tz)  # type: ignore[union-attr]
            y, w, _ = at.isocalendar()
            cell = acc[(f"{y}-W{w:02d}", r.cause, r.kind)]
            cell["count"] += 1
            cell["yuan"] += float(r.amount_yuan or 0)
        return [{"week": k[0], "cause": k[1], "kind": k[2], "count": v["count"], "yuan": round(v["yuan"], 2)}
                for k, v in sorted(acc.items())]

    def _row(self, shop_id: str, approval_id: str) -> sa.Row:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(compensation_approvals).where(
                compensation_approvals.c.id == approval_id, compensation_approvals.c.shop_id == shop_id)).first()
        if row is None:
            raise ApprovalNotFound(f"approval {approval_id!r} not found")
        return row


def _approval(r: sa.Row) -> Approval:
    return Approval(id=r.id, draft_id=r.draft_id, order_id=r.order_id, kind=r.kind, amount_yuan=r.amount_yuan,
                    gift=r.gift, cause=r.cause, reason=r.reason, status=r.status, requested_by=r.requested_by,
                    requested_at=utc(r.requested_at), decided_by=r.decided_by,  # type: ignore[arg-type]
                    decided_at=utc(r.decided_at), decline_reason=r.decline_reason)
