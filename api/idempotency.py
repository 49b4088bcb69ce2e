"""``Idempotency-Key`` for POSTs that act (create a draft, decide on one).

The first response is stored in SQL under (API key, Idempotency-Key), so a client that retries
after a timeout, on any worker, gets that same response and nothing happens twice. Reusing a key
for a different request is a 422, not a silent replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput
from core.tables import idempotency_keys

MAX_KEY = 200


def idempotent(request: Request, c: Any, key_id: str, body: BaseModel | None, status_code: int,
               act: Callable[[], BaseModel]) -> Any:
    idem = request.headers.get("idempotency-key")
    if idem is None:
        return act()
    if not idem.strip() or len(idem) > MAX_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_KEY} characters", field="Idempotency-Key")
    payload = body.model_dump_json() if body is not None else ""
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n{payload}".encode()).hexdigest()
    where = (idempotency_keys.c.key_id == key_id) & (idempotency_keys.c.idem_key == idem)
    with c.engine.connect() as conn:
        row = conn.execute(sa.select(idempotency_keys).where(where)).first()
    if row is not None:
        return _replay(row, digest)
    result = act()
    content = json.loads(result.model_dump_json())
    try:
        with c.engine.begin() as conn:
            conn.execute(idempotency_keys.insert().values(
                key_id=key_id, idem_key=idem, request_hash=digest, status_code=status_code,
                response_json=json.dumps(content, ensure_ascii=False), created_at=c.clock.now()))
    except IntegrityError:
        # A concurrent twin stored its response first; answer as it did.
        with c.engine.connect() as conn:
            row = conn.execute(sa.select(idempotency_keys).where(where)).first()
        return _replay(row, digest)
    return JSONResponse(content, status_code=status_code)


def _replay(row: Any, digest: str) -> JSONResponse:
    if row.request_hash != digest:
        raise InvalidInput("this Idempotency-Key was used for a different request", field="Idempotency-Key")
    return JSONResponse(json.loads(row.response_json), status_code=row.status_code,
                        headers={"Idempotent-Replayed": "true"})


__all__ = ["Conflict", "idempotent"]
