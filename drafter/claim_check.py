"""The claim check of an agent's text: the same guard the drafter runs, against the facts the draft saw.

Used while the agent types (``POST /v1/drafts/{id}/check``) and at approval, so the stored draft keeps
the check of the text that was actually approved.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from drafter.drafts import situation_of, to_result
from drafter.guard import GuardReport
from drafter.guard import check as guard_check

__all__ = ["check_text", "known_refs"]


def known_refs(row: sa.Row) -> tuple[str, ...]:
    """Numbers that are not claims when quoted back: the order id and what the buyer wrote (as the pipeline)."""
    import json

    facts = to_result(row).facts or {}
    refs = [row.order_id, facts.get("order_id")]
    texts = [row.message] + [t.get("text", "") for t in json.loads(row.context_json or "[]") if t.get("role") == "buyer"]
    refs += [m for t in texts for m in re.findall(r"[A-Za-z]{0,4}\d{6,}", t)]
    return tuple(x for x in refs if x)


def check_text(row: sa.Row, text: str, *, done: dict[str, str] | None = None) -> GuardReport:
    """The guard's report on ``text`` for the stored draft ``row``.

    A draft stored without its situation (none are, since 0002) cannot be re-checked: the report then
    says so and is not ok, so that nothing unchecked passes as checked.
    """
    situation = situation_of(row)
    if situation is None:
        return GuardReport(ok=False, reasons=["this draft has no stored facts to check the text against"])
    if done is not None:  # actions done since the draft was made (issue 18): they may now be said to be done
        situation.done_actions = done
    return guard_check(text, situation, known_refs=known_refs(row))
