"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(c: ContainerDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with c.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    if c.retriever is not None:
        try:
            c.retriever.index.ping()
            checks["index"] = "ok"
        except Exception as exc:
            checks["index"] = f"error: {type(exc).__name__}"
    else:
        checks["index"] = "disabled"
    checks["order_source"] = "ok" if c.orders is not None else "missing"
    ready = all(v in ("ok", "disabled") for v in checks.values())
    # Each shop's configured order source: reported, not gating (one shop's platform outage must not
    # take the API out of rotation for every shop).
    sources: list[dict[str, object]] = []
    if c.sources is not None:
        try:
            sources = c.sources.status()
        except Exception as exc:
            sources = [{"error": type(exc).__name__}]
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks, "order_sources": sources},
                        status_code=200 if ready else 503)
