"""HTTP load benchmark: the API with several workers on PostgreSQL and a Chroma server, template composer.

Loopback only, bounded in count and time. An open-loop client sends drafts at a fixed rate for a
fixed time and counts errors and latencies; a step search finds the highest rate the server
sustains with zero errors and a p99 under the limit. The client shares the 2 cores with the server,
so the figures are a floor for what the server does on a machine of its own.

    python -m benchmarks.load --workers 2 --rates 20,40,60,80,100 --seconds 60           # the demo shop
    python -m benchmarks.load --shops 1000 --rates 100 --seconds 60 --p99-limit-ms 300   # many shops

With ``--shops N`` the deployment is the multi-shop one: PostgreSQL, a `chroma run` server, Redis
(query-embedding cache and job queue) and a `replydesk worker` beside the API workers; N shops of
``--min-chunks``..``--max-chunks`` synthetic policy chunks each (vectors derived from a few hundred
real embeddings, as in benchmarks/scale.py; every chunk has its own text and search tokens), each
with a key and a few orders. Traffic is Zipf-skewed over shops (s = ``--zipf``; the largest shops
get most urges). Before the rate steps, the first draft of ``--sample`` shops, one at a time, in
freshly started workers, gives the first-query latency (the server's own retrieve timing and the
whole request).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MESSAGES = ["亲，怎么还不发货？", "今天能发吗", "都三天了还没物流", "什么时候发货", "催一下", "单号多少", "发货了吗",
            "物流怎么不动了", "能不能快点发", "还要等多久", "Has my order shipped?", "预售什么时候发", "明天能到吗",
            "拍了两天了还不发", "到底发不发", "我的快递到哪了"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class RawPool:
    """HTTP/1.1 keep-alive connections on asyncio streams: a load client that costs a fraction of httpx's
    CPU per request (no per-request objects beyond the bytes). JSON bodies only; the server must send a
    Content-Length (uvicorn does for JSON responses)."""

    def __init__(self, base: str, size: int, timeout: float = 10.0) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.host, self.port, self.size, self.timeout = host, int(port), size, timeout
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(None)  # a slot: the connection is opened on first use

    async def post(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        conn = await self.idle.get()
        try:
            try:
                status, data, conn = await self._post(conn, path, body, headers)
            except asyncio.IncompleteReadError as exc:
                if conn is None or exc.partial:
                    raise
                # The server closed an idle keep-alive connection (uvicorn does after 5 s) before it read
                # this request: nothing was done, so it is sent once more on a new connection.
                conn[1].close()
                conn = None
                status, data, conn = await self._post(None, path, body, headers)
            return status, data
        except BaseException:
            if conn is not None:
                conn[1].close()
            conn = None
            raise
        finally:
            self.idle.put_nowait(conn)

    async def _post(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, path: str, body: bytes,
                    headers: str) -> tuple[int, bytes, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
        if conn is None:
            conn = await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                     f"{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await asyncio.wait_for(reader.readexactly(length), self.timeout) if length else b""
        if close:
            writer.close()
            return status, data, None
        return status, data, conn

    async def close(self) -> None:
        while not self.idle.empty():
            conn = self.idle.get_nowait()
            if conn is not None:
                conn[1].close()


async def _drive(base: str, key: str | None, rate: float, seconds: float, orders: list[str],
                 pick: Any = None, client: str = "httpx", in_flight: int = 256,
                 drain_s: float = 15.0) -> dict[str, Any]:
    lat: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    rng = random.Random(7)
    tasks = []
    if client == "raw":
        # Connections are the in-flight limit; a request waiting for one counts the wait in its latency.
        pool = RawPool(base, min(in_flight, 64))

        async def send(k: str | None, order: str, t0: float) -> None:
            body = json.dumps({"order_id": order, "message": rng.choice(MESSAGES)}, ensure_ascii=False).encode()
            try:
                status, _ = await pool.post("/v1/drafts", body, f"Authorization: Bearer {k}\r\n")
                if status != 201:
                    errors[str(status)] = errors.get(str(status), 0) + 1
                else:
                    lat.append((time.perf_counter() - t0) * 1000)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        async def one() -> None:
            k, order = (key, rng.choice(orders)) if pick is None else pick(rng)
            await send(k, order, time.perf_counter())

        closer: Any = pool.close
    else:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=64)
        # At most 256 requests in flight; the rest wait here (their wait counts in their latency). Left to
        # httpx's pool instead, thousands of waiting requests make its bookkeeping quadratic and the
        # client, not the server, melts down (seen at 100/s against a slow server).
        gate = asyncio.Semaphore(in_flight)
        http = httpx.AsyncClient(base_url=base, timeout=10, limits=limits)

        async def one() -> None:
            k, order = (key, rng.choice(orders)) if pick is None else pick(rng)
            t0 = time.perf_counter()
            async with gate:
                try:
                    r = await http.post("/v1/drafts", json={"order_id": order, "message": rng.choice(MESSAGES)},
                                        headers={"Authorization": f"Bearer {k}"})
                    if r.status_code != 201:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                    else:
                        lat.append((time.perf_counter() - t0) * 1000)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        closer = http.aclose
    start = time.perf_counter()
    while (now := time.perf_counter() - start) < seconds:
        due = int(now * rate) + 1
        while sent < due:
            tasks.append(asyncio.create_task(one()))
            sent += 1
        await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start)))
    _, late = await asyncio.wait(tasks, timeout=drain_s)
    for t in late:  # far above what the server sustains the queue would take minutes to drain: cut it
        t.cancel()
    if late:
        errors["unfinished"] = len(late)
        await asyncio.gather(*late, return_exceptions=True)
    wall = time.perf_counter() - start
    await closer()
    lat.sort()
    return {"rate": rate, "client": client, "sent": sent, "ok": len(lat), "errors": errors,
            "achieved_per_s": round(len(lat) / wall, 1),
            "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 1) if lat else None}


def build_fleet(env: dict[str, str], shops: int, lo: int, hi: int, big: int, distinct: int,
                orders_per_shop: int = 3) -> dict[str, Any]:
    """Shops with knowledge (SQL rows, search rows, per-shop vector collections), keys and orders."""
    import numpy as np
    import sqlalchemy as sa

    from api.container import Container
    from benchmarks.drafts import synthetic_texts
    from benchmarks.scale import distinct_vectors
    from core.clock import SystemClock
    from core.settings import Settings
    from core.tables import knowledge_items, knowledge_revisions
    from knowledge import fulltext
    from knowledge.chunking import chunk_doc
    from knowledge.demo_data import DEMO_SETTINGS, demo_orders
    from knowledge.store import KnowledgeDoc

    settings = Settings(**{k.removeprefix("REPLYDESK_").lower(): v for k, v in env.items()
                           if k.startswith("REPLYDESK_")})
    c = Container.build(settings, clock=SystemClock())
    rng = random.Random(3)
    sizes = sorted((rng.randint(lo, hi) for _ in range(shops)), reverse=True)
    names = [f"s{i:04d}" for i in range(shops)]  # s0000 is the largest (and, by Zipf rank, the busiest)
    if big:
        names.insert(0, "big")
        sizes.insert(0, big)
    texts = synthetic_texts(sum(sizes), random.Random(11))
    base = distinct_vectors(c.retriever.embedder, [f"{t}\n{b}" for t, b in texts[:distinct]])
    noise = np.random.default_rng(11)
    sample_orders = [f for f, _ in demo_orders(c.clock.now(), DEMO_SETTINGS)][:orders_per_shop]
    keys: dict[str, str] = {}
    t0 = time.perf_counter()
    t_sql = t_vec = 0.0
    pos = 0
    now = c.clock.now()
    for n_shop, (shop, n) in enumerate(zip(names, sizes, strict=True)):
        t = time.perf_counter()
        c.shops.ensure(shop, settings=DEMO_SETTINGS)
        docs = [KnowledgeDoc(shop, f"d{j:06d}", "policy", 1, texts[pos + j][0], texts[pos + j][1], created_at=now)
                for j in range(n)]
        chunks = [ch for d in docs for ch in chunk_doc(d)]
        with c.engine.begin() as conn:  # the rows KnowledgeStore.upsert writes, in bulk
            conn.execute(knowledge_items.insert(), [{"shop_id": shop, "id": d.id, "kind": d.kind, "current_revision": 1,
                                                     "deleted": False, "created_at": now, "updated_at": now} for d in docs])
            conn.execute(knowledge_revisions.insert(), [{"shop_id": shop, "item_id": d.id, "revision": 1, "kind": d.kind,
                                                         "title": d.title, "text": d.text, "tags_json": "[]",
                                                         "deleted": False, "created_at": now} for d in docs])
            fulltext.insert_chunks(conn, chunks)
        for facts in sample_orders:
            c.orders.put(shop, facts)
        keys[shop] = c.keys.create(shop, "agent", label="load")[1]
        t_sql += time.perf_counter() - t
        t = time.perf_counter()
        vecs = base[np.arange(pos, pos + len(chunks)) % len(base)] + noise.normal(0, 0.02, (len(chunks), base.shape[1]))
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        c.service.index.add_chunks_with_embeddings(chunks, vecs)
        t_vec += time.perf_counter() - t
        pos += n
        if n_shop % 100 == 0:
            print(f"built {n_shop + 1}/{len(names)} shops, {pos} chunks, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    with c.engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM knowledge_chunks")).scalar_one()
    c.close()
    return {"shops": names, "sizes": sizes, "keys": keys, "orders": [f.order_id for f in sample_orders],
            "chunks": int(total), "build_sql_s": round(t_sql, 1), "build_vectors_s": round(t_vec, 1)}


def warm_chroma(env: dict[str, str], fleet: dict[str, Any]) -> float:
    """One tiny query per shop collection, straight to Chroma, so its server loads every segment."""
    import numpy as np

    from knowledge.embeddings import E5Embedder
    from knowledge.index import VectorIndex

    index = VectorIndex(E5Embedder(), url=env["REPLYDESK_CHROMA_URL"], collection=env["REPLYDESK_CHROMA_COLLECTION"])
    v = np.ones(384, dtype=np.float32) / np.sqrt(384)
    t = time.perf_counter()
    for shop in fleet["shops"]:
        index.query(shop, v, 1)
    return round(time.perf_counter() - t, 1)


def first_queries(base: str, fleet: dict[str, Any], sample: int) -> dict[str, Any]:
    """The first draft of ``sample`` shops (never asked before), one at a time."""
    rng = random.Random(17)
    shops = [s for s in fleet["shops"] if s != "big"]
    picked = rng.sample(shops, min(sample, len(shops)))
    if "big" in fleet["shops"]:
        picked.append("big")
    retrieve, total, client, errors = [], [], [], 0
    big = None
    with httpx.Client(base_url=base, timeout=60) as http:
        for shop in picked:
            t0 = time.perf_counter()
            r = http.post("/v1/drafts", json={"order_id": rng.choice(fleet["orders"]), "message": rng.choice(MESSAGES)},
                          headers={"Authorization": f"Bearer {fleet['keys'][shop]}"})
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 201:
                errors += 1
                continue
            t = r.json()["timings_ms"]
            if shop == "big":
                big = {"retrieve_ms": t.get("retrieve"), "total_ms": t.get("total"), "client_ms": round(ms, 1)}
                continue
            retrieve.append(t.get("retrieve") or 0.0)
            total.append(t.get("total") or 0.0)
            client.append(ms)

    def pct(v: list[float]) -> dict[str, float]:
        s = sorted(v)
        return {"p50": round(s[len(s) // 2], 1), "p95": round(s[int(len(s) * 0.95) - 1], 1), "max": round(s[-1], 1)} if s else {}

    return {"n": len(retrieve), "errors": errors, "retrieve_ms": pct(retrieve), "server_total_ms": pct(total),
            "client_ms": pct(client), "big_shop": big}


def profile_drafts(env: dict[str, str], fleet: dict[str, Any], pick: Any, n: int) -> dict[str, Any]:
    """Where a draft's server time goes: ``n`` drafts through ``create_draft`` (what POST /v1/drafts
    runs) in this process against the same deployment, under cProfile; the top functions by own time
    and by cumulative time."""
    import cProfile
    import io
    import pstats

    from api.container import Container
    from core.clock import SystemClock
    from core.settings import Settings
    from drafter.create import create_draft
    from drafter.request import DraftRequest

    settings = Settings(**{k.removeprefix("REPLYDESK_").lower(): v for k, v in env.items()
                           if k.startswith("REPLYDESK_")})
    c = Container.build(settings, clock=SystemClock(), run_migrations=False)
    by_key = {v: k for k, v in fleet["keys"].items()}
    rng = random.Random(23)
    calls = []
    for _ in range(n):
        key, order = pick(rng)
        calls.append((by_key[key], DraftRequest(order_id=order, message=rng.choice(MESSAGES))))
    services = c.draft_services()
    for shop, req in calls[:20]:  # warm: model, jieba, connections
        create_draft(req, shop, services, c.review, author="bench")
    # Unprofiled first: this process's CPU per draft, and the database round trips (statements, and pool
    # checkouts: each costs a ping, and a BEGIN and COMMIT/ROLLBACK when it runs a statement).
    from sqlalchemy import event

    counts = {"statements": 0, "checkouts": 0}

    def on_statement(*_: Any) -> None:
        counts["statements"] += 1

    def on_checkout(*_: Any) -> None:
        counts["checkouts"] += 1

    event.listen(c.engine, "before_cursor_execute", on_statement)
    event.listen(c.engine, "checkout", on_checkout)
    t0, cpu0 = time.perf_counter(), time.process_time()
    for shop, req in calls:
        create_draft(req, shop, services, c.review, author="bench")
    plain_wall, plain_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    event.remove(c.engine, "before_cursor_execute", on_statement)
    event.remove(c.engine, "checkout", on_checkout)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for shop, req in calls:
        create_draft(req, shop, services, c.review, author="bench")
    prof.disable()
    wall = time.perf_counter() - t0
    c.close()
    res: dict[str, Any] = {"drafts": n, "unprofiled_wall_ms_per_draft": round(plain_wall / n * 1000, 2),
                           "unprofiled_cpu_ms_per_draft": round(plain_cpu / n * 1000, 2),
                           "sql_statements_per_draft": round(counts["statements"] / n, 2),
                           "pool_checkouts_per_draft": round(counts["checkouts"] / n, 2),
                           "wall_s": round(wall, 2), "per_draft_ms": round(wall / n * 1000, 2)}
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(18)
        res[f"top_{key}"] = buf.getvalue().splitlines()[6:]
    return res


def zipf_picker(fleet: dict[str, Any], s: float) -> Any:
    shops = fleet["shops"]
    weights = [1.0 / (i + 1) ** s for i in range(len(shops))]
    cum = list(itertools.accumulate(weights))

    def pick(rng: random.Random) -> tuple[str, str]:
        shop = shops[bisect.bisect_left(cum, rng.random() * cum[-1])]
        return fleet["keys"][shop], rng.choice(fleet["orders"])

    top10 = sum(weights[:10]) / cum[-1]
    return pick, round(top10, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rates", default="20,40,60,80,100")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--p99-limit-ms", type=float, default=1000)
    ap.add_argument("--embedded", action="store_true", help="SQLite + embedded Chroma, one worker")
    ap.add_argument("--shops", type=int, default=0, help="the multi-shop deployment with this many shops")
    ap.add_argument("--min-chunks", type=int, default=50)
    ap.add_argument("--max-chunks", type=int, default=200)
    ap.add_argument("--big", type=int, default=0, help="plus one shop of this many chunks")
    ap.add_argument("--distinct", type=int, default=300)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--zipf", type=float, default=1.1)
    ap.add_argument("--profile-drafts", type=int, default=0, help="then profile this many drafts in process")
    ap.add_argument("--fleet", help="keep the built fleet under this name (a PostgreSQL database of that name and "
                    "a Chroma dir under --fleet-dir) and reuse it on the next run with the same shape")
    ap.add_argument("--fleet-dir", default=str(ROOT / ".fleet"))
    ap.add_argument("--rebuild", action="store_true", help="build the kept fleet again")
    ap.add_argument("--build-only", action="store_true", help="build (or check) the kept fleet and stop")
    ap.add_argument("--lock", help="take this flock only for the rate steps (build and warm-up outside it)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--chroma-url", help="use this running Chroma server (over the kept fleet's dir) instead of "
                    "starting one; its CPU is then not counted")
    ap.add_argument("--chroma-pgid", type=int, default=0, help="with --chroma-url: its process group (for CPU)")
    ap.add_argument("--drain-s", type=float, default=15.0,
                    help="after the sending time, wait this long for answers; the rest count as 'unfinished'")
    ap.add_argument("--client", choices=("httpx", "raw"), default="httpx",
                    help="raw: HTTP/1.1 keep-alive connections on asyncio streams (a cheaper client)")
    args = ap.parse_args()
    if args.shops:
        return main_fleet(args)
    tmp = Path(tempfile.mkdtemp(prefix="replydesk-load-"))
    schema = f"load_{uuid.uuid4().hex[:8]}"
    import sqlalchemy as sa

    admin = sa.create_engine(PG)
    if not args.embedded:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    cport, port = _port(), _port()
    procs: list[subprocess.Popen] = []
    results = []
    try:
        env = {**os.environ, "REPLYDESK_DATA_DIR": str(tmp / "data"), "REPLYDESK_RATE_LIMIT_PER_MIN": "0"}
        if args.embedded:
            args.workers = 1
            env.pop("REPLYDESK_DATABASE_URL", None)
            env.pop("REPLYDESK_CHROMA_URL", None)
        else:
            procs.append(subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host",
                                           "127.0.0.1", "--port", str(cport)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
            _wait(f"http://127.0.0.1:{cport}/api/v2/heartbeat")
            env.update({"REPLYDESK_DATABASE_URL": f"{PG}?options=-csearch_path%3D{schema}",
                        "REPLYDESK_CHROMA_URL": f"http://127.0.0.1:{cport}"})
        seed = subprocess.run([str(BIN / "replydesk"), "demo", "seed"], env=env, cwd=ROOT, capture_output=True, text=True)
        key = next(line.split(" key: ")[1] for line in seed.stdout.splitlines() if line.startswith("agent key: "))
        procs.append(subprocess.Popen([str(BIN / "replydesk"), "serve", "--port", str(port), "--workers",
                                       str(args.workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/healthz")
        orders = [f"T10{i:02d}" for i in range(1, 15)]
        asyncio.run(_drive(base, key, 10, 5, orders))  # warm every worker
        for rate in [float(r) for r in args.rates.split(",")]:
            res = asyncio.run(_drive(base, key, rate, args.seconds, orders))
            res["sustained"] = (not res["errors"] and res["p99_ms"] is not None and res["p99_ms"] <= args.p99_limit_ms
                                and res["achieved_per_s"] >= 0.95 * rate)
            results.append(res)
            print(json.dumps(res), file=sys.stderr)
            if not res["sustained"]:
                break
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if not args.embedded:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    best = max((r["rate"] for r in results if r["sustained"]), default=0)
    print(json.dumps({"mode": "embedded" if args.embedded else "postgresql+chroma-server",
                      "workers": args.workers, "seconds": args.seconds, "highest_sustained_per_s": best,
                      "steps": results}, indent=2))


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# What a kept fleet's file records besides the fleet itself: a reused fleet runs with the same names.
FLEET_FILE = "fleet.json"
# Tables a draft writes: emptied before the rate steps of a reused fleet, so every run starts equal.
DRAFT_TABLES = ("drafts", "feedback_events", "urge_events", "urge_alerts", "idempotency_keys", "llm_calls",
                "tasks", "task_events", "compensation_approvals", "order_cache", "order_fetch_locks")


def _fleet_paths(args: argparse.Namespace) -> tuple[Path, str]:
    """(its directory, its PostgreSQL database) for a kept fleet; the database is named for the fleet."""
    name = args.fleet
    if not re.fullmatch(r"[a-z][a-z0-9_]{2,40}", name):
        raise SystemExit("--fleet: 3-41 characters of [a-z0-9_], starting with a letter (it names a database)")
    return Path(args.fleet_dir).resolve() / name, name


def _reset_draft_tables(engine: Any) -> None:
    import sqlalchemy as sa

    with engine.begin() as conn:
        have = set(sa.inspect(conn).get_table_names())
        tables = [t for t in DRAFT_TABLES if t in have]
        if tables:
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))
            conn.execute(sa.text(f"ANALYZE {', '.join(tables)}"))


def _stored(engine: Any) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM drafts")).scalar_one())


def _cpu(procs: list[Any], database: str | None = None) -> dict[str, float]:
    """CPU seconds used so far (user + system) by: this process (the load client), each started process
    group (API workers, job worker, Chroma server), the PostgreSQL backends serving ``database`` (every
    PostgreSQL process when None; a backend that exits takes its CPU with it, so read it as a lower bound
    when connections come and go) and the Redis server (shared: read it as an upper bound)."""
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    groups = {p.pid: name for p, name in zip(procs, ("chroma", "job_worker", "api"), strict=False)}
    out = dict.fromkeys((*groups.values(), "postgres", "redis"), 0.0)
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        f = raw[raw.rindex(")") + 2:].split()
        secs = (int(f[11]) + int(f[12])) / tick
        if int(f[2]) in groups:
            out[groups[int(f[2])]] += secs
        elif comm == "postgres":
            if database is not None:
                try:
                    cmd = (d / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if f" {database} " not in cmd:
                    continue
            out["postgres"] += secs
        elif comm.startswith("redis-server"):
            out["redis"] += secs
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["client"] = ru.ru_utime + ru.ru_stime
    return out


class _External:
    """A process group this run uses but did not start (a Chroma server kept warm): counted, not stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


def main_fleet(args: argparse.Namespace) -> None:
    import redis
    import sqlalchemy as sa

    kept = args.fleet is not None
    if kept:
        fdir, dbname = _fleet_paths(args)
        fdir.mkdir(parents=True, exist_ok=True)
        tmp = fdir
        tag = dbname.replace("_", "-")
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        fleet_file = fdir / FLEET_FILE
        reuse = fleet_file.exists()
        if args.rebuild and reuse:
            reuse = False
            fleet_file.unlink()
        if not reuse:
            import shutil

            shutil.rmtree(fdir / "chroma", ignore_errors=True)
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="replydesk-fleet-"))
        tag = uuid.uuid4().hex[:8]
        schema = f"load_{tag}"
        admin = sa.create_engine(PG)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{PG}?options=-csearch_path%3D{schema}"
        reuse = False
    cport, port = _port(), _port()
    chroma_url = args.chroma_url or f"http://127.0.0.1:{cport}"
    procs: list[Any] = []
    out: dict[str, Any] = {"mode": "postgresql+chroma-server+redis+job-worker", "workers": args.workers,
                           "shops": args.shops, "chunks_per_shop": [args.min_chunks, args.max_chunks],
                           "big": args.big, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           "nproc": os.cpu_count(), "loadavg_before": os.getloadavg()[0],
                           "fleet": "reused" if reuse else ("built, kept" if kept else "built")}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")},
           "REPLYDESK_DATA_DIR": str(tmp / "data"), "REPLYDESK_RATE_LIMIT_PER_MIN": "0",
           "REPLYDESK_DATABASE_URL": db_url,
           "REPLYDESK_CHROMA_URL": chroma_url, "REPLYDESK_REDIS_URL": args.redis_url,
           "REPLYDESK_CHROMA_COLLECTION": f"load-{tag}", "REPLYDESK_JOBS_QUEUE": f"load-{tag}",
           "OMP_NUM_THREADS": "1"}
    try:
        if args.chroma_url:  # a running server over this fleet's Chroma dir (kept warm between runs)
            procs.append(_External(args.chroma_pgid))  # its CPU is counted; it is left running
        else:
            procs.append(subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host",
                                           "127.0.0.1", "--port", str(cport)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        _wait(f"{chroma_url}/api/v2/heartbeat")
        if reuse:
            fleet = json.loads((tmp / FLEET_FILE).read_text())
            if (fleet["shops_arg"], fleet["chunks_arg"], fleet["big"]) != (
                    args.shops, [args.min_chunks, args.max_chunks], args.big):
                raise SystemExit(f"the kept fleet {args.fleet!r} was built with other --shops/--min/--max/--big: "
                                 "pass --rebuild")
            _reset_draft_tables(sa.create_engine(db_url))
            out.update({"chunks": fleet["chunks"], "build_s": fleet["build_s"]})
        else:
            t = time.perf_counter()
            fleet = build_fleet(env, args.shops, args.min_chunks, args.max_chunks, args.big, args.distinct)
            out.update({"chunks": fleet["chunks"], "build_s": round(time.perf_counter() - t, 1),
                        "build_sql_s": fleet["build_sql_s"], "build_vectors_s": fleet["build_vectors_s"]})
            if kept:
                fleet.update({"shops_arg": args.shops, "chunks_arg": [args.min_chunks, args.max_chunks],
                              "big": args.big, "build_s": out["build_s"]})
                (tmp / FLEET_FILE).write_text(json.dumps(fleet))
        print(json.dumps({k: v for k, v in out.items()}), file=sys.stderr, flush=True)
        if args.build_only:
            return
        procs.append(subprocess.Popen([str(BIN / "replydesk"), "worker"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        starting: list[subprocess.Popen] = []

        def start_api() -> subprocess.Popen:
            p = subprocess.Popen([str(BIN / "replydesk"), "serve", "--port", str(port), "--workers",
                                  str(args.workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            starting.append(p)  # stopped at the end even if it never answers
            # Workers import the model stack: minutes when the machine is busy (seen: > 90 s at load 15).
            _wait(f"{base}/healthz", 600)
            # Warm both workers on one shop (model, jieba, connections): per-shop first-use costs stay untouched.
            warm_shop = fleet["shops"][-1]
            asyncio.run(_drive(base, fleet["keys"][warm_shop], 10, 3, fleet["orders"]))
            return p

        api = start_api()
        if args.sample:
            # 1. Fresh API workers and a Chroma server that has not yet loaded these shops' collections.
            out["first_query_cold_chroma"] = first_queries(base, fleet, args.sample)
            print(json.dumps(out["first_query_cold_chroma"]), file=sys.stderr, flush=True)
            # 2. The same shops in freshly restarted API workers (the Chroma server keeps what it loaded).
            os.killpg(api.pid, signal.SIGTERM)
            api.wait(timeout=60)
            api = start_api()
            out["first_query"] = first_queries(base, fleet, args.sample)
            print(json.dumps(out["first_query"]), file=sys.stderr, flush=True)
        procs.append(api)
        # 3. Steady state for the rate steps: the Chroma server has loaded every shop's collection.
        out["chroma_warm_s"] = warm_chroma(env, fleet)
        pick, top10 = zipf_picker(fleet, args.zipf)
        out["traffic"] = {"zipf_s": args.zipf, "top10_shops_share": top10, "messages": len(MESSAGES)}
        if args.lock:
            # Everything before (build, Chroma warm-up) runs outside the bench lock; only the figures inside.
            import fcntl

            lock = open(args.lock, "a")  # noqa: SIM115 - held until the process ends
            t = time.perf_counter()
            fcntl.flock(lock, fcntl.LOCK_EX)
            out["lock_wait_s"] = round(time.perf_counter() - t, 1)
            asyncio.run(_drive(base, None, 20, 5, fleet["orders"], pick=pick))  # re-warm after the wait
        out["loadavg_steps_start"] = os.getloadavg()[0]
        db_engine = sa.create_engine(db_url)
        steps = []
        for rate in [float(r) for r in args.rates.split(",")]:
            before = os.getloadavg()[0]
            stored0 = _stored(db_engine)
            cpu0 = _cpu(procs, dbname if kept else None)
            res = asyncio.run(_drive(base, None, rate, args.seconds, fleet["orders"], pick=pick, client=args.client,
                                     drain_s=args.drain_s))
            cpu1 = _cpu(procs, dbname if kept else None)
            # Per draft the server stored in the step (answered or not: a request the client gave up on
            # is still drafted), so that CPU is not charged to fewer drafts than did the work.
            res["stored"] = _stored(db_engine) - stored0
            res["sustained"] = (not res["errors"] and res["p99_ms"] is not None and res["p99_ms"] <= args.p99_limit_ms
                                and res["achieved_per_s"] >= 0.95 * rate)
            res["loadavg_before"], res["loadavg_after"] = before, os.getloadavg()[0]
            res["cpu_ms_per_draft"] = {k: round((cpu1[k] - cpu0[k]) * 1000 / max(res["stored"], 1), 2) for k in cpu1}
            steps.append(res)
            print(json.dumps(res), file=sys.stderr, flush=True)
        out["steps"] = steps
        if args.profile_drafts:
            out["profile"] = profile_drafts(env, fleet, pick, args.profile_drafts)
        try:
            r = redis.Redis.from_url(env["REPLYDESK_REDIS_URL"])
            out["query_cache_entries"] = int(r.zcard("replydesk:qvec:lru"))
        except Exception:
            pass
    finally:
        for p in [*reversed(procs), *(p for p in locals().get("starting", []) if p not in procs)]:
            if isinstance(p, _External):
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if not kept:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
