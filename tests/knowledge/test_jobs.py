"""Knowledge base jobs: reindex and import, in-process (no Redis) and through rq with a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.clock import SystemClock
from core.settings import Settings
from knowledge.chunking import chunk_doc
from knowledge.errors import JobNotFound
from knowledge.importer import parse_dir, payload_from_parsed
from knowledge.jobs import JobStore, embed_in, run
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import DEMO_KB, SHOP

ROOT = Path(__file__).resolve().parents[2]


def test_reindex_job_records_progress_and_rebuilds_vectors_and_search_rows(
        service: KnowledgeService, store: KnowledgeStore) -> None:
    from zoneinfo import ZoneInfo

    jobs = JobStore(store.engine, store.clock)
    imp = jobs.create("import", SHOP, payload=payload_from_parsed(parse_dir(DEMO_KB, ZoneInfo("Asia/Shanghai"))))
    seen: list[tuple[int, int]] = []
    done = run(imp.id, jobs, service, progress=lambda d, t: seen.append((d, t)))
    assert done.status == "done" and done.result and done.result["created"] == 18 and done.attempts == 1
    assert seen[-1] == (18, 18) and done.done == 18
    assert service.index.count(SHOP) == 19 and service.check(SHOP)["ok"]

    service.index.collection_for(SHOP).delete(ids=[f"{SHOP}:tone:1:0"])
    job = jobs.create("reindex", SHOP)
    assert job.status == "queued" and job.as_dict()["shop"] == SHOP
    done = run(job.id, jobs, service)
    assert (done.status, done.done, done.total) == ("done", 19, 19)
    assert done.result == {"published": [SHOP], "chunks": 19, "reused_chunks": 0}
    assert service.index.count(SHOP) == 19 and service.check(SHOP)["ok"]
    # Another shop's job is not found, as a missing one.
    with pytest.raises(JobNotFound):
        jobs.get(job.id, shop_id="other")
    with pytest.raises(JobNotFound):
        jobs.get("job_nope")


def test_a_write_during_a_rebuild_is_not_lost(service: KnowledgeService, store: KnowledgeStore) -> None:
    """The staging collection is built from the documents read at the start; a write meanwhile goes to
    the live collection, and the job catches it up after the swap."""
    service.upsert(SHOP, "a", kind="policy", title="发货", text="48小时内发货。")
    jobs = JobStore(store.engine, store.clock)
    job = jobs.create("reindex", SHOP)
    real_publish = service.index.publish_build

    def publish_after_a_write(build):
        service.upsert(SHOP, "b", kind="policy", title="退换", text="7天无理由退换。")
        real_publish(build)

    service.index.publish_build = publish_after_a_write  # type: ignore[method-assign]
    run(job.id, jobs, service)
    assert service.index.doc_revisions(SHOP) == {"a": 1, "b": 1} and service.check(SHOP)["ok"]


@pytest.mark.slow  # spawns embedding processes
def test_the_embedding_pool_streams_each_group_in_order_while_working_ahead(embedder) -> None:
    texts = [f"第{i}条：" + "现货商品付款后48小时内发货。" * (1 + i % 5) for i in range(11)]
    groups = [texts[:3], texts[3:8], [], texts[8:]]
    embed, close = embed_in(2, task=2)  # tasks of 2 over 2 processes: groups are split and reassembled
    try:
        out = list(embed.stream(iter(groups)))  # type: ignore[union-attr]
        single = embed(texts[:5])  # type: ignore[misc]
    finally:
        close()
    assert [len(o) for o in out] == [3, 5, 0, 3]
    expected = embedder.embed_passages(texts)
    np.testing.assert_allclose(np.concatenate(out), expected, atol=1e-5)
    np.testing.assert_allclose(single, expected[:5], atol=1e-5)


@pytest.mark.slow  # spawns embedding processes
def test_a_reindex_embedded_by_the_pool_writes_each_vector_to_its_own_chunk(
        service: KnowledgeService, store: KnowledgeStore) -> None:
    for i in range(9):
        service.upsert(SHOP, f"p{i}", kind="policy", title=f"规则{i}", text=f"第{i}条：" + "付款后发货。" * (1 + i))
    jobs = JobStore(store.engine, store.clock)
    job = jobs.create("reindex", SHOP)
    embed, close = embed_in(2, task=1)
    seen: list[int] = []
    try:
        done = run(job.id, jobs, service, embed=embed, batch=4, progress=lambda d, t: seen.append(d))
    finally:
        close()
    assert done.status == "done" and done.done == 9 and seen[-3:] == [4, 8, 9]
    col = service.index.collection_for(SHOP)
    got = col.get(include=["embeddings", "documents"])
    for cid, vec in zip(got["ids"], got["embeddings"], strict=True):
        (chunk,) = chunk_doc(store.get(SHOP, cid.split(":")[1]))
        np.testing.assert_allclose(vec, service.index.embedder.embed_passages([chunk.search_text])[0], atol=1e-5)


# -- through the queue, with a worker killed mid-reindex ---------------------------------------

def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _kill_worker(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its work-horse (rq puts the horse in a process group of its own)."""
    victims = [proc.pid] + _children(proc.pid)
    for pid in victims + [g for v in victims for g in _children(v)]:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    proc.wait(timeout=30)


@pytest.fixture
def queued(tmp_path: Path, pg_schema_url: str, chroma_server: str, redis_url: str) -> Iterator[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    queue = f"test-kb-{uuid.uuid4().hex[:10]}"
    env.update({
        "REPLYDESK_DATA_DIR": str(tmp_path / "data"), "REPLYDESK_DATABASE_URL": pg_schema_url,
        "REPLYDESK_CHROMA_URL": chroma_server, "REPLYDESK_REDIS_URL": redis_url,
        "REPLYDESK_CHROMA_COLLECTION": f"t-{uuid.uuid4().hex[:12]}", "REPLYDESK_JOBS_QUEUE": queue,
        "REPLYDESK_JOBS_HEARTBEAT_S": "1", "REPLYDESK_JOBS_HEARTBEAT_GRACE_S": "2",
        "REPLYDESK_JOBS_MAINTENANCE_S": "1", "REPLYDESK_JOBS_EMBED_PROCESSES": "1", "OMP_NUM_THREADS": "1",
    })
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_schema_url, chroma_url=chroma_server,
                        redis_url=redis_url, chroma_collection=env["REPLYDESK_CHROMA_COLLECTION"], jobs_queue=queue)
    from api.container import Container

    c = Container.build(settings, clock=SystemClock())
    procs: list[subprocess.Popen] = []

    def start_worker(log: Path) -> subprocess.Popen:
        p = subprocess.Popen([str(ROOT / ".venv" / "bin" / "replydesk"), "worker"], env=env, cwd=ROOT,
                             stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        return p

    yield {"c": c, "start_worker": start_worker}
    for p in procs:
        if p.poll() is None:
            _kill_worker(p)
    import redis

    r = redis.Redis.from_url(redis_url)
    keys = [k for k in r.scan_iter(f"rq:*{queue}*")]
    if keys:
        r.delete(*keys)
    c.close()


def _wait_for(pred, what: str, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow  # real worker processes killed and restarted
def test_a_reindex_survives_a_killed_worker_and_never_serves_a_half_built_index(
        queued: dict, tmp_path: Path) -> None:
    c = queued["c"]
    assert c.job_queue.kind == "rq"
    c.shops.ensure("big", name="大店")
    n_docs = 120
    with c.engine.begin() as conn:  # SQL only: the shop has no vectors yet
        for i in range(n_docs):
            c.knowledge.upsert("big", f"p{i:03d}", kind="policy", title=f"发货规则{i}",
                               text=f"第{i}条：现货商品付款后48小时内发货，预售商品按页面时间发货。", conn=conn)
    job = c.jobs.create("reindex", "big")
    c.job_queue.enqueue(job.id)

    w1 = queued["start_worker"](tmp_path / "w1.log")
    _wait_for(lambda: c.jobs.get(job.id).done >= 32, "the first batches", 180)
    _kill_worker(w1)
    killed = c.jobs.get(job.id)
    assert killed.status == "running" and 32 <= killed.done < n_docs, killed
    # Half-built vectors sit in the job's staging collection; the shop's live index is not them.
    assert c.service.index.count("big") == 0

    queued["start_worker"](tmp_path / "w2.log")
    done = _wait_for(lambda: (j := c.jobs.get(job.id)).status in ("done", "failed") and j, "the retried job", 300)
    assert done.status == "done", (done, (tmp_path / "w2.log").read_text()[-3000:])
    assert done.attempts == 2 and done.done == done.total == n_docs
    assert done.result["reused_chunks"] >= 32  # the second attempt did not embed those again
    assert c.service.index.count("big") == n_docs and c.service.check("big")["ok"]
    assert not any("--build-" in col.name for col in c.service.index._own_collections())
