"""Handing knowledge base jobs to a worker: rq on Redis, or in-process when no Redis is configured.

Why rq: it is maintained (3.x in 2026), small, synchronous (our jobs are CPU-bound Python, not
asyncio), and it recovers the job of a dead worker by itself: the worker that runs a job keeps a
heartbeat on it, and when the heartbeat lapses (the worker was killed) the next worker's
maintenance retries the job if it has retries left. procrastinate (PostgreSQL) would need its own
schema beside ours and has no SQLite mode either; dramatiq and arq were close seconds (arq is
asyncio-first, dramatiq's actors bind to a global broker at import). Redis is already part of a
multi-worker deployment (the order-facts and query-embedding caches).

Without Redis (the embedded default: one process, SQLite) a job runs in the process that asked for
it: in a background thread of the API, or in the foreground of the CLI, with the same progress
records. The job itself (``knowledge.jobs.run``) is the same either way.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _Context:
    """What a worker process builds once and reuses for every job it runs."""

    settings: Settings
    jobs: Any
    service: Any
    embed: Any


_ctx: _Context | None = None
_ctx_lock = threading.Lock()


def _context() -> _Context:
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            from core.clock import SystemClock
            from core.db import make_engine
            from core.settings import get_settings
            from knowledge.jobs import JobStore, embed_in
            from knowledge.store import KnowledgeStore
            from knowledge.wiring import build_knowledge

            settings = get_settings()
            clock = SystemClock()
            engine = make_engine(settings.resolved_database_url)
            service, _ = build_knowledge(settings, KnowledgeStore(engine, clock))
            embed, _close = embed_in(embed_processes(settings))
            _ctx = _Context(settings, JobStore(engine, clock), service, embed)
        return _ctx


def embed_processes(settings: Settings) -> int:
    return settings.jobs_embed_processes or os.cpu_count() or 1


def perform(job_id: str) -> dict[str, Any]:
    """The rq entry point (runs in the worker's work-horse process)."""
    from rq import get_current_job

    from knowledge.jobs import EMBED_BATCH, run

    ctx = _context()
    current = get_current_job()
    try:
        job = run(job_id, ctx.jobs, ctx.service, embed=ctx.embed,
                  batch=EMBED_BATCH * embed_processes(ctx.settings))
    except Exception as e:
        retrying = bool(current is not None and current.retries_left)
        ctx.jobs.fail(job_id, f"{type(e).__name__}: {e}", retrying=retrying)
        raise
    return job.as_dict()


class JobQueue:
    """Where a new job goes: ``enqueue(job_id)``; ``kind`` says which (``rq`` or ``inline``)."""

    kind = "inline"

    def enqueue(self, job_id: str) -> None:
        raise NotImplementedError


class RqQueue(JobQueue):
    kind = "rq"

    def __init__(self, connection: Any, name: str, *, timeout_s: int, retries: int) -> None:
        from rq import Queue

        self.queue = Queue(name, connection=connection)
        self.timeout_s = timeout_s
        self.retries = retries

    def enqueue(self, job_id: str) -> None:
        from rq import Retry

        self.queue.enqueue("knowledge.job_queue.perform", job_id, job_id=job_id, job_timeout=self.timeout_s,
                           retry=Retry(max=self.retries), result_ttl=7 * 86400, failure_ttl=7 * 86400)


class InlineQueue(JobQueue):
    """No Redis: the job runs here, in a background thread (the API) or when ``run_now`` is called (CLI)."""

    def __init__(self, runner: Callable[[str], Any], *, background: bool) -> None:
        self.runner = runner
        self.background = background

    def enqueue(self, job_id: str) -> None:
        if not self.background:
            return  # the caller runs it in the foreground

        def go() -> None:
            try:
                self.runner(job_id)
            except Exception:
                log.error("job %s failed:\n%s", job_id, traceback.format_exc())

        threading.Thread(target=go, name=f"job-{job_id}", daemon=True).start()


def redis_connection(settings: Settings) -> Any | None:
    """A Redis connection for the queue when configured and answering, else None."""
    if not settings.redis_url:
        return None
    try:
        import redis

        conn = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5)
        conn.ping()
        return conn
    except Exception as exc:
        log.warning("job queue: Redis unavailable (%s); jobs run in-process", type(exc).__name__)
        return None


def build_queue(settings: Settings, runner: Callable[[str], Any], *, background: bool) -> JobQueue:
    conn = redis_connection(settings)
    if conn is None:
        return InlineQueue(runner, background=background)
    return RqQueue(conn, settings.jobs_queue, timeout_s=settings.jobs_timeout_s, retries=settings.jobs_retries)


def work(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    """Run jobs until stopped (``replydesk worker``); ``burst``: until the queue is empty."""
    from rq import Queue, Worker

    conn = redis_connection(settings)
    if conn is None:
        raise RuntimeError("the job worker needs Redis: set REPLYDESK_REDIS_URL (jobs run in-process without it)")
    grace = settings.jobs_heartbeat_grace_s

    class KbWorker(Worker):
        def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
            # rq adds 60 s to the monitoring interval; a killed worker's job is then retried only
            # after that. Our jobs are safe to repeat, so a shorter grace brings them back sooner.
            if job.timeout and job.timeout > 0:
                return int(min(job.timeout - working_time, self.job_monitoring_interval)) + grace
            return self.job_monitoring_interval + grace

    # rq blocks on the queue for worker_ttl - 15 s (405 s by default) and runs its maintenance (which
    # retries a killed worker's job) only between those waits: keep the wait no longer than the
    # maintenance interval, or an abandoned reindex sits for minutes behind an idle worker.
    worker = KbWorker([Queue(settings.jobs_queue, connection=conn)], connection=conn, name=name,
                      job_monitoring_interval=settings.jobs_heartbeat_s,
                      maintenance_interval=settings.jobs_maintenance_s,
                      worker_ttl=settings.jobs_maintenance_s + 15)
    return bool(worker.work(burst=burst, with_scheduler=False, logging_level="INFO"))
