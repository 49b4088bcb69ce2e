"""The FastAPI application factory."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors, logs
from api.container import Container
from core.clock import Clock
from core.db import head_revision, schema_revision
from core.settings import Settings, get_settings

MAX_BODY = 1_000_000  # DESIGN: a body over 1 MB answers 413

log = logging.getLogger("replydesk.api")
access = logging.getLogger("replydesk.access")


class RequestLimits:
    """Request ids on every request and response; bodies over 1 MB refused with 413, streamed or not."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = "".join(ch for ch in headers.get(b"x-request-id", b"").decode("latin-1")[:64]
                      if ch.isalnum() or ch in "-_.") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = logs.request_id.set(rid)

        started = time.perf_counter()
        status = [0]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _too_large(send_with_id, rid)
            logs.request_id.reset(token)
            return
        seen = 0
        buffered: list[Message] = []
        if length is None and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            # No Content-Length (chunked): read the body here, before any handler does. A parser that hit
            # the limit half-way would turn it into its own 400; the caller must hear 413.
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    buffered.append(msg)
                    break
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    await _too_large(send_with_id, rid)
                    access.info("%s %s %s %.1fms", scope["method"], scope["path"], 413,
                                (time.perf_counter() - started) * 1000)
                    logs.request_id.reset(token)
                    return
                buffered.append(msg)
                if not msg.get("more_body", False):
                    break

        async def limited_receive() -> Message:
            nonlocal seen
            if buffered:
                return buffered.pop(0)
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge()
            return msg

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            await _too_large(send_with_id, rid)
        finally:
            # The access log line, written inside the request's context so it carries the request id.
            access.info("%s %s %s %.1fms", scope["method"], scope["path"], status[0] or "-",
                        (time.perf_counter() - started) * 1000)
            logs.request_id.reset(token)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, rid: str) -> None:
    import json

    body = json.dumps({"error": {"code": "payload_too_large", "message": "request body is over 1 MB",
                                 "field": "body", "request_id": rid}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _start(settings: Settings, clock: Clock | None, build: dict[str, Any]) -> Container:
    """The services of one server process. A worker of ``replydesk serve`` does not migrate (serve did,
    once, before starting the workers); it refuses to start on a schema other than the code's."""
    opts = dict(build)
    run_migrations = opts.pop("run_migrations", settings.migrate_on_start)
    c = Container.build(settings, clock=clock, run_migrations=run_migrations, **opts)
    if not run_migrations:
        at, head = schema_revision(c.engine), head_revision()
        if at != head:
            c.close()
            raise RuntimeError(f"the database schema is at {at or 'nothing'}, this code needs {head}: "
                               "start with `replydesk serve` (it migrates) or set REPLYDESK_MIGRATE_ON_START")
        log.info("database schema at %s (migrated before the workers started)", at)
    if c.service is not None:
        from knowledge.errors import IndexUnavailable

        try:
            # A handle on every shop's collection now (one listing), not a lookup in each shop's first draft.
            c.service.index.open()
        except IndexUnavailable as e:
            log.warning("vector index not reachable at start-up (opened at first use): %s", e)
    return c


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               container: Container | None = None, **build: Any) -> FastAPI:
    settings = settings or (container.settings if container is not None else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = container is None
        if own:
            app.state.container = _start(settings, clock, build)
        listener = None
        if getattr(app.state, "metrics", None) is not None and app.state.container.sources is not None:
            listener = app.state.metrics.observe_source
            app.state.container.sources.telemetry.subscribe(listener)
            if app.state.container.desk is not None:
                app.state.container.desk.on_outcome = app.state.metrics.observe_task
        try:
            yield
        finally:
            if listener is not None:
                app.state.container.sources.telemetry.unsubscribe(listener)
            if own:
                app.state.container.close()

    # docs_url/redoc_url off: FastAPI's pages load Swagger UI / ReDoc from a CDN; api.routes.docs serves
    # /docs from a Python package instead.
    app = FastAPI(title="replydesk", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Honest, grounded reply drafts for e-commerce customer service.")
    if container is not None:
        app.state.container = container
    errors.install(app)
    logs.configure()
    from api.ratelimit import RateLimiter

    app.state.limiter = RateLimiter(settings.rate_limit_per_min, settings.redis_url,
                                    clock=container.clock if container is not None else clock)

    from api.routes import (
        demo_chat,
        docs,
        drafts,
        feedback,
        health,
        insights,
        jobs,
        keys,
        knowledge,
        order_source,
        orders,
        pages,
        shop,
        tasks,
    )

    for r in (health.router, drafts.router, order_source.router, orders.router, keys.router, feedback.router,
              jobs.router, knowledge.router, shop.router, pages.router, demo_chat.router, docs.router,
              insights.router, tasks.router):
        app.include_router(r)
    if settings.metrics == "on":
        from fastapi.responses import Response
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from api.metrics import Metrics

        app.state.metrics = Metrics()

        @app.get("/metrics", include_in_schema=False)
        def metrics() -> Response:
            return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
    if settings.cors_origins:
        # Off by default; the browser extension's origin (chrome-extension://<id>) goes in the allow-list.
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"], max_age=600)
    app.add_middleware(RequestLimits)
    return app
