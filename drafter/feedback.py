"""The feedback log: append-only events of every draft's life, and what managers learn from them.

Rows are inserted, never updated or deleted, so every text in them is redacted before it is
written (the raw buyer text stays only in the drafts table). Events are written in the same
transaction as the draft's status change, so an acknowledged decision is on disk, exactly once.
"""

from __future__ import annotations

import difflib
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.db import utc
from core.tables import drafts, feedback_events
from drafter.redact import redact, redact_record
from drafter.result import DraftResult

EVENTS = ("draft_created", "approved", "edited", "rejected", "inserted", "sent", "superseded", "unapproved",
          # compensation (issue 18): one of each per draft and kind, like every decision event
          "coupon_requested", "coupon_approved", "coupon_declined", "gift_requested", "gift_approved", "gift_declined")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters (row by row: O(len(a)·len(b)) time, O(len(b)) memory)."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def text_diff(a: str, b: str) -> str:
    return "\n".join(difflib.unified_diff(a.splitlines() or [""], b.splitlines() or [""], "draft", "final",
                                          lineterm=""))


def append(conn: Connection, *, at: datetime, shop_id: str, event: str, result: DraftResult,
           key_id: str | None, **payload: Any) -> None:
    """Write one event inside the caller's transaction. ``payload`` texts must already be redacted."""
    conn.execute(feedback_events.insert().values(**values(at=at, shop_id=shop_id, event=event, result=result,
                                                          key_id=key_id, **payload)))


def values(*, at: datetime, shop_id: str, event: str, result: DraftResult, key_id: str | None,
           **payload: Any) -> dict[str, Any]:
    """The row of one event (``append`` writes it; a caller writing several at once inserts these)."""
    assert event in EVENTS, event
    base = {
        "citations": [c.model_dump(exclude_none=True) for c in result.citations if c.kind != "order"],
        "facts": redact_record(result.facts),
        "guard": result.guard.model_dump(),
        "needs_human": result.needs_human,
        "draft_text": redact(result.text),
    }
    return dict(
        at=at, shop_id=shop_id, event=event, draft_id=result.id, key_id=key_id,
        prompt_name=result.prompt.name, prompt_version=result.prompt.version, prompt_hash=result.prompt.hash,
        composer=result.composer, model=result.model, intent_kind=result.intent.kind,
        payload_json=json.dumps({**base, **payload}, ensure_ascii=False, default=str))


def _row(r: sa.Row) -> dict[str, Any]:
    return {"id": r.id, "at": utc(r.at).isoformat(), "event": r.event, "draft_id": r.draft_id,  # type: ignore[union-attr]
            "key_id": r.key_id, "prompt": {"name": r.prompt_name, "version": r.prompt_version, "hash": r.prompt_hash},
            "composer": r.composer, "model": r.model, "intent": r.intent_kind, **json.loads(r.payload_json)}


class FeedbackLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events(self, shop_id: str, *, since: datetime | None = None, draft_id: str | None = None,
               batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every event of a shop in order, streamed in batches (an export can be large)."""
        last = 0
        while True:
            q = sa.select(feedback_events).where(feedback_events.c.shop_id == shop_id,
                                                 feedback_events.c.id > last).order_by(feedback_events.c.id).limit(batch)
            if since:
                q = q.where(feedback_events.c.at >= since)
            if draft_id:
                q = q.where(feedback_events.c.draft_id == draft_id)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
            if not rows:
                return
            for r in rows:
                yield _row(r)
            last = rows[-1].id

    def stats(self, shop_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            evs = conn.execute(sa.select(
                feedback_events.c.event, feedback_events.c.draft_id, feedback_events.c.at,
                feedback_events.c.prompt_name, feedback_events.c.prompt_version, feedback_events.c.composer,
                feedback_events.c.intent_kind, feedback_events.c.payload_json,
            ).where(feedback_events.c.shop_id == shop_id).order_by(feedback_events.c.id)).all()
            created = {r.id: utc(r.created_at) for r in conn.execute(
                sa.select(drafts.c.id, drafts.c.created_at).where(drafts.c.shop_id == shop_id))}
        per_draft: dict[str, dict[str, Any]] = {}
        for e in evs:
            d = per_draft.setdefault(e.draft_id, {"prompt": f"{e.prompt_name}@{e.prompt_version}",
                                                  "composer": e.composer, "intent": e.intent_kind})
            if e.event == "draft_created":
                d["created"] = True
            elif e.event in ("approved", "edited", "rejected"):
                payload = json.loads(e.payload_json)
                d["decision"] = e.event
                d["edit_distance"] = payload.get("edit_distance")
                d["reason"] = payload.get("reason")
                start = created.get(e.draft_id)
                if start:
                    d["seconds"] = (utc(e.at) - start).total_seconds()  # type: ignore[operator]
        overall = _summarise(per_draft.values())
        groups: dict[str, dict[str, list[dict[str, Any]]]] = {
            "by_prompt_version": defaultdict(list), "by_intent": defaultdict(list), "by_composer": defaultdict(list)}
        for d in per_draft.values():
            groups["by_prompt_version"][d["prompt"]].append(d)
            groups["by_intent"][d["intent"] or "unknown"].append(d)
            groups["by_composer"][d["composer"] or "unknown"].append(d)
        return {**overall, **{g: {k: _summarise(v) for k, v in sorted(m.items())} for g, m in groups.items()}}


def _summarise(ds: Any) -> dict[str, Any]:
    ds = list(ds)
    decided = [d for d in ds if d.get("decision")]
    approved = [d for d in decided if d["decision"] in ("approved", "edited")]
    edited = [d for d in decided if d["decision"] == "edited"]
    rejected = [d for d in decided if d["decision"] == "rejected"]
    secs = [d["seconds"] for d in decided if d.get("seconds") is not None]
    dists = [d["edit_distance"] for d in edited if d.get("edit_distance") is not None]
    return {
        "total_drafts": sum(1 for d in ds if d.get("created")),
        "decided": len(decided),
        "approved": len(approved) - len(edited),
        "edited": len(edited),
        "rejected": len(rejected),
        "approval_rate": round(len(approved) / len(decided), 4) if decided else None,
        "edit_rate": round(len(edited) / len(approved), 4) if approved else None,
        "mean_edit_distance": round(statistics.fmean(dists), 2) if dists else None,
        "rejection_reasons": dict(Counter(d["reason"] for d in rejected)),
        "median_seconds_to_decision": round(statistics.median(secs), 1) if secs else None,
    }
