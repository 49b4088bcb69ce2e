"""``Idempotency-Key`` for POSTs that act (create a draft, decide on one).

The first request with a key claims it before acting: it inserts the key's row as "in_progress"
(the table's primary key makes that insert atomic across threads, workers and machines), acts,
and stores its answer ("done"). Every other request with that key, at the same time or later, on
any worker, waits for that answer and gets it back: nothing happens twice. If the first request
fails, its claim is released, so a retry can act. A claim whose owner stopped heartbeating (its
process died mid-request) is taken over after ``LEASE_S``. Reusing a key for a different request
is a 422, not a silent replay; a twin still waiting after ``WAIT_S`` gets a 409 and may retry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput
from core.tables import idempotency_keys

log = logging.getLogger("replydesk.idempotency")

MAX_KEY = 200
WAIT_S = 30.0      # how long a twin waits for the first request's answer (real time)
POLL_S = 0.05      # how often it looks
HEARTBEAT_S = 2.0  # how often the owner of a claim says it is still working (real time)
LEASE_S = 10.0     # a claim not heartbeaten for this long (by the injected clock) was abandoned


def idempotent(request: Request, c: Any, key_id: str, body: BaseModel | None, status_code: int,
               act: Callable[[], BaseModel]) -> Any:
    idem = request.headers.get("idempotency-key")
    if idem is None:
        return act()
    if not idem.strip() or len(idem) > MAX_KEY:
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_KEY} characters", field="Idempotency-Key")
    payload = body.model_dump_json() if body is not None else ""
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n{payload}".encode()).hexdigest()
    claims = _Claims(c.engine, c.clock, key_id, idem, digest)
    deadline = time.monotonic() + WAIT_S
    while True:
        row = claims.take()
        if row is _MINE:  # act, then answer every twin
            return claims.run(act, status_code)
        if row is None:  # the claim was released just now (its request failed): claim it at once
            continue
        if row.request_hash != digest:
            raise InvalidInput("this Idempotency-Key was used for a different request", field="Idempotency-Key")
        if row.state == "done":
            return JSONResponse(json.loads(row.response_json), status_code=row.status_code,
                                headers={"Idempotent-Replayed": "true"})
        if time.monotonic() >= deadline:
            raise Conflict("a request with this Idempotency-Key is still in progress; retry later",
                           field="Idempotency-Key")
        time.sleep(POLL_S)


_MINE = object()


class _Claims:
    """The row of one (API key, Idempotency-Key): claimed, heartbeaten, answered or released."""

    def __init__(self, engine: Any, clock: Any, key_id: str, idem: str, digest: str) -> None:
        self.engine, self.clock, self.digest = engine, clock, digest
        self.owner = uuid.uuid4().hex
        self.where = (idempotency_keys.c.key_id == key_id) & (idempotency_keys.c.idem_key == idem)
        self.key_id, self.idem = key_id, idem

    def take(self) -> Any:
        """``_MINE`` when the key is now ours; else the row another request holds (None: no row)."""
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                conn.execute(idempotency_keys.insert().values(
                    key_id=self.key_id, idem_key=self.idem, request_hash=self.digest, created_at=now,
                    state="in_progress", owner=self.owner, heartbeat_at=now))
            return _MINE
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(idempotency_keys).where(self.where)).first()
            if row is None or row.request_hash != self.digest or row.state != "in_progress":
                return row
            if row.heartbeat_at is not None and now - row.heartbeat_at < timedelta(seconds=LEASE_S):
                return row
            # Abandoned: take it over, unless another request just did (compare-and-set on the owner).
            took = conn.execute(idempotency_keys.update().where(
                self.where & (idempotency_keys.c.owner == row.owner) & (idempotency_keys.c.state == "in_progress"))
                .values(owner=self.owner, heartbeat_at=now)).rowcount
        return _MINE if took == 1 else row

    def run(self, act: Callable[[], BaseModel], status_code: int) -> JSONResponse:
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True, name="idempotency-heartbeat")
        beat.start()
        try:
            result = act()
        except BaseException:
            stop.set()
            self._release()
            raise
        stop.set()
        content = json.loads(result.model_dump_json())
        with self.engine.begin() as conn:
            conn.execute(idempotency_keys.update().where(self.where & (idempotency_keys.c.owner == self.owner))
                         .values(state="done", status_code=status_code,
                                 response_json=json.dumps(content, ensure_ascii=False)))
        return JSONResponse(content, status_code=status_code)

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                with self.engine.begin() as conn:
                    conn.execute(idempotency_keys.update()
                                 .where(self.where & (idempotency_keys.c.owner == self.owner))
                                 .values(heartbeat_at=self.clock.now()))
            except Exception as exc:  # one missed beat is harmless; a lease's worth lets a twin take over
                log.warning("idempotency heartbeat failed: %s", type(exc).__name__)

    def _release(self) -> None:
        """The request failed: drop the claim so that a retry (or a waiting twin) can act."""
        with self.engine.begin() as conn:
            conn.execute(idempotency_keys.delete().where(
                self.where & (idempotency_keys.c.owner == self.owner) & (idempotency_keys.c.state == "in_progress")))


__all__ = ["idempotent"]
