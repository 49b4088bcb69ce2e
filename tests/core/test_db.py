from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from core.clock import FixedClock
from core.db import make_engine, migrate, utc
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

TABLES = {"shops", "shop_settings_revisions", "knowledge_items", "knowledge_revisions", "orders", "api_keys",
          "drafts", "alembic_version"}


def test_sqlite_migrations_are_idempotent_and_use_wal(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path}/a.db")
    migrate(eng)
    migrate(eng)
    assert TABLES <= set(sa.inspect(eng).get_table_names())
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_postgres_runs_the_same_migrations(pg_schema_url: str) -> None:
    eng = make_engine(pg_schema_url)
    migrate(eng)
    migrate(eng)
    assert TABLES <= set(sa.inspect(eng).get_table_names())
    clock = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
    ShopStore(eng, clock).ensure("pg-shop")
    ks = KnowledgeStore(eng, clock)
    ks.upsert("pg-shop", "p1", kind="policy", title="t", text="一")
    ks.upsert("pg-shop", "p1", kind="policy", title="t", text="二")
    assert [d.revision for d in ks.revisions("pg-shop", "p1")] == [1, 2]
    assert ks.get("pg-shop", "p1").created_at == clock.now()
    eng.dispose()


def test_utc_attaches_utc_to_naive_values() -> None:
    assert utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert utc(None) is None


def test_timestamps_round_trip_in_utc_on_sqlite(tmp_path: Path) -> None:
    from datetime import timedelta, timezone

    eng = make_engine(f"sqlite:///{tmp_path}/tz.db")
    migrate(eng)
    beijing = datetime(2026, 11, 12, 15, 10, tzinfo=timezone(timedelta(hours=8)))
    ShopStore(eng, FixedClock(beijing)).ensure("s")
    ks = KnowledgeStore(eng, FixedClock(beijing))
    ks.upsert("s", "n", kind="notice", title="t", text="x", valid_from=beijing, valid_to=beijing + timedelta(days=1))
    doc = ks.get("s", "n")
    assert doc.created_at == beijing and doc.valid_from == beijing
    assert doc.created_at.utcoffset() == timedelta(0)
