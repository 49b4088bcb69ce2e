"""What managers learn from decisions: stats by prompt version, intent and composer; the raw event log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import ContainerDep, ManagerKey

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


@router.get("/stats")
def stats(key: ManagerKey, c: ContainerDep) -> dict[str, Any]:
    return c.feedback.stats(key.shop_id)


@router.get("/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}, "description": "One event per line"}})
def export(key: ManagerKey, c: ContainerDep, since: datetime | None = None) -> StreamingResponse:
    """Every event as JSON Lines (texts already redacted)."""
    if since is not None and since.tzinfo is None:
        from core.errors import InvalidInput

        raise InvalidInput("since needs a UTC offset", field="since")

    def lines() -> Iterator[bytes]:
        for e in c.feedback.events(key.shop_id, since=since):
            yield (json.dumps(e, ensure_ascii=False) + "\n").encode("utf-8")

    return StreamingResponse(lines(), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'})
