"""The draft lifecycle: pending → approved (as is, or edited) | rejected → sent; newer drafts supersede.

Every transition is one conditional UPDATE plus its feedback event in a single transaction, so
two agents racing on one draft get one winner and one clear 409, and an acknowledged decision
is on disk exactly once. Repeating the same decision returns the same outcome and logs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.clock import Clock
from core.ids import new_id
from core.tables import drafts
from drafter import feedback
from drafter.drafts import DraftItem, DraftStore, situation_of, to_item, to_result
from drafter.errors import IllegalTransition
from drafter.guard import Violation
from drafter.guard import check as guard_check
from drafter.insights import events as urge_events
from drafter.redact import redact
from drafter.request import DraftRequest
from drafter.result import DraftResult
from drafter.situation import Situation

RejectReason = Literal["wrong_facts", "wrong_tone", "not_needed", "policy_violation", "other"]
REJECT_REASONS: tuple[str, ...] = ("wrong_facts", "wrong_tone", "not_needed", "policy_violation", "other")


@dataclass
class Decision:
    draft: DraftItem
    event: str | None                 # None when the request repeated an earlier decision
    warnings: list[Violation]


class Review:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.store = DraftStore(engine, clock)

    # -- creation -------------------------------------------------------------------------------
    def create(self, shop_id: str, request: DraftRequest, result: DraftResult, situation: Situation | None,
               key_id: str | None) -> DraftItem:
        """Store a new pending draft; older pending drafts for the same order are superseded."""
        now = self.clock.now()
        stored = result.model_copy(update={"id": new_id("d", now), "status": "pending"})
        with self.engine.begin() as conn:
            older = conn.execute(sa.select(drafts).where(
                drafts.c.shop_id == shop_id, drafts.c.order_id == request.order_id,
                drafts.c.status == "pending")).all()
            for row in older:
                done = conn.execute(drafts.update().where(drafts.c.id == row.id, drafts.c.status == "pending")
                                    .values(status="superseded", updated_at=now)).rowcount
                if done:
                    feedback.append(conn, at=now, shop_id=shop_id, event="superseded", result=to_result(row),
                                    key_id=key_id, superseded_by=stored.id)
            conn.execute(drafts.insert().values(
                id=stored.id, shop_id=shop_id, order_id=request.order_id, status="pending",
                intent_kind=stored.intent.kind, composer=stored.composer, message=request.message,
                context_json=json.dumps([c.model_dump(mode="json") for c in request.context], ensure_ascii=False),
                result_json=stored.model_dump_json(), created_by=key_id, created_at=now, updated_at=now,
                situation_json=situation.model_dump_json() if situation else None))
            feedback.append(conn, at=now, shop_id=shop_id, event="draft_created", result=stored, key_id=key_id,
                            message=redact(request.message), order_id=request.order_id)
        return self.store.item(shop_id, stored.id)  # type: ignore[arg-type]

    # -- decisions --------------------------------------------------------------------------------
    def approve(self, shop_id: str, draft_id: str, final_text: str | None, key_id: str | None) -> Decision:
        row = self.store.row(shop_id, draft_id)
        result = to_result(row)
        final = final_text if final_text is not None and final_text.strip() else result.text
        edited = final != result.text
        warnings: list[Violation] = []
        if edited:
            situation = situation_of(row)
            if situation is not None:
                warnings = guard_check(final, situation, known_refs=(row.order_id,)).violations
        if row.status in ("approved", "sent"):
            if (row.final_text or result.text) == final:
                return Decision(to_item(row), None, warnings)
            raise IllegalTransition(f"draft {draft_id} was already approved with a different text")
        if row.status != "pending":
            raise IllegalTransition(f"draft {draft_id} is {row.status}; only a pending draft can be approved")
        now = self.clock.now()
        event = "edited" if edited else "approved"
        try:
            with self.engine.begin() as conn:
                self._transition(conn, row, "approved", final_text=final, decided_at=now, decided_by=key_id)
                extra = {}
                if edited:
                    extra = {"final_text": redact(final), "diff": redact(feedback.text_diff(result.text, final)),
                             "edit_distance": feedback.edit_distance(result.text, final),
                             "warnings": [w.model_dump() for w in warnings]}
                feedback.append(conn, at=now, shop_id=shop_id, event=event, result=result, key_id=key_id, **extra)
                urge_events.mark_decision(conn, draft_id, event, now, key_id)
        except IllegalTransition:
            again = self.store.row(shop_id, draft_id)  # a concurrent twin of this very request won
            if again.status in ("approved", "sent") and again.final_text == final:
                return Decision(to_item(again), None, warnings)
            raise
        return Decision(self.store.item(shop_id, draft_id), event, warnings)

    def reject(self, shop_id: str, draft_id: str, reason: str, note: str | None, key_id: str | None) -> Decision:
        if reason not in REJECT_REASONS:
            from core.errors import InvalidInput

            raise InvalidInput(f"reason must be one of {', '.join(REJECT_REASONS)}", field="reason")
        row = self.store.row(shop_id, draft_id)
        if row.status == "rejected" and row.reject_reason == reason:
            return Decision(to_item(row), None, [])
        if row.status != "pending":
            raise IllegalTransition(f"draft {draft_id} is {row.status}; only a pending draft can be rejected")
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                self._transition(conn, row, "rejected", reject_reason=reason, note=note, decided_at=now,
                                 decided_by=key_id)
                feedback.append(conn, at=now, shop_id=shop_id, event="rejected", result=to_result(row),
                                key_id=key_id, reason=reason, note=redact(note))
                urge_events.mark_decision(conn, draft_id, "rejected", now, key_id)
        except IllegalTransition:
            again = self.store.row(shop_id, draft_id)
            if again.status == "rejected" and again.reject_reason == reason:
                return Decision(to_item(again), None, [])
            raise
        return Decision(self.store.item(shop_id, draft_id), "rejected", [])

    def inserted(self, shop_id: str, draft_id: str, key_id: str | None) -> Decision:
        """The approved text was put into the chat box (not yet sent): an event, no status change."""
        row = self.store.row(shop_id, draft_id)
        if row.status not in ("approved", "sent"):
            raise IllegalTransition(f"draft {draft_id} is {row.status}; only an approved draft can be inserted")
        now = self.clock.now()
        with self.engine.begin() as conn:
            feedback.append(conn, at=now, shop_id=shop_id, event="inserted", result=to_result(row), key_id=key_id)
            urge_events.mark_inserted(conn, draft_id, now)
        return Decision(to_item(row), "inserted", [])

    def sent(self, shop_id: str, draft_id: str, key_id: str | None) -> Decision:
        row = self.store.row(shop_id, draft_id)
        if row.status == "sent":
            return Decision(to_item(row), None, [])
        if row.status != "approved":
            raise IllegalTransition(f"draft {draft_id} is {row.status}; only an approved draft can be sent")
        now = self.clock.now()
        with self.engine.begin() as conn:
            self._transition(conn, row, "sent")
            feedback.append(conn, at=now, shop_id=shop_id, event="sent", result=to_result(row), key_id=key_id,
                            final_text=redact(row.final_text))
            urge_events.mark_sent(conn, draft_id, now)
        return Decision(self.store.item(shop_id, draft_id), "sent", [])

    def _transition(self, conn: Connection, row: sa.Row, to: str, **values: object) -> None:
        done = conn.execute(drafts.update().where(drafts.c.id == row.id, drafts.c.status == row.status)
                            .values(status=to, updated_at=self.clock.now(), **values)).rowcount
        if not done:  # someone else decided between our read and our write
            raise IllegalTransition(f"draft {row.id} changed while this decision was made; reload it")
