"""Scale benchmark: a 100,000-chunk knowledge base in embedded Chroma and in a Chroma server.

Embedding 100k real passages takes hours on 2 cores (~120-250 ms per 150-300-character chunk here),
so a few thousand distinct chunks are embedded once and cached in benchmarks/.cache/, and the rest
are derived from them (own text for BM25; the cached vector plus small noise, normalised). Reported:
build time (SQL, Chroma writes), peak memory of this process and of the Chroma server, and
retrieve() p50/p99 over queries that are not in the embedding cache.

    python -m benchmarks.scale --chunks 100000 --distinct 2000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import socket
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.drafts import MESSAGES, PRODUCTS, synthetic_texts

CST = timezone(timedelta(hours=8))
CACHE = Path(__file__).resolve().parent / ".cache"
BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"


def _pct(v: list[float], q: float) -> float:
    s = sorted(v)
    return round(s[max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))], 2)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def distinct_vectors(embedder: Any, texts: list[str]) -> np.ndarray:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"vectors-{len(texts)}.npy"
    if path.is_file():
        return np.load(path)
    vecs = embedder.embed_passages(texts)
    np.save(path, vecs)
    return vecs


def build_and_query(mode: str, chunks: int, distinct: int, queries: int, url: str | None, root: Path) -> dict[str, Any]:
    from core.clock import FixedClock
    from core.db import make_engine, migrate
    from knowledge.chunking import chunk_doc
    from knowledge.embeddings import E5Embedder
    from knowledge.index import VectorIndex
    from knowledge.retrieve import Retriever
    from knowledge.shops import ShopStore
    from knowledge.store import KnowledgeStore

    clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
    engine = make_engine(f"sqlite:///{root / 'scale.db'}")
    migrate(engine)
    ShopStore(engine, clock).ensure("scale")
    store = KnowledgeStore(engine, clock)
    embedder = E5Embedder()
    texts = synthetic_texts(chunks, random.Random(11))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i, (title, text) in enumerate(texts):
            store.upsert("scale", f"d{i:06d}", kind="policy", title=title, text=text, conn=conn)
    t_sql = time.perf_counter() - t0
    docs = store.list("scale")
    all_chunks = [c for d in docs for c in chunk_doc(d)]
    base = distinct_vectors(embedder, [c.text for c in all_chunks[:distinct]])
    rng = np.random.default_rng(11)
    index = VectorIndex(embedder, path=root / "chroma") if url is None else VectorIndex(embedder, url=url)
    t1 = time.perf_counter()
    for start in range(0, len(all_chunks), 5000):
        part = all_chunks[start:start + 5000]
        vecs = base[np.arange(start, start + len(part)) % len(base)] + rng.normal(0, 0.02, (len(part), base.shape[1]))
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        index.add_chunks_with_embeddings(part, vecs)
    t_index = time.perf_counter() - t1
    retriever = Retriever(store, index, embedder)
    t2 = time.perf_counter()
    retriever.retrieve("scale", "预热", k=4)
    t_first = time.perf_counter() - t2
    qrng = random.Random(5)
    lat = []
    for i in range(queries):
        q = f"{qrng.choice(MESSAGES).format(d=qrng.randint(2, 9), p=qrng.choice(PRODUCTS), n=2)} {i}"
        t = time.perf_counter()
        retriever.retrieve("scale", q, k=4)
        lat.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return {"mode": mode, "chunks": len(all_chunks), "distinct_embedded": len(base), "sql_insert_s": round(t_sql, 1),
            "chroma_write_s": round(t_index, 1), "first_query_s": round(t_first, 1),
            "retrieve_ms": {"p50": _pct(lat, 50), "p99": _pct(lat, 99), "n": len(lat)},
            "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--distinct", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--modes", default="embedded,server")
    args = ap.parse_args()
    out = []
    for mode in args.modes.split(","):
        with tempfile.TemporaryDirectory(prefix=f"replydesk-scale-{mode}-") as tmp:
            root = Path(tmp)
            server = None
            url = None
            if mode == "server":
                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                server = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(root / "server"), "--host",
                                           "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
                url = f"http://127.0.0.1:{port}"
                time.sleep(3)
            # Each mode in its own process would be cleaner for memory; here the peak RSS is cumulative.
            res = build_and_query(mode, args.chunks, args.distinct, args.queries, url, root)
            if server is not None:
                res["chroma_server_peak_rss_mb"] = _rss_mb(server.pid)
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
            out.append(res)
            print(json.dumps(res), flush=True)
    print(json.dumps({"date": datetime.now(CST).isoformat(timespec="minutes"), "nproc": os.cpu_count(), "runs": out}))


if __name__ == "__main__":
    main()
