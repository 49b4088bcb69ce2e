"""First query of a shop in a fresh worker, over many shops and one large shop.

A "fresh worker" is a new ``Retriever`` (what each API worker holds) in a process whose model and
jieba are already loaded (a worker loads them once at start-up; that is not a per-shop cost). The
figure is the latency of the first ``retrieve`` of each shop: whatever per-shop state the retriever
builds on first use is paid here. Vectors are derived (as in ``benchmarks/scale.py``): a few hundred
passages are embedded for real and spread with small noise; each chunk keeps its own text.

    python -m benchmarks.first_query --shops 1000 --min-chunks 50 --max-chunks 200 --big 0
    python -m benchmarks.first_query --shops 0 --big 100000
    # PostgreSQL and a Chroma server:
    python -m benchmarks.first_query --pg --chroma-url http://127.0.0.1:8000 ...
    # build once (niced, outside the bench lock), then measure as often as needed (under it):
    nice -n 19 python -m benchmarks.first_query --pg --chroma-url URL --name h4_fq1000 --build-only ...
    flock /work/bench.lock python -m benchmarks.first_query --pg --chroma-url URL --name h4_fq1000 --measure-only ...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.drafts import MESSAGES, PRODUCTS, synthetic_texts

CST = timezone(timedelta(hours=8))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pct(v: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(v), q)), 2) if v else float("nan")


def _shop_sizes(shops: int, lo: int, hi: int, big: int, rng: random.Random) -> dict[str, int]:
    sizes = {f"s{i:04d}": rng.randint(lo, hi) for i in range(shops)}
    if big:
        sizes["big"] = big
    return sizes


def build(engine: Any, clock: Any, index: Any, embedder: Any, sizes: dict[str, int], distinct: int,
          log: Any, *, big_vectors_only: bool = False) -> dict[str, float]:
    from knowledge.chunking import Chunk, chunk_doc
    from knowledge.shops import ShopStore
    from knowledge.store import KnowledgeStore

    store = KnowledgeStore(engine, clock)
    shops = ShopStore(engine, clock)
    rng = random.Random(11)
    total = sum(sizes.values())
    texts = synthetic_texts(total, rng)
    seed_chunks = [f"{t}\n{b}" for t, b in texts[:distinct]]
    from benchmarks.scale import distinct_vectors

    base = distinct_vectors(embedder, seed_chunks)
    noise_rng = np.random.default_rng(11)
    t_sql = t_idx = 0.0
    pos = 0
    for n_shop, (shop, n) in enumerate(sizes.items()):
        shops.ensure(shop)
        t = time.perf_counter()
        if shop == "big" and big_vectors_only:
            # Vectors only (SQL writes cost ~0.2 s a chunk on a loaded machine): times the Chroma half.
            for start in range(0, n, 5000):
                part = [Chunk(shop, f"d{j:06d}", 1, 0, texts[pos + j][1], "policy", texts[pos + j][0], 1)
                        for j in range(start, min(n, start + 5000))]
                vecs = base[np.arange(pos + start, pos + start + len(part)) % len(base)]
                vecs = vecs + noise_rng.normal(0, 0.02, vecs.shape)
                index.add_chunks_with_embeddings(part, (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)))
                log(f"big: {start + len(part)} vectors")
            t_idx += time.perf_counter() - t
            pos += n
            continue
        with engine.begin() as conn:
            for j in range(n):
                title, text = texts[pos + j]
                store.upsert(shop, f"d{j:06d}", kind="policy", title=title, text=text, conn=conn)
        t_sql += time.perf_counter() - t
        t = time.perf_counter()
        chunks = [c for d in store.list(shop) for c in chunk_doc(d)]
        vecs = base[np.arange(pos, pos + len(chunks)) % len(base)] + noise_rng.normal(0, 0.02, (len(chunks), base.shape[1]))
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        index.add_chunks_with_embeddings(chunks, vecs)
        t_idx += time.perf_counter() - t
        pos += n
        if n_shop % 100 == 0:
            log(f"built {n_shop + 1}/{len(sizes)} shops, {pos} chunks")
    return {"sql_insert_s": round(t_sql, 1), "index_write_s": round(t_idx, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shops", type=int, default=1000)
    ap.add_argument("--min-chunks", type=int, default=50)
    ap.add_argument("--max-chunks", type=int, default=200)
    ap.add_argument("--big", type=int, default=0, help="also one shop of this many chunks")
    ap.add_argument("--distinct", type=int, default=300)
    ap.add_argument("--sample", type=int, default=300, help="shops whose first query is timed")
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--chroma-url")
    ap.add_argument("--uncached", action="store_true", help="do not pre-embed the queries (cache misses count)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--name", help="keep the schema and collections under this name (PostgreSQL + server)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--measure-only", action="store_true", help="measure what --build-only built under --name")
    ap.add_argument("--big-fresh", type=int, default=5, help="fresh workers timed on the big shop")
    ap.add_argument("--warm-server", action="store_true",
                    help="query every shop's collection once first (a Chroma server loads a collection at its first "
                         "query: per server start, not per API worker; a deployment warms it after a restart)")
    ap.add_argument("--big-vectors-only", action="store_true",
                    help="the big shop has vectors only (no SQL rows): its first Chroma query is timed")
    args = ap.parse_args()
    if (args.build_only or args.measure_only) and not (args.name and args.pg and args.chroma_url):
        ap.error("--build-only / --measure-only need --name, --pg and --chroma-url")

    from core.clock import FixedClock
    from core.db import make_engine, migrate
    from knowledge.embeddings import E5Embedder
    from knowledge.index import VectorIndex
    from knowledge.retrieve import Retriever
    from knowledge.store import KnowledgeStore

    def log(msg: str) -> None:
        print(msg, flush=True)

    clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
    tmp = Path(tempfile.mkdtemp(prefix="rd-firstq-"))
    schema = None
    if args.pg:
        import sqlalchemy as sa

        schema = args.name or f"fq_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG)
        if not args.measure_only:
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(f"{PG}?options=-csearch_path%3D{schema}")
    else:
        engine = make_engine(f"sqlite:///{tmp}/fq.db")
    migrate(engine)
    embedder = E5Embedder()
    embedder.warm_up()
    coll = args.name.replace("_", "-") if args.name else f"fq-{uuid.uuid4().hex[:8]}"
    index = (VectorIndex(embedder, url=args.chroma_url, collection=coll) if args.chroma_url
             else VectorIndex(embedder, path=tmp / "chroma", collection=coll))
    rng = random.Random(3)
    sizes = _shop_sizes(args.shops, args.min_chunks, args.max_chunks, args.big, rng)
    load_before = os.getloadavg()[0]
    built = {} if args.measure_only else build(engine, clock, index, embedder, sizes, args.distinct, log,
                                                   big_vectors_only=args.big_vectors_only)
    if args.build_only:
        print(json.dumps({"built": built, "sizes": len(sizes), "chunks": sum(sizes.values()),
                          "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}), flush=True)
        return

    store = KnowledgeStore(engine, clock)
    # The process is warm (model, jieba, connections): only per-shop first-use costs are timed.
    warm = Retriever(store, index, embedder)
    warm_shop = next((s for s in sizes if s != "big" or not args.big_vectors_only), None)
    if warm_shop is not None:
        warm.retrieve(warm_shop, "预热一下", k=4)
    if args.warm_server:
        t = time.perf_counter()
        zero = np.zeros(embedder.dim, dtype=np.float32)
        zero[0] = 1.0
        for shop in sizes:
            index.query(shop, zero, 1)  # another client than the fresh workers': no worker state carries over
        log(f"warmed the server's {len(sizes)} collections in {time.perf_counter() - t:.0f} s")
    qrng = random.Random(5)
    small = [s for s in sizes if s != "big"]
    sample = qrng.sample(small, min(args.sample, len(small)))
    queries = [qrng.choice(MESSAGES).format(d=qrng.randint(2, 9), p=qrng.choice(PRODUCTS), n=2) for _ in sample]
    big_queries = [MESSAGES[i % len(MESSAGES)].format(d=3 + i, p="杯子", n=2) for i in range(args.big_fresh)]
    if not args.uncached:
        # Common urges are embedded once per deployment (the shared cache): time what is per shop.
        for q in set(queries) | set(big_queries):
            embedder.embed_query(q)

    def fresh_worker(opened: bool) -> tuple[Any, float]:
        """A freshly started worker's retriever: its own index client; ``opened``: as the API starts one
        (``VectorIndex.open``: a handle per shop from one listing), else a lookup at each shop's first query."""
        idx = (VectorIndex(embedder, url=args.chroma_url, collection=coll) if args.chroma_url
               else VectorIndex(embedder, path=tmp / "chroma", collection=coll))
        t = time.perf_counter()
        if opened:
            idx.open()
        return Retriever(store, idx, embedder), (time.perf_counter() - t) * 1000

    # Both kinds of fresh worker take turns over one sample, each shop's first query timed in one of them.
    workers = {"lookup": fresh_worker(False), "opened": fresh_worker(True)}
    lat: dict[str, list[float]] = {"lookup": [], "opened": []}
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    for i, (shop, q) in enumerate(zip(sample, queries, strict=True)):
        kind = ("lookup", "opened")[i % 2]
        t = time.perf_counter()
        workers[kind][0].retrieve(shop, q, k=4)
        lat[kind].append((time.perf_counter() - t) * 1000)
    if prof is not None:
        import pstats

        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)

    def summary(v: list[float]) -> dict[str, Any]:
        return {"p50": _pct(v, 50), "p95": _pct(v, 95), "max": round(max(v), 1) if v else None, "n": len(v)}

    out: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"), "nproc": os.cpu_count(),
        "db": "postgresql" if args.pg else "sqlite", "chroma": "server" if args.chroma_url else "embedded",
        "queries": "uncached" if args.uncached else "embedded beforehand (shared cache hit)",
        "shops": args.shops, "chunks_per_shop": [args.min_chunks, args.max_chunks], **built,
        "first_query_ms": {k: summary(v) for k, v in lat.items()},
        "open_ms": round(workers["opened"][1], 1), "server": "warmed" if args.warm_server else "as found",
    }
    if args.big:
        big: dict[str, list[float]] = {"lookup": [], "opened": []}
        for i, q in enumerate(big_queries):
            kind = ("lookup", "opened")[i % 2]
            f, _ = fresh_worker(kind == "opened")
            t = time.perf_counter()
            if args.big_vectors_only:
                f.index.query("big", embedder.embed_query(q), 20)
            else:
                f.retrieve("big", q, k=4)
            big[kind].append(round((time.perf_counter() - t) * 1000, 1))
        out["big_shop"] = {"chunks": args.big, "first_query_ms": big}
    out["loadavg_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(out, ensure_ascii=False), flush=True)
    engine.dispose()
    if schema and not args.name:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
