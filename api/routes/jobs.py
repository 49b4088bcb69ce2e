"""Knowledge base jobs over HTTP: start a reindex or an import of the caller's shop, follow its progress.

A job runs in ``replydesk worker`` (or, without Redis, in this process); these routes only queue it
and read its state, so they answer at once whatever the size of the shop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ContainerDep, ManagerKey
from core.errors import Unavailable
from knowledge.jobs import MAX_IMPORT_FILES, Job, JobStore, start_import, start_reindex
from knowledge.store import MAX_TEXT

router = APIRouter(tags=["jobs"])


class JobOut(BaseModel):
    id: str
    shop: str | None
    kind: str
    status: str = Field(description="queued | running | done | failed")
    done: int = Field(description="chunks (reindex) or documents (import) done so far")
    total: int | None
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class ImportFile(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="file name, for error messages")
    content: str = Field(max_length=MAX_TEXT + 4000, description="Markdown with YAML front matter")


class ImportBody(BaseModel):
    files: list[ImportFile] = Field(min_length=1, max_length=MAX_IMPORT_FILES)


def _jobs(c: Any) -> tuple[JobStore, Any]:
    if c.jobs is None or c.job_queue is None:
        raise Unavailable("the knowledge index is not running in this process")
    return c.jobs, c.job_queue


def _out(job: Job) -> JobOut:
    return JobOut(**job.as_dict())


@router.post("/v1/knowledge/reindex", status_code=202, response_model=JobOut)
def reindex(key: ManagerKey, c: ContainerDep) -> JobOut:
    """Rebuild the shop's search rows and vectors from SQL, as a job; follow it at ``GET /v1/jobs/{id}``."""
    jobs, queue = _jobs(c)
    return _out(start_reindex(jobs, queue, key.shop_id, author=key.id))


@router.post("/v1/knowledge/import", status_code=202, response_model=JobOut)
def import_files(body: ImportBody, key: ManagerKey, c: ContainerDep) -> JobOut:
    """Import knowledge files (all or nothing; every file is validated before the job is queued)."""
    jobs, queue = _jobs(c)
    tz = c.shops.get(key.shop_id).settings.timezone
    return _out(start_import(jobs, queue, key.shop_id, [(f.name, f.content) for f in body.files],
                             timezone=tz, author=key.id))


@router.get("/v1/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, key: ManagerKey, c: ContainerDep) -> JobOut:
    """A job of the caller's shop: status and progress (another shop's job is 404)."""
    jobs, _ = _jobs(c)
    return _out(jobs.get(job_id, shop_id=key.shop_id))
