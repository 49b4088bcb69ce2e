"""The insight queries over a million urge events: PostgreSQL (bulk-loaded with COPY) and SQLite.

    python -m benchmarks.insights_queries [--events 1000000] [--db postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                          [--sqlite-events 200000] [--repeat 15] [--json]
                                          [--schema NAME [--load-only]] [--sqlite-file PATH]

``--schema`` keeps the loaded PostgreSQL schema (and ``--sqlite-file`` the SQLite file) and reuses it when it
is there: load once with ``--load-only`` (minutes, no bench lock needed), then time under the lock.

Data: ``--events`` urge events over 180 days for 10 shops (the largest holds 40% of them), with the daily
cycle, Zipf-popular SKUs, 2 warehouses, 3 carriers, realistic causes and states, and response times
on most of them. PostgreSQL gets its own schema (dropped afterwards unless ``--schema``), made by the real
migrations up to 0011, then ``COPY ... FROM STDIN``, then migration 0012 (its backfill builds the hourly
rollups from the loaded events, as on a deployed database), then ``VACUUM ANALYZE`` (as after any bulk load).

Timed, for the largest shop, each query through the same functions the API calls, ``--repeat`` times
after one warm-up: urges by each dimension and by hour over the last 24 h and 7 days, causes vs the
usual level, repeat urgers, response-time percentiles, approvals, over 7 days (and 30 days for the
heaviest), one surge-detection evaluation, and the page's summary over 24 h, 7 and 30 days. The clock stands
23 minutes before the data's last hour ends, so every range has partial hours at both edges (read from
the events; whole hours from the rollups). Reported: p50 and p95 in ms per query.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

CST = timezone(timedelta(hours=8))
END = datetime(2026, 11, 25, 15, 0, tzinfo=CST)
# The page asks at some minute past the hour: every range then has partial hours at both edges.
NOW = END - timedelta(minutes=23, seconds=17)
DAYS = 180
DAILY = np.array([0.35, 0.2, 0.12, 0.08, 0.08, 0.1, 0.2, 0.45, 0.8, 1.1, 1.25, 1.3,
                  1.15, 1.1, 1.2, 1.25, 1.2, 1.1, 1.05, 1.2, 1.45, 1.6, 1.4, 0.8])
COLUMNS = ("shop_id", "draft_id", "order_id", "received_at", "drafted_at", "intent_kind", "repeat", "state", "cause",
           "overdue", "overdue_days", "restock_passed", "needs_human", "sku", "skus_json", "warehouse", "carrier",
           "created_by", "decision", "decided_by", "decided_at", "inserted_at", "sent_at")
STATES = [("awaiting_dispatch", "awaiting", 0.42), ("awaiting_dispatch", "overdue", 0.08), ("out_of_stock", "out_of_stock", 0.08),
          ("presale", "presale", 0.05), ("shipped", "in_transit", 0.27), ("stuck", "courier_stall", 0.04),
          ("shipped", "at_pickup", 0.03), ("signed", "signed", 0.03)]
KINDS = [("urge", 0.7), ("logistics", 0.2), ("complaint", 0.04), ("change_request", 0.03), ("other", 0.03)]


def generate(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Column arrays of ``n`` events (vectorised: a million rows in seconds)."""
    rng = np.random.default_rng(seed)
    shops = np.array([f"shop{i:02d}" for i in range(10)])
    shop_p = np.array([0.4] + [0.6 / 9] * 9)
    hour_p = np.tile(DAILY, DAYS) / np.tile(DAILY, DAYS).sum()
    start = END - timedelta(days=DAYS)
    hours = rng.choice(DAYS * 24, size=n, p=hour_p)
    secs = hours * 3600 + rng.integers(0, 3600, size=n)
    received = np.array([start.timestamp()]) + secs
    skus = np.array([f"SKU-{i:03d}" for i in range(200)])
    zipf = 1.0 / np.arange(1, 201) ** 0.9
    sku = skus[rng.choice(200, size=n, p=zipf / zipf.sum())]
    st = rng.choice(len(STATES), size=n, p=[s[2] for s in STATES])
    shipped = np.isin(st, [4, 5, 6, 7])
    carrier = np.where(shipped, np.array(["中通快递", "圆通速递", "顺丰速运"])[rng.choice(3, size=n, p=[0.5, 0.3, 0.2])], "")
    decided = rng.random(n) < 0.85
    decided_s = received + rng.gamma(2.0, 60.0, size=n)
    return {
        "shop_id": shops[rng.choice(10, size=n, p=shop_p)], "received": received, "drafted": received + 2.5,
        "order": np.char.add("T", rng.integers(10**7, 10**7 + n // 2, size=n).astype(str)),
        "kind": np.array([k for k, _ in KINDS])[rng.choice(len(KINDS), size=n, p=[p for _, p in KINDS])],
        "state": np.array([s[0] for s in STATES])[st], "cause": np.array([s[1] for s in STATES])[st],
        "sku": sku, "warehouse": np.array(["WH-HZ", "WH-GZ"])[rng.integers(0, 2, size=n)], "carrier": carrier,
        "decided": decided, "decided_at": decided_s,
        "decision": np.array(["approved", "edited", "rejected"])[rng.choice(3, size=n, p=[0.7, 0.2, 0.1])],
        "agent": np.array([f"k_agent{i}" for i in range(8)])[rng.integers(0, 8, size=n)],
        "sent_at": decided_s + rng.gamma(2.0, 5.0, size=n),
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def rows(d: dict[str, np.ndarray]) -> Any:
    for i in range(len(d["received"])):
        dec = bool(d["decided"][i])
        yield (d["shop_id"][i], None, d["order"][i], _iso(d["received"][i]), _iso(d["drafted"][i]), d["kind"][i], 0,
               d["state"][i], d["cause"][i], d["cause"][i] == "overdue", 0, False, False, d["sku"][i],
               f'["{d["sku"][i]}"]', d["warehouse"][i], d["carrier"][i] or None, "k_ext",
               d["decision"][i] if dec else None, d["agent"][i] if dec else None,
               _iso(d["decided_at"][i]) if dec else None, None,
               _iso(d["sent_at"][i]) if dec and d["decision"][i] != "rejected" else None)


def _upgrade(engine: Any, revision: str) -> float:
    from alembic import command

    from core.db import alembic_config

    t = time.perf_counter()
    command.upgrade(alembic_config(engine.url.render_as_string(hide_password=False)), revision)
    return time.perf_counter() - t


def load_pg(url: str, d: dict[str, np.ndarray]) -> float:
    import psycopg

    t = time.perf_counter()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY urge_events ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for r in rows(d):
                cp.write_row(r)
        conn.commit()
    return time.perf_counter() - t


def vacuum_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for table in ("urge_events", "urge_hourly", "urge_latency"):
            conn.execute(f"VACUUM ANALYZE {table}")


def load_sqlite(engine: Any, d: dict[str, np.ndarray]) -> float:
    t = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.executemany(f"INSERT INTO urge_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        ([v.replace("T", " ").split("+")[0] if isinstance(v, str) and v[:2] == "20" and "T" in v else v
                          for v in r] for r in rows(d)))
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - t


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return {"p50": round(statistics.median(ms), 1), "p95": round(float(np.percentile(ms, 95)), 1),
            "max": round(ms[-1], 1)}


def bench(engine: Any, repeat: int) -> dict[str, dict[str, float]]:
    from core.clock import FixedClock
    from drafter.insights import queries as q
    from drafter.insights.service import UrgeInsights
    from knowledge.shops import ShopStore

    clock = FixedClock(NOW)
    shops = ShopStore(engine, clock)
    shops.ensure("shop00")
    ins = UrgeInsights(engine, clock, shops)
    shop = "shop00"
    r24, r7, r30 = (ins.range(shop, default=timedelta(hours=h)) for h in (24, 24 * 7, 24 * 30))
    out: dict[str, dict[str, float]] = {}
    for label, rng in (("24h", r24), ("7d", r7)):
        for by in ("sku", "warehouse", "carrier", "state", "cause", "hour"):
            out[f"urges by={by} {label}"] = timed(partial(q.urges, engine, shop, rng, by), repeat)
    out["urges by=day 30d"] = timed(lambda: q.urges(engine, shop, r30, "day"), repeat)
    # The same answers from the events alone (the path before the rollups), timed in the same run.
    out["urges by=day 30d, events only"] = timed(lambda: q.urges(engine, shop, r30, "day", source="events"), repeat)
    out["causes 7d vs 4 weeks"] = timed(lambda: q.causes(engine, shop, r7), repeat)
    out["causes 7d vs 4 weeks, events only"] = timed(lambda: q.causes(engine, shop, r7, source="events"), repeat)
    out["repeats 7d"] = timed(lambda: q.repeats(engine, shop, r7), repeat)
    out["response-times 7d"] = timed(lambda: q.response_times(engine, shop, r7), repeat)
    out["response-times 30d"] = timed(lambda: q.response_times(engine, shop, r30), repeat)
    out["response-times 30d, exact from events"] = timed(
        lambda: q.response_times(engine, shop, r30, source="events"), repeat)
    out["approvals 7d"] = timed(lambda: q.approvals(engine, shop, r7), repeat)
    out["alerts"] = timed(lambda: ins.alerts(shop), repeat)
    out["surge detection (one evaluation)"] = timed(lambda: ins.detect(shop, END - timedelta(hours=1)), repeat)
    out["summary 24h (the page's default)"] = timed(lambda: ins.summary(shop, r24), max(3, repeat // 3))
    out["summary 7d (the whole page)"] = timed(lambda: ins.summary(shop, r7), max(3, repeat // 3))
    out["summary 30d"] = timed(lambda: ins.summary(shop, r30), max(3, repeat // 3))
    return out


def _postgresql(args: argparse.Namespace, result: dict[str, Any]) -> None:
    import sqlalchemy as sa

    from core.db import make_engine, migrate

    schema = args.schema or f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{args.db}?options=-csearch_path%3D{schema}"
    admin = sa.create_engine(args.db)
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                                      "AND table_name = 'urge_latency'"), {"s": schema}).first() is not None
    try:
        eng = make_engine(url)
        if not exists:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            _upgrade(eng, "0011")
            result["pg_load_s"] = round(load_pg(url, generate(args.events)), 1)
            result["pg_rollup_backfill_s"] = round(_upgrade(eng, "head"), 1)
            vacuum_pg(url)
        migrate(eng)
        if not args.load_only:
            result["postgresql"] = bench(eng, args.repeat)
        eng.dispose()
    finally:
        if not args.schema:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.insights_queries", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--sqlite-events", type=int, default=200_000)
    p.add_argument("--db", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--json", dest="as_json", action="store_true")
    p.add_argument("--schema", help="keep (and reuse) the PostgreSQL schema of this name")
    p.add_argument("--load-only", action="store_true", help="load (with --schema) and time nothing")
    p.add_argument("--sqlite-file", help="keep (and reuse) the SQLite database at this path")
    p.add_argument("--no-pg", dest="pg", action="store_false", help="SQLite only")
    args = p.parse_args(argv)
    import sqlalchemy as sa

    from core.db import make_engine

    result: dict[str, Any] = {"machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
                              "date": datetime.now(UTC).date().isoformat(), "events": args.events}
    if args.pg:
        _postgresql(args, result)
    if args.sqlite_events:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(args.sqlite_file or Path(tmp) / "b.db")
            eng = make_engine(f"sqlite:///{path}")
            result["sqlite_events"] = args.sqlite_events
            if not path.exists() or not sa.inspect(eng).has_table("urge_latency"):
                _upgrade(eng, "0011")
                result["sqlite_load_s"] = round(load_sqlite(eng, generate(args.sqlite_events, seed=5)), 1)
                result["sqlite_rollup_backfill_s"] = round(_upgrade(eng, "head"), 1)
                with eng.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
            if not args.load_only:
                result["sqlite"] = bench(eng, max(3, args.repeat // 3))
            eng.dispose()
    if args.as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    if "postgresql" not in result:
        return 0
    worst = max(v["p95"] for v in result["postgresql"].values())
    return 0 if worst < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
