"""Urge insights for managers: breakdowns, causes, repeat urgers, response times, approvals, alerts, export.

Thin: every route reads its range in the shop's timezone and calls ``drafter.insights`` (the CLI's
``replydesk insights report`` calls the same ``summary``). Manager and admin keys only; a key only
ever sees its own shop's events.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import ContainerDep, ManagerKey
from drafter.insights.queries import EXPORT_FIELDS, approvals, causes, repeats, response_times

router = APIRouter(prefix="/v1/insights", tags=["insights"])

Since = Annotated[str | None, Query(max_length=40, description="ISO date or time; without an offset, in the "
                                                               "shop's timezone (default: 24 h before until)")]
Until = Annotated[str | None, Query(max_length=40, description="ISO date or time (default: now)")]
By = Literal["sku", "warehouse", "carrier", "state", "cause", "intent", "hour", "day", "hour_of_day"]


@router.get("/urges")
def urges(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None, by: By = "sku") -> dict[str, Any]:
    """``{"total": N, "groups": [{"key", "count"}]}``: urges in the range, grouped."""
    return c.insights.urges(key.shop_id, c.insights.range(key.shop_id, since, until), by)


@router.get("/alerts")
def alerts(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Surges found (newest first), each with its likely cause, a suggested action and its webhook delivery."""
    if since is None and until is None:
        return {"alerts": c.insights.alerts(key.shop_id, limit=limit)}
    rng = c.insights.range(key.shop_id, since, until)
    return {"alerts": c.insights.alerts(key.shop_id, since=rng.since, until=rng.until, limit=limit)}


@router.get("/causes")
def top_causes(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None) -> dict[str, Any]:
    """Each cause in the range against the shop's usual level (the 4 weeks before, scaled)."""
    rng = c.insights.range(key.shop_id, since, until)
    return {"range": rng.as_dict(), "causes": causes(c.engine, key.shop_id, rng)}


@router.get("/repeats")
def repeat_urgers(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None,
                  min_urges: Annotated[int, Query(ge=2, le=100)] = 2) -> dict[str, Any]:
    """Orders urged ``min_urges``+ times in the range."""
    rng = c.insights.range(key.shop_id, since, until)
    return {"range": rng.as_dict(), **repeats(c.engine, key.shop_id, rng, min_urges=min_urges)}


@router.get("/response-times")
def response_time_percentiles(key: ManagerKey, c: ContainerDep, since: Since = None,
                              until: Until = None) -> dict[str, Any]:
    """Seconds from the buyer's message to draft, decision, insertion and sending; per agent key and hour."""
    rng = c.insights.range(key.shop_id, since, until)
    return {"range": rng.as_dict(), **response_times(c.engine, key.shop_id, rng)}


@router.get("/approvals")
def approval_shares(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None) -> dict[str, Any]:
    """Per situation: drafts decided and the share approved without an edit."""
    rng = c.insights.range(key.shop_id, since, until)
    return {"range": rng.as_dict(), "states": approvals(c.engine, key.shop_id, rng)}


@router.get("/summary")
def summary(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None) -> dict[str, Any]:
    """Everything the /insights page shows (and ``replydesk insights report`` prints)."""
    return c.insights.summary(key.shop_id, c.insights.range(key.shop_id, since, until))


@router.get("/export", response_class=StreamingResponse, responses={200: {"content": {
    "application/x-ndjson": {}, "text/csv": {}}, "description": "One urge event per line (no buyer text)"}})
def export(key: ManagerKey, c: ContainerDep, since: Since = None, until: Until = None,
           format: Literal["jsonl", "csv"] = "jsonl") -> StreamingResponse:
    """Urge events of the range (default: the last 30 days), oldest first."""
    from datetime import timedelta

    rng = c.insights.range(key.shop_id, since, until, default=timedelta(days=30))
    rows = c.insights.export(key.shop_id, rng)
    if format == "jsonl":
        def lines() -> Iterator[bytes]:
            for r in rows:
                yield (json.dumps(r, ensure_ascii=False) + "\n").encode()
        return StreamingResponse(lines(), media_type="application/x-ndjson",
                                 headers={"Content-Disposition": 'attachment; filename="urge-events.jsonl"'})

    def table() -> Iterator[bytes]:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({**r, "skus": " ".join(r["skus"])})
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue().encode()
    return StreamingResponse(table(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="urge-events.csv"'})
