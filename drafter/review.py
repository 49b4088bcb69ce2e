"""The draft lifecycle: pending → approved (as is, or edited) | rejected → sent; newer drafts supersede.

Every transition is one conditional UPDATE plus its feedback event in a single transaction, so
two agents racing on one draft get one winner and one clear 409, and an acknowledged decision
is on disk exactly once. Repeating the same decision returns the same outcome and logs nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.clock import Clock
from core.db import utc
from core.ids import new_id
from core.tables import drafts, feedback_events
from drafter import feedback
from drafter.claim_check import check_text
from drafter.drafts import DraftItem, DraftStore, to_item, to_result
from drafter.errors import ClaimCheckFailed, IllegalTransition
from drafter.guard import GuardReport, Violation
from drafter.insights import events as urge_events
from drafter.redact import redact
from drafter.request import DraftRequest
from drafter.result import DraftResult
from drafter.situation import Situation
from knowledge.shops import ShopStore

log = logging.getLogger("replydesk.drafts")

RejectReason = Literal["wrong_facts", "wrong_tone", "not_needed", "policy_violation", "other"]
REJECT_REASONS: tuple[str, ...] = ("wrong_facts", "wrong_tone", "not_needed", "policy_violation", "other")


@dataclass
class Decision:
    draft: DraftItem
    event: str | None                 # None when the request repeated an earlier decision
    warnings: list[Violation]
    tasks: list[Any] = field(default_factory=list)       # drafter.tasks.Task made from the accepted actions
    approvals: list[Any] = field(default_factory=list)   # drafter.compensation.Approval requests


class Review:
    def __init__(self, engine: Engine, clock: Clock, desk: Any = None, compensation: Any = None) -> None:
        self.engine = engine
        self.clock = clock
        self.store = DraftStore(engine, clock)
        # drafter.tasks.ActionDesk: approving carries out the accepted actions (None: actions stay proposals)
        self.desk = desk
        self.compensation = compensation  # drafter.compensation.Compensation (to list a draft's requests)

    def _outcomes(self, shop_id: str, draft_id: str) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"tasks": [], "approvals": []}
        if self.desk is not None:
            out["tasks"] = self.desk.list(shop_id, status=None, draft_id=draft_id)
        if self.compensation is not None:
            out["approvals"] = self.compensation.list(shop_id, status=None, draft_id=draft_id)
        return out

    def _done(self, shop_id: str, row: sa.Row) -> dict[str, str] | None:
        """What has been done for the draft's order: only that may be said to be done (issue 18)."""
        return self.desk.done_actions(shop_id, row.order_id) if self.desk is not None else None

    # -- creation -------------------------------------------------------------------------------
    def create(self, shop_id: str, request: DraftRequest, result: DraftResult, situation: Situation | None,
               key_id: str | None, *, urge_event: bool = False) -> DraftItem:
        """Store a new pending draft; older pending drafts for the same order are superseded.

        One transaction of four statements whatever the number of older drafts: the supersede is one
        ``UPDATE ... RETURNING``, the feedback events one batched insert, and with ``urge_event`` the draft's
        urge event (``drafter/insights/events.py``) is written with it. The urge event must never cost the
        agent a draft: if it cannot be made, or the transaction with it fails, the draft is stored without it
        and the failure logged. The returned item is built from the values written, not read back.
        """
        now = self.clock.now()
        # An LLM draft arrives with its id (its logged model calls carry it); a template draft gets one here.
        stored = result.model_copy(update={"id": result.id or new_id("d", now), "status": "pending"})
        received_at = request.received_at or now
        row = dict(id=stored.id, shop_id=shop_id, order_id=request.order_id, status="pending",
                   intent_kind=stored.intent.kind, composer=stored.composer, message=request.message,
                   context_json=json.dumps([c.model_dump(mode="json") for c in request.context], ensure_ascii=False),
                   result_json=stored.model_dump_json(), created_by=key_id, created_at=now, updated_at=now,
                   received_at=received_at, situation_json=situation.model_dump_json() if situation else None)
        created = feedback.values(at=now, shop_id=shop_id, event="draft_created", result=stored, key_id=key_id,
                                  message=redact(request.message), order_id=request.order_id)
        urge: dict[str, Any] | None = None
        if urge_event:
            try:
                urge = urge_events.values(shop_id=shop_id, order_id=request.order_id, draft_id=stored.id,
                                          received_at=received_at, drafted_at=now, result=result,
                                          situation=situation, created_by=key_id)
            except Exception:
                log.exception("could not make the urge event of draft %s", stored.id)

        def write(urge: dict[str, Any] | None) -> None:
            with self.engine.begin() as conn:
                older = conn.execute(drafts.update().where(
                    drafts.c.shop_id == shop_id, drafts.c.order_id == request.order_id, drafts.c.status == "pending")
                    .values(status="superseded", updated_at=now).returning(*drafts.c)).all()
                conn.execute(drafts.insert(), row)
                events = [feedback.values(at=now, shop_id=shop_id, event="superseded", result=to_result(old),
                                          key_id=key_id, superseded_by=stored.id) for old in older]
                conn.execute(feedback_events.insert(), [*events, created])
                if urge is not None:
                    urge_events.append(conn, urge)  # with its hourly rollups, in the same transaction

        if urge is None:
            write(None)
        else:
            try:
                write(urge)
            except Exception:
                log.exception("could not store draft %s with its urge event; storing it without", stored.id)
                write(None)
        # What ``to_item`` reads of a drafts row: the columns written, the decision columns still empty.
        return to_item(SimpleNamespace(**{**row, "created_at": utc(now), "received_at": utc(received_at)},
                                       final_text=None, reject_reason=None, note=None, final_guard_json=None,
                                       override_reason=None, decided_at=None))

    # -- decisions --------------------------------------------------------------------------------
    def check(self, shop_id: str, draft_id: str, text: str) -> GuardReport:
        """The claim check of ``text`` (an agent's edit, as it is typed) against the draft's facts."""
        row = self.store.row(shop_id, draft_id)
        return check_text(row, text, done=self._done(shop_id, row))

    def approve(self, shop_id: str, draft_id: str, final_text: str | None, key_id: str | None, *,
                override_reason: str | None = None, accepted: list[Any] | None = None,
                confirmed_needs_human: bool = False) -> Decision:
        """Approve as is or edited. Text the claim check flags needs ``override_reason`` (logged), unless the
        shop refuses such approvals outright (``review.block_violations``).

        The accepted actions (``drafter.tasks.Accepted``; None: the shop's defaults) become tasks and
        compensation requests, carried out after the decision is stored. A step the text promises but the
        approval leaves out is flagged like any other claim (``promise_not_taken``). A repeated approval
        returns the first one's outcome and does nothing again. ``confirmed_needs_human``: the agent was shown
        why the draft needs a person and confirmed (the pages ask; the log keeps the answer)."""
        row = self.store.row(shop_id, draft_id)
        result = to_result(row)
        final = final_text if final_text is not None and final_text.strip() else result.text
        edited = final != result.text
        if row.status in ("approved", "sent"):
            if (row.final_text or result.text) == final:
                return Decision(to_item(row), None, _stored_warnings(row), **self._outcomes(shop_id, draft_id))
            raise IllegalTransition(f"draft {draft_id} was already approved with a different text")
        if row.status != "pending":
            raise IllegalTransition(f"draft {draft_id} is {row.status}; only a pending draft can be approved")
        # Checked before anything is written: a bad choice (an amount over the limit) leaves the draft pending.
        plan = self.desk.plan(shop_id, result, accepted) if self.desk is not None else []
        done = self._done(shop_id, row)
        report = check_text(row, final, done=done) if edited or row.situation_json else result.guard
        warnings = report.violations
        override = (override_reason or "").strip() or None
        if warnings or not report.ok:
            listed = [w.model_dump() for w in warnings]
            if ShopStore(self.engine, self.clock).get(shop_id).settings.review.block_violations:
                raise ClaimCheckFailed("the claim check flags this text and this shop does not approve flagged "
                                       "replies: fix the text or reject the draft", code="claim_check_refused",
                                       violations=listed)
            if override is None:
                raise ClaimCheckFailed("the claim check flags this text: fix it, or approve anyway with an "
                                       "override_reason (it is logged)", code="override_required",
                                       violations=listed)
        else:
            override = None  # nothing to override: a stray reason is not logged as an override
        if self.desk is not None:
            # A step the text promises but the approval leaves out: told to the agent with the outcome (it is
            # about the actions, not a claim of the text, so it does not need an override).
            from drafter.tasks import untaken_promises

            warnings = warnings + untaken_promises(final, result, plan)
        now = self.clock.now()
        event = "edited" if edited else "approved"
        to_run: list[str] = []
        try:
            with self.engine.begin() as conn:
                self._transition(conn, row, "approved", final_text=final, decided_at=now, decided_by=key_id,
                                 final_guard_json=report.model_dump_json(), override_reason=override)
                extra: dict[str, object] = {"final_check": report.model_dump()}
                if result.needs_human:
                    extra["needs_human_confirmed"] = confirmed_needs_human
                if override:
                    extra["override"] = {"reason": redact(override), "violations": [w.model_dump() for w in warnings]}
                if edited:
                    extra |= {"final_text": redact(final), "diff": redact(feedback.text_diff(result.text, final)),
                              "edit_distance": feedback.edit_distance(result.text, final),
                              "warnings": [w.model_dump() for w in warnings]}
                feedback.append(conn, at=now, shop_id=shop_id, event=event, result=result, key_id=key_id, **extra)
                urge_events.mark_decision(conn, draft_id, event, now, key_id)
                if self.desk is not None and plan:
                    stored = result.model_copy(update={"id": row.id})
                    to_run = self.desk.record(conn, shop_id=shop_id, draft_id=row.id, order_id=row.order_id,
                                              result=stored, plan=plan, key_id=key_id)
        except IllegalTransition:
            again = self.store.row(shop_id, draft_id)  # a concurrent twin of this very request won
            if again.status in ("approved", "sent") and again.final_text == final:
                return Decision(to_item(again), None, warnings, **self._outcomes(shop_id, draft_id))
            raise
        if self.desk is not None and to_run:
            self.desk.run_many(shop_id, to_run)
            if edited and warnings:  # a step done just now may be what the edited text says is done
                kept = [w for w in warnings if w.kind == "promise_not_taken"]
                warnings = check_text(row, final, done=self._done(shop_id, row)).violations + kept
        return Decision(self.store.item(shop_id, draft_id), event, warnings, **self._outcomes(shop_id, draft_id))

    def unapprove(self, shop_id: str, draft_id: str, key_id: str | None) -> Decision:
        """Undo an approval while the reply has not been sent: the draft is pending again, the edit kept."""
        row = self.store.row(shop_id, draft_id)
        if row.status == "pending":
            return Decision(to_item(row), None, [])
        if row.status != "approved":
            raise IllegalTransition(f"draft {draft_id} is {row.status}; only an approved, unsent draft can be "
                                    "taken back")
        now = self.clock.now()
        with self.engine.begin() as conn:
            self._transition(conn, row, "pending", decided_at=None, decided_by=None, final_guard_json=None,
                             override_reason=None)
            feedback.append(conn, at=now, shop_id=shop_id, event="unapproved", result=to_result(row), key_id=key_id,
                            final_text=redact(row.final_text))
        return Decision(self.store.item(shop_id, draft_id), "unapproved", [])

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


def _stored_warnings(row: sa.Row) -> list[Violation]:
    return GuardReport.model_validate_json(row.final_guard_json).violations if row.final_guard_json else []
