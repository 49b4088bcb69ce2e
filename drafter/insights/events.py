"""Urge events: what each stored draft tells about the shop's shipping, never what the buyer wrote.

A row is written once per stored draft (``record``) and holds only facts read from the situation and the
order (state, cause, SKU, warehouse, carrier), each string passed through ``redact``. Its response-time
columns are filled later, once each (``mark_*`` run in the review transaction and only touch NULLs), so
the facts of an event are never rewritten. Each write also updates the hourly rollups (``rollup.py``) in
the same transaction, so the insight queries over long ranges count exactly what the events hold.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.tables import urge_events
from drafter.insights import rollup
from drafter.redact import redact
from drafter.result import DraftResult
from drafter.situation import Situation

__all__ = ["CAUSES", "URGE_KINDS", "append", "extract", "mark_decision", "mark_inserted", "mark_sent", "record",
           "values"]

# Intent kinds that count as an urge about shipping (a message the classifier calls "other" does not).
URGE_KINDS = ("urge", "logistics", "complaint", "change_request")

# Why the buyer is waiting, from the situation; the first that applies wins (most actionable first).
CAUSES = ("stock_error", "courier_stall", "delivery_failed", "out_of_stock", "notice_delay", "overdue",
          "presale", "at_pickup", "in_transit", "awaiting", "signed", "refund", "closed", "unpaid", "unknown")


def _pending_sku(situation: Situation) -> tuple[str | None, bool]:
    """The line the buyer is waiting for: an out-of-stock line with a passed restock date first."""
    waiting = [ln for ln in situation.lines if ln.state == "waiting_stock"]
    for ln in sorted(waiting, key=lambda ln: not ln.stale_restock):
        if ln.sku:
            return ln.sku, ln.stale_restock
    for ln in situation.lines:
        if ln.state not in ("shipped", "refunded", "closed") and ln.sku:
            return ln.sku, False
    return None, False


def _cause(s: Situation, stale: bool) -> str:
    phases = {v.phase for v in s.shipments}
    if stale and s.state in ("out_of_stock", "partial", "awaiting_dispatch"):
        return "stock_error"
    if s.state == "stuck":
        return "courier_stall"
    if "delivery_failed" in phases and s.state in ("shipped", "partial"):
        return "delivery_failed"
    if s.state == "out_of_stock" or (s.state == "partial" and any(p.stock == "out_of_stock" for p in s.pending_items)):
        return "out_of_stock"
    if s.state in ("awaiting_dispatch", "partial") and (s.backlog or s.closure):
        return "notice_delay"
    if s.overdue and s.state in ("awaiting_dispatch", "partial"):
        return "overdue"
    if s.state == "presale":
        return "presale"
    if s.state in ("shipped", "partial") and "pickup_point" in phases:
        return "at_pickup"
    if s.state in ("shipped", "partial"):
        return "in_transit"
    if s.state == "awaiting_dispatch":
        return "awaiting"
    if s.state in ("signed", "returned"):
        return "signed"
    if s.state == "refunding":
        return "refund"
    if s.state in ("closed", "forbidden"):
        return "closed"
    if s.state == "unpaid":
        return "unpaid"
    return "unknown"


def extract(result: DraftResult, situation: Situation | None) -> dict[str, Any]:
    """The event's facts (redacted) from a draft and its situation."""
    facts = result.facts or {}
    skus = [str(it.get("sku")) for it in facts.get("items") or [] if it.get("sku")]
    if situation is None:
        return {"state": "unknown", "cause": "unknown", "sku": skus[0] if skus else None, "skus": skus,
                "warehouse": facts.get("warehouse"), "carrier": None, "overdue": False, "overdue_days": 0,
                "restock_passed": False}
    sku, stale = _pending_sku(situation)
    stuck = [v for v in situation.shipments if v.stuck]
    parcel = stuck[0] if stuck else (situation.shipments[-1] if situation.shipments else None)
    if stuck and stuck[0].lines:  # the parcel that stopped says which line the buyer waits for
        sku = situation.lines[stuck[0].lines[0]].sku or sku
    if sku is None and skus:
        sku = skus[0]
    # A warehouse or store code is what the source gives: on the order, or on the waiting line.
    warehouse = facts.get("warehouse") or facts.get("store_code")
    if warehouse is None and sku:
        line: dict[str, Any] = next((it for it in facts.get("items") or [] if it.get("sku") == sku), {})
        warehouse = line.get("warehouse") or line.get("store_code")
    return {"state": situation.state, "cause": _cause(situation, stale), "sku": sku, "skus": skus,
            "warehouse": warehouse, "carrier": parcel.carrier if parcel else None,
            "overdue": situation.overdue, "overdue_days": situation.overdue_days, "restock_passed": stale}


def _clip(value: Any, n: int) -> str | None:
    if value is None or value == "":
        return None
    return (redact(str(value)) or "")[:n]


def record(conn: Connection | Engine, *, shop_id: str, order_id: str, draft_id: str | None, received_at: datetime,
           drafted_at: datetime, result: DraftResult, situation: Situation | None, created_by: str | None) -> None:
    """Append the urge event of one stored draft."""
    row = values(shop_id=shop_id, order_id=order_id, draft_id=draft_id, received_at=received_at,
                 drafted_at=drafted_at, result=result, situation=situation, created_by=created_by)
    if isinstance(conn, Engine):
        with conn.begin() as c:
            append(c, row)
    else:
        append(conn, row)


def values(*, shop_id: str, order_id: str, draft_id: str | None, received_at: datetime, drafted_at: datetime,
           result: DraftResult, situation: Situation | None, created_by: str | None) -> dict[str, Any]:
    """The urge event row of one stored draft (``record`` writes it; ``Review.create`` writes it with the draft)."""
    e = extract(result, situation)
    row = dict(
        shop_id=shop_id, draft_id=draft_id, order_id=_clip(order_id, 64), received_at=received_at,
        drafted_at=drafted_at, intent_kind=result.intent.kind, repeat=int(result.intent.repeat or 0),
        state=e["state"], cause=e["cause"], overdue=bool(e["overdue"]), overdue_days=int(e["overdue_days"]),
        restock_passed=bool(e["restock_passed"]), needs_human=result.needs_human, sku=_clip(e["sku"], 100),
        skus_json=json.dumps([_clip(s, 100) for s in e["skus"]][:20], ensure_ascii=False),
        warehouse=_clip(e["warehouse"], 64), carrier=_clip(e["carrier"], 64), created_by=created_by)
    return row


def append(conn: Connection, values: dict[str, Any]) -> None:
    """Insert one prepared event row (columns of ``urge_events``; ``received_at``, ``drafted_at`` aware) and
    count it in the rollups. What ``record`` does after ``extract``; simulators and tests that write events
    directly go through here too, or the long-range insights would not see them. A row may come with its
    decision and response times already filled in (an import): they are counted as ``mark_*`` counts them."""
    conn.execute(urge_events.insert().values(**values))
    urge = values["intent_kind"] in URGE_KINDS
    rollup.add_event(conn, values, urge=urge)
    if values.get("decided_at") is not None:
        rollup.add_decision(conn, values, values.get("decision"), values.get("decided_by"), values["decided_at"],
                            urge=urge)
    for stage in ("inserted", "sent"):
        if values.get(f"{stage}_at") is not None:
            rollup.add_stage(conn, values, stage, values[f"{stage}_at"])


# What the rollups need of an event whose response is marked (RETURNING: only rows this very update changed).
_MARKED = (urge_events.c.shop_id, urge_events.c.received_at, urge_events.c.intent_kind, urge_events.c.state)


def mark_decision(conn: Connection, draft_id: str, decision: str, at: datetime, key_id: str | None) -> None:
    """approved | edited | rejected, by whom and when (first decision only)."""
    for ev in conn.execute(urge_events.update().where(urge_events.c.draft_id == draft_id,
                                                      urge_events.c.decided_at.is_(None))
                           .values(decision=decision, decided_at=at, decided_by=key_id).returning(*_MARKED)).all():
        rollup.add_decision(conn, ev._mapping, decision, key_id, at, urge=ev.intent_kind in URGE_KINDS)


def mark_inserted(conn: Connection, draft_id: str, at: datetime) -> None:
    for ev in conn.execute(urge_events.update().where(urge_events.c.draft_id == draft_id,
                                                      urge_events.c.inserted_at.is_(None))
                           .values(inserted_at=at).returning(*_MARKED)).all():
        rollup.add_stage(conn, ev._mapping, "inserted", at)


def mark_sent(conn: Connection, draft_id: str, at: datetime) -> None:
    for ev in conn.execute(urge_events.update().where(urge_events.c.draft_id == draft_id,
                                                      urge_events.c.sent_at.is_(None))
                           .values(sent_at=at).returning(*_MARKED)).all():
        rollup.add_stage(conn, ev._mapping, "sent", at)


def urge_kinds_filter() -> sa.ColumnElement[bool]:
    return urge_events.c.intent_kind.in_(URGE_KINDS)
