"""The hourly rollups answer what the events answer (SQLite and PostgreSQL), and the migration's backfill
builds the very rows live maintenance builds.

Random events (seeded) over six weeks that cross the end of daylight saving time in New York, written through
``events.append`` and marked through ``events.mark_*``; ranges with partial hours at both edges, ranges inside
one hour, whole days and weeks; shop timezones Shanghai (+8), New York (DST) and UTC.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command

from core.db import alembic_config, make_engine, migrate
from core.tables import urge_hourly, urge_latency
from drafter.insights import events, histogram, queries

START = datetime(2026, 10, 20, 3, 17, tzinfo=UTC)
DAYS = 42
SHOPS = ("s1", "s2")
ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("UTC")]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path}/r.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def _populate(engine: sa.Engine, n: int = 300, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with engine.begin() as conn:
        for i in range(n):
            at = START + timedelta(seconds=rnd.randrange(DAYS * 86400), microseconds=rnd.randrange(10**6))
            if i % 50 == 0:  # on the hour: an edge must count it once, in the right hour
                at = at.replace(minute=0, second=0, microsecond=0)
            state, cause = rnd.choice([("awaiting_dispatch", "awaiting"), ("awaiting_dispatch", "overdue"),
                                       ("out_of_stock", "stock_error"), ("shipped", "in_transit"),
                                       ("stuck", "courier_stall")])
            events.append(conn, dict(
                shop_id=rnd.choice(SHOPS), draft_id=f"d{i}", order_id=f"T{rnd.randrange(120)}", received_at=at,
                drafted_at=at + timedelta(seconds=rnd.uniform(0, 9)),
                intent_kind=rnd.choice(["urge", "urge", "logistics", "complaint", "other"]), state=state, cause=cause,
                sku=rnd.choice(["MUG-01", "CUP-02", "TRAY-08", None]), warehouse=rnd.choice(["WH-HZ", "WH-GZ", None]),
                carrier=rnd.choice(["中通快递", "顺丰速运"]) if state in ("shipped", "stuck") else None))
        for i in range(n):
            if rnd.random() < 0.2:
                continue
            row = conn.execute(sa.text("SELECT received_at FROM urge_events WHERE draft_id = :d"), {"d": f"d{i}"}).one()
            received = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(row[0])
            received = received.replace(tzinfo=UTC) if received.tzinfo is None else received
            # Log-normal waits from seconds to hours; a few clocks behind the message (counted as 0 s).
            decided = received + timedelta(seconds=rnd.lognormvariate(4, 1.3) if rnd.random() > 0.03 else -5)
            events.mark_decision(conn, f"d{i}", rnd.choice(["approved", "approved", "edited", "rejected"]), decided,
                                 rnd.choice(["k_li", "k_wang", "k_zhao", None]))
            events.mark_decision(conn, f"d{i}", "rejected", decided + timedelta(hours=1), "k_late")  # not the first
            if rnd.random() < 0.7:
                events.mark_inserted(conn, f"d{i}", decided + timedelta(seconds=rnd.uniform(1, 20)))
                events.mark_sent(conn, f"d{i}", decided + timedelta(seconds=rnd.uniform(20, 90)))


def _ranges(rnd: random.Random) -> Iterator[tuple[datetime, datetime]]:
    yield START, START + timedelta(days=DAYS)                                   # everything
    yield datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)  # whole days and weeks
    yield START + timedelta(minutes=5), START + timedelta(minutes=50)             # inside one hour
    yield datetime(2026, 11, 1, 10, 0, tzinfo=UTC), datetime(2026, 11, 1, 11, 0, tzinfo=UTC)  # exactly one hour
    for _ in range(4):
        since = START + timedelta(seconds=rnd.randrange(DAYS * 86400))
        yield since, since + timedelta(seconds=rnd.choice([3, 30, 300]) * rnd.randrange(1, 12000))


def _close(a: float | None, b: float | None) -> bool:
    """The histogram's bound (histogram.py) plus both answers' rounding to 0.1 s."""
    if a is None or b is None:
        return a == b
    return abs(a - b) <= histogram.RELATIVE_ERROR * b + histogram.ABSOLUTE_ERROR_S + 0.1 + 1e-9


def test_rollup_answers_equal_the_events(engine: sa.Engine) -> None:
    _populate(engine)
    rnd = random.Random(3)
    checked = 0
    for i, (since, until) in enumerate(_ranges(rnd)):
        until = min(until, START + timedelta(days=DAYS + 1))
        tz = ZONES[i % len(ZONES)]
        for shop in SHOPS:
            rng = queries.Range(since, until, tz)
            for by in queries.BY:
                if by == "hour" and rng.hours > 24 * 93:
                    continue
                assert queries.urges(engine, shop, rng, by) == queries.urges(engine, shop, rng, by, source="events"), \
                    (by, since, until, tz)
                checked += 1
            assert queries.urges(engine, shop, rng, "sku", kinds=None) == queries.urges(
                engine, shop, rng, "sku", kinds=None, source="events")
            assert queries.causes(engine, shop, rng) == queries.causes(engine, shop, rng, source="events")
            assert queries.approvals(engine, shop, rng) == queries.approvals(engine, shop, rng, source="events")
            dims = ("sku", "warehouse", "carrier", "state", "cause")
            assert queries.breakdown(engine, shop, rng, dims) == {
                d: queries.urges(engine, shop, rng, d, source="events")["groups"][:20] for d in dims}

            exact = queries.response_times(engine, shop, rng, source="events")
            assert queries.response_times(engine, shop, rng) == exact   # a small range: computed exactly
            est = queries.response_times(engine, shop, rng, exact_up_to=0)  # always from the histograms
            for stage, want in exact["stages"].items():
                got = est["stages"][stage]
                assert got["n"] == want["n"] and all(_close(got[p], want[p]) for p in ("p50", "p90", "p95")), \
                    (stage, got, want)
            for key in ("per_agent", "per_hour"):
                label = "key" if key == "per_agent" else "hour"
                assert [(r[label], r["n"]) for r in est[key]] == [(r[label], r["n"]) for r in exact[key]], key
                for got, want in zip(est[key], exact[key], strict=True):
                    assert all(_close(got[p], want[p]) for p in ("p50", "p90", "p95")), (key, got, want)
    assert checked > 120
    # The data is not empty where it matters: the whole range has decisions of every kind and late clocks.
    whole = queries.response_times(engine, "s1", queries.Range(START, START + timedelta(days=DAYS), ZONES[0]),
                                   source="events")
    assert whole["stages"]["decided"]["n"] > 80 and {a["key"] for a in whole["per_agent"]} >= {"(unknown)", "k_li"}


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t))) for t in (urge_hourly, urge_latency)}


def test_the_backfill_builds_what_live_maintenance_builds(engine: sa.Engine) -> None:
    _populate(engine, n=150, seed=11)
    live = _snapshot(engine)
    assert len(live["urge_hourly"]) > 150 and {r[1] for r in live["urge_latency"]} == {1, 24, 168}
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    command.downgrade(cfg, "0011")   # drops the rollups, keeps the events
    command.upgrade(cfg, "head")     # builds them again from the events
    assert _snapshot(engine) == live


def test_histogram_buckets_are_whole_microseconds_and_log_spaced() -> None:
    b = histogram.BOUNDS_US
    assert b[0] == 62_500 and b[64] == 1_000_000 and b[80] == 2_000_000
    assert all(1.04 < y / x < 1.05 for x, y in zip(b, b[1:], strict=False))
    assert histogram.bucket_of(0) == 0 and histogram.bucket_of(62_499) == 0 and histogram.bucket_of(62_500) == 1
    assert histogram.bucket_of(999_999) == 64 and histogram.bucket_of(1_000_000) == 65
    assert histogram.bucket_of(10**18) == len(b)   # the open last bucket


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_from_buckets_are_within_the_stated_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(4, 1.2, 3000), rng.uniform(0, 0.05, 50), [0.0] * 10])
    counts: dict[int, int] = {}
    for v in values:
        counts[histogram.bucket_of(round(v * 1e6))] = counts.get(histogram.bucket_of(round(v * 1e6)), 0) + 1
    got = histogram.percentiles(counts)
    assert got["n"] == len(values)
    for q in (50, 90, 95):
        exact = float(np.percentile(values, q))
        assert abs(float(got[f"p{q}"]) - exact) <= histogram.RELATIVE_ERROR * exact + 0.05 + 1e-9, (q, got, exact)
    assert histogram.percentiles({}) == {"n": 0, "p50": None, "p90": None, "p95": None}
    # One value: every percentile is inside its bucket, not at the bucket's edge.
    one = histogram.percentiles({histogram.bucket_of(120_000_000): 1})
    assert abs(float(one["p50"]) - 120) <= 120 * histogram.RELATIVE_ERROR


def test_concurrent_drafts_of_one_shop_share_the_hour_rows_without_losing_a_count(pg_schema_url: str) -> None:
    """Eight writers on the same shop and hour (the hot rows): every upsert waits its turn, none is lost, and
    the one sorted write order means no deadlock."""
    import threading

    eng = make_engine(pg_schema_url)
    migrate(eng)
    at = datetime(2026, 11, 11, 10, 5, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(15):
                with eng.begin() as conn:
                    events.append(conn, dict(shop_id="hot", draft_id=f"d{w}-{i}", order_id=f"T{w}", received_at=at,
                                             drafted_at=at + timedelta(seconds=w), intent_kind="urge",
                                             state="awaiting_dispatch", cause="awaiting", sku=f"SKU-{i % 3}"))
                with eng.begin() as conn:
                    events.mark_decision(conn, f"d{w}-{i}", "approved", at + timedelta(seconds=30 + i), f"k{w % 2}")
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rng = queries.Range(at.replace(minute=0), at.replace(minute=0) + timedelta(hours=1), ZoneInfo("Asia/Shanghai"))
    assert queries.urges(eng, "hot", rng, "sku") == queries.urges(eng, "hot", rng, "sku", source="events")
    assert queries.urges(eng, "hot", rng, "intent")["total"] == 120
    est = queries.response_times(eng, "hot", rng, exact_up_to=0)
    assert est["stages"]["decided"]["n"] == 120 and [a["n"] for a in est["per_agent"]] == [60, 60]
    eng.dispose()
