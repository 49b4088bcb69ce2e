"""The model-call log (table ``llm_calls``): every call the LLM composer makes, as simonw/llm logs them.

One row per call: the draft it was for, first attempt or repair, the prompt file (name, version,
content hash), the model and parameters, the messages sent, the raw output, token usage, duration
and the verdict (stood / guard_violations / usefulness_problems / error) with the problems found.

Messages are stored redacted (phone numbers, names, addresses) whatever ``REDACT_FOR_LLM`` says: a
local model may be sent the raw text, the log never keeps it. The raw output is kept as the model
wrote it (that is what a prompt engineer needs) and is redacted on its way out of the database
in exports (``export``). Rows older than ``LLM_LOG_RETENTION_DAYS`` are deleted by ``purge``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import utc
from core.tables import llm_calls
from drafter.redact import redact, redact_record

__all__ = ["LLMCallLog"]


class LLMCallLog:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def record(self, shop_id: str, draft_id: str | None, calls: Iterable[Any]) -> int:
        """Store the calls of one draft (``drafter.llm_compose.CallRecord``); returns how many."""
        now = self.clock.now()
        rows = [{
            "at": now, "shop_id": shop_id, "draft_id": draft_id, "attempt": c.attempt,
            "prompt_name": c.prompt.name, "prompt_version": c.prompt.version, "prompt_hash": c.prompt.hash,
            "model": c.model, "params_json": json.dumps(c.params, sort_keys=True),
            "messages_json": json.dumps([{"role": m["role"], "content": redact(m["content"])} for m in c.messages],
                                        ensure_ascii=False),
            "output": c.output, "input_tokens": c.input_tokens, "output_tokens": c.output_tokens,
            "duration_ms": c.duration_ms, "verdict": c.verdict,
            "problems_json": json.dumps(c.problems, ensure_ascii=False), "error": (c.error or None) and c.error[:500],
        } for c in calls]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(llm_calls.insert(), rows)
        return len(rows)

    def list(self, shop_id: str | None = None, *, draft_id: str | None = None, failed: bool = False,
             limit: int = 50) -> list[dict[str, Any]]:
        """Newest first. ``failed``: only calls whose text did not stand (or that errored)."""
        q = sa.select(llm_calls).order_by(llm_calls.c.id.desc()).limit(limit)
        if shop_id is not None:
            q = q.where(llm_calls.c.shop_id == shop_id)
        if draft_id is not None:
            q = q.where(llm_calls.c.draft_id == draft_id)
        if failed:
            q = q.where(llm_calls.c.verdict != "stood")
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q)]

    def export(self, shop_id: str, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Rows for export, oldest first, with the output redacted too."""
        q = sa.select(llm_calls).where(llm_calls.c.shop_id == shop_id).order_by(llm_calls.c.id)
        if since is not None:
            q = q.where(llm_calls.c.at >= since)
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                yield redact_record(_row(r))  # output, messages and the problems' quotes

    def purge(self, retention_days: int) -> int:
        """Delete calls older than the retention; returns how many went."""
        cutoff = self.clock.now() - timedelta(days=retention_days)
        with self.engine.begin() as conn:
            return conn.execute(llm_calls.delete().where(llm_calls.c.at < cutoff)).rowcount or 0


def _row(r: sa.Row) -> dict[str, Any]:
    at = utc(r.at)
    return {"id": r.id, "at": at.isoformat() if at else None, "shop_id": r.shop_id, "draft_id": r.draft_id,
            "attempt": r.attempt, "prompt": f"{r.prompt_name}@{r.prompt_version}", "prompt_hash": r.prompt_hash,
            "model": r.model, "params": json.loads(r.params_json), "messages": json.loads(r.messages_json),
            "output": r.output, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
            "duration_ms": r.duration_ms, "verdict": r.verdict, "problems": json.loads(r.problems_json),
            "error": r.error}
