"""Stored drafts: what the agent reviews. The raw buyer text lives only here."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import utc
from core.ids import new_id
from core.tables import drafts
from drafter.errors import DraftNotFound
from drafter.request import DraftRequest
from drafter.result import DraftResult


class DraftStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def save(self, shop_id: str, request: DraftRequest, result: DraftResult,
             created_by: str | None = None) -> DraftResult:
        now = self.clock.now()
        stored = result.model_copy(update={"id": new_id("d", now), "status": "pending"})
        with self.engine.begin() as conn:
            conn.execute(drafts.insert().values(
                id=stored.id, shop_id=shop_id, order_id=request.order_id, status="pending",
                intent_kind=stored.intent.kind, composer=stored.composer, message=request.message,
                context_json=json.dumps([c.model_dump(mode="json") for c in request.context], ensure_ascii=False),
                result_json=stored.model_dump_json(), created_by=created_by, created_at=now, updated_at=now))
        return stored

    def get(self, shop_id: str, draft_id: str) -> DraftResult:
        row = self.row(shop_id, draft_id)
        return DraftResult.model_validate_json(row.result_json).model_copy(update={"status": row.status})

    def row(self, shop_id: str, draft_id: str) -> sa.Row:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(drafts).where(drafts.c.id == draft_id, drafts.c.shop_id == shop_id)).first()
        if row is None:
            raise DraftNotFound(f"draft {draft_id!r} not found")
        return row

    def created_at(self, shop_id: str, draft_id: str) -> datetime:
        return utc(self.row(shop_id, draft_id).created_at)  # type: ignore[return-value]
