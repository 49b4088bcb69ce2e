"""One place that turns errors into clear JSON bodies: ``{"error": {"code", "message", "field", "request_id"}}``.

Domain errors (``core.errors`` hierarchy) map to 4xx; anything unexpected is a 500 whose body
names no internals (the log has the traceback, with the request id).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Conflict, InvalidInput, NotFound, ReplydeskError, Unavailable

log = logging.getLogger("replydesk.api")

_STATUS = [(NotFound, 404, "not_found"), (InvalidInput, 422, "invalid_input"), (Conflict, 409, "conflict"),
           (Unavailable, 503, "unavailable")]


def status_and_code(exc: ReplydeskError) -> tuple[int, str]:
    """The HTTP status and the stable ``code`` of a domain error: JSON bodies and SSE ``error`` events share them."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 400, "bad_request"


def error_body(request: Request, status: int, code: str, message: str, field: str | None = None,
               **extra: Any) -> JSONResponse:
    rid = getattr(request.state, "request_id", None)
    body = {"error": {"code": code, "message": message, "field": field, "request_id": rid, **extra}}
    return JSONResponse(body, status_code=status)  # the middleware adds X-Request-ID to every response


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc if x not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ReplydeskError)
    async def _domain(request: Request, exc: ReplydeskError) -> JSONResponse:
        status, code = status_and_code(exc)
        # A domain error may name a more specific code and carry details (e.g. the claim check's violations).
        details = getattr(exc, "details", None)
        extra = {"details": details} if details is not None else {}
        return error_body(request, status, getattr(exc, "code", None) or code, exc.message, exc.field, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        field = _loc(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return error_body(request, 400, "malformed_json", "the request body is not valid JSON", "body")
        details = [{"field": _loc(tuple(e.get("loc", ()))), "message": e.get("msg")} for e in errs[:20]]
        return error_body(request, 422, "invalid_input", f"{field}: {first.get('msg')}", field, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 413: "payload_too_large", 429: "rate_limited"}
        resp = error_body(request, exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL text cannot hold U+0000 (SQLite can); such a character only ever comes from the request
        # (a body field, a path or query parameter), so it is the caller's error, not ours.
        if "NUL (0x00)" in str(exc.orig):
            return error_body(request, 422, "invalid_input", "text must not contain NUL (U+0000) characters")
        log.exception("unhandled database error (request %s)", getattr(request.state, "request_id", "-"))
        return error_body(request, 500, "internal_error", "something went wrong on our side")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (request %s)", getattr(request.state, "request_id", "-"))
        return error_body(request, 500, "internal_error", "something went wrong on our side")
