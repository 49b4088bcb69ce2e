"""Few-shot exemplars from the feedback loop: the shop's own approved replies shape the model's.

An exemplar is a reply an agent approved — as drafted, or the agent's edited final text — for a draft
of the SAME shop in the SAME situation state (out of stock, unpaid, shipped…), newest first, at most
N. Never across shops: one shop's replies, names and promises are not another's. An edited text is
held to the guard against the situation it answered (an agent may approve a text the guard would
not pass; such a text is no example), and both sides are redacted before they reach a prompt.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.tables import drafts
from drafter.guard import check as guard_check
from drafter.redact import redact
from drafter.situation import Situation

__all__ = ["ExemplarSource"]

# How many recent decided drafts are read to find N of the right state (the state is inside the JSON).
_SCAN = 300


class ExemplarSource:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def for_state(self, shop_id: str, state: str, limit: int) -> list[tuple[str, str]]:
        """(buyer message, approved reply) pairs, redacted, newest first."""
        if limit <= 0:
            return []
        q = (sa.select(drafts.c.message, drafts.c.result_json, drafts.c.final_text, drafts.c.situation_json,
                       drafts.c.order_id)
             .where(drafts.c.shop_id == shop_id, drafts.c.status.in_(("approved", "sent")),
                    drafts.c.situation_json.is_not(None))
             .order_by(drafts.c.decided_at.desc(), drafts.c.id.desc()).limit(_SCAN))
        out: list[tuple[str, str]] = []
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                situation = Situation.model_validate_json(r.situation_json)
                if situation.state != state:
                    continue
                drafted = json.loads(r.result_json).get("text") or ""
                reply = (r.final_text or "").strip() or drafted
                if reply != drafted and not guard_check(reply, situation, known_refs=(r.order_id,)).ok:
                    continue
                out.append((_masked(redact(r.message) or ""), _masked(redact(reply) or "")))
                if len(out) >= limit:
                    break
        return out


def _masked(text: str) -> str:
    # Another order's tracking or order number is no fact about this one: shown as a slot, never copied.
    return re.sub(r"[A-Za-z]{0,4}\d{6,}", "[单号]", text)
