"""Stored drafts: what agents review. The raw buyer text lives only here (a retention job may purge it)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import utc
from core.errors import InvalidInput
from core.tables import drafts
from drafter.errors import DraftNotFound
from drafter.guard import GuardReport
from drafter.result import DraftResult
from drafter.situation import Situation

STATUSES = ("pending", "approved", "rejected", "sent", "superseded")


class DraftItem(DraftResult):
    """A stored draft as the review queue shows it: the result plus what it answered."""

    order_id: str
    message: str
    context: list[dict[str, Any]] = []
    created_at: datetime
    final_text: str | None = None
    reject_reason: str | None = None
    note: str | None = None
    # When the buyer's message arrived (the queue is oldest-waiting first and times from it).
    received_at: datetime | None = None
    # Once approved: the claim check of the text as approved, and the agent's reason when it was flagged.
    final_guard: GuardReport | None = None
    override_reason: str | None = None
    decided_at: datetime | None = None


def to_result(row: sa.Row) -> DraftResult:
    return DraftResult.model_validate_json(row.result_json).model_copy(update={"status": row.status})


def to_item(row: Any) -> DraftItem:  # a drafts row, or the values Review.create wrote
    data = json.loads(row.result_json)
    data.update(status=row.status, order_id=row.order_id, message=row.message, context=json.loads(row.context_json),
                created_at=utc(row.created_at), final_text=row.final_text, reject_reason=row.reject_reason,
                note=row.note, received_at=utc(row.received_at or row.created_at),
                final_guard=json.loads(row.final_guard_json) if row.final_guard_json else None,
                override_reason=row.override_reason, decided_at=utc(row.decided_at) if row.decided_at else None)
    return DraftItem.model_validate(data)


def situation_of(row: sa.Row) -> Situation | None:
    return Situation.model_validate_json(row.situation_json) if row.situation_json else None


class DraftStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def row(self, shop_id: str, draft_id: str) -> sa.Row:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(drafts).where(drafts.c.id == draft_id, drafts.c.shop_id == shop_id)).first()
        if row is None:
            raise DraftNotFound(f"draft {draft_id!r} not found")
        return row

    def get(self, shop_id: str, draft_id: str) -> DraftResult:
        return to_result(self.row(shop_id, draft_id))

    def item(self, shop_id: str, draft_id: str) -> DraftItem:
        return to_item(self.row(shop_id, draft_id))

    def list(self, shop_id: str, *, status: str | None = "pending", limit: int = 20,
             cursor: str | None = None, sort: str = "newest") -> tuple[list[DraftItem], str | None]:
        """Newest first, or (``sort="waiting"``) the buyer who has waited longest first; keyset-paginated
        (a cursor stays valid while new drafts arrive)."""
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        if sort not in ("newest", "waiting", "decided"):
            raise InvalidInput("sort must be newest, waiting or decided", field="sort")
        # waiting: from when the buyer's message arrived; decided: the latest decisions first (history).
        key = {"newest": drafts.c.created_at, "waiting": sa.func.coalesce(drafts.c.received_at, drafts.c.created_at),
               "decided": sa.func.coalesce(drafts.c.decided_at, drafts.c.updated_at)}[sort]
        q = sa.select(drafts, key.label("sort_at")).where(drafts.c.shop_id == shop_id)
        if status:
            q = q.where(drafts.c.status == status)
        ascending = sort == "waiting"
        if cursor:
            at, did = _decode(cursor)
            if ascending:
                q = q.where(sa.or_(key > at, sa.and_(key == at, drafts.c.id > did)))
            else:
                q = q.where(sa.or_(key < at, sa.and_(key == at, drafts.c.id < did)))
        order = (key.asc(), drafts.c.id.asc()) if ascending else (key.desc(), drafts.c.id.desc())
        q = q.order_by(*order).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [to_item(r) for r in rows[:limit]]
        nxt = _encode(rows[limit - 1].sort_at, rows[limit - 1].id) if len(rows) > limit else None
        return items, nxt


def _encode(at: datetime, draft_id: str) -> str:
    return base64.urlsafe_b64encode(f"{utc(at).isoformat()}|{draft_id}".encode()).decode()  # type: ignore[union-attr]


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        at, did = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), did
    except Exception as exc:
        raise InvalidInput("cursor is not one this API gave out", field="cursor") from exc
