"""urge rollups: hourly counts per dimension value and response-time histograms (hour, UTC day and week rows),
kept by drafter/insights/rollup.py with every urge event; existing events are rolled up here

Revision ID: 0012
Revises: 0011
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen copies of the application's definitions (drafter/insights/events.py URGE_KINDS and
# drafter/insights/histogram.py BOUNDS_US): this backfill must build what the code of this revision builds.
_URGE_KINDS = ("urge", "logistics", "complaint", "change_request")
_BOUNDS_US = [round(1e6 * 2 ** ((k - 64) / 16)) for k in range(481)]
_DIMS = {"sku": "sku", "warehouse": "warehouse", "carrier": "carrier", "state": "state", "cause": "cause",
         "intent": "intent_kind"}
_STAGES = (("draft", "drafted_at"), ("decided", "decided_at"), ("inserted", "inserted_at"), ("sent", "sent_at"))


def upgrade() -> None:
    op.create_table(
        "urge_hourly",
        sa.Column("shop_id", sa.String(64)),
        sa.Column("hour", sa.Integer),
        sa.Column("dim", sa.String(10)),
        sa.Column("value", sa.String(100)),
        sa.Column("urges", sa.Integer, nullable=False, server_default="0"),
        sa.Column("events", sa.Integer, nullable=False, server_default="0"),
        # The counts ride in the key's index: a range is read from the index alone (PostgreSQL).
        sa.PrimaryKeyConstraint("shop_id", "hour", "dim", "value", postgresql_include=["urges", "events"]),
    )
    op.create_table(
        "urge_latency",
        sa.Column("shop_id", sa.String(64)),
        sa.Column("span", sa.SmallInteger),
        sa.Column("start", sa.Integer),
        sa.Column("stage", sa.String(10)),
        sa.Column("grp", sa.String(40)),
        sa.Column("bucket", sa.SmallInteger),
        sa.Column("n", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("shop_id", "span", "start", "stage", "grp", "bucket", postgresql_include=["n"]),
    )
    backfill(op.get_bind())


def _hour(dialect: str, col: str) -> str:
    """Whole UTC hours since the epoch (drafter/insights/queries.py hour_bucket)."""
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch FROM {col}) / 3600) AS integer)"
    return f"CAST(strftime('%s', {col}) AS INTEGER) / 3600"


def backfill(conn: sa.Connection) -> None:
    """The rollup rows of every existing event: the same rows live maintenance writes (tested)."""
    d = conn.dialect.name
    hour = _hour(d, "received_at")
    urge = f"CASE WHEN intent_kind IN ({', '.join(repr(k) for k in _URGE_KINDS)}) THEN 1 ELSE 0 END"
    for dim, col in _DIMS.items():
        conn.execute(sa.text(
            f"INSERT INTO urge_hourly (shop_id, hour, dim, value, urges, events) "
            f"SELECT shop_id, {hour}, '{dim}', coalesce({col}, ''), sum({urge}), count(*) FROM urge_events "
            f"GROUP BY shop_id, {hour}, coalesce({col}, '')"))
    conn.execute(sa.text(
        f"INSERT INTO urge_hourly (shop_id, hour, dim, value, urges, events) "
        f"SELECT shop_id, {hour}, 'decision', decision || ':' || state, sum({urge}), count(*) FROM urge_events "
        f"WHERE decision IS NOT NULL GROUP BY shop_id, {hour}, decision || ':' || state"))
    if d == "postgresql":
        # Whole microseconds (extract is exact numeric), then the bucket whose lower bounds hold it.
        conn.execute(sa.text(f"""
            INSERT INTO urge_latency (shop_id, span, start, stage, grp, bucket, n)
            SELECT shop_id, 1, h, stage, grp, width_bucket(us, CAST(:bounds AS bigint[])) AS b, count(*)
            FROM (SELECT e.shop_id, {_hour(d, 'e.received_at')} AS h, s.stage, s.grp,
                         greatest(0, CAST(extract(epoch FROM s.at - e.received_at) * 1000000 AS bigint)) AS us
                  FROM urge_events e CROSS JOIN LATERAL (VALUES
                      ('draft', '', e.drafted_at), ('decided', 'a:' || coalesce(e.decided_by, ''), e.decided_at),
                      ('inserted', '', e.inserted_at), ('sent', '', e.sent_at)) AS s(stage, grp, at)
                  WHERE s.at IS NOT NULL) x
            GROUP BY shop_id, h, stage, grp, b"""), {"bounds": _BOUNDS_US})
    else:
        _latency_hours_in_python(conn)
    # A UTC day's rows are the sum of its hours' (decisions: overall, per agent key, per hour of day).
    conn.execute(sa.text("""
        INSERT INTO urge_latency (shop_id, span, start, stage, grp, bucket, n)
        SELECT shop_id, 24, start - start % 24, stage, g, bucket, sum(n) FROM (
            SELECT shop_id, start, stage, '' AS g, bucket, n FROM urge_latency WHERE span = 1
            UNION ALL
            SELECT shop_id, start, stage, grp AS g, bucket, n FROM urge_latency WHERE span = 1 AND stage = 'decided'
            UNION ALL
            SELECT shop_id, start, stage, 'h:' || CAST(start % 24 AS VARCHAR) AS g, bucket, n
            FROM urge_latency WHERE span = 1 AND stage = 'decided') x
        GROUP BY shop_id, start - start % 24, stage, g, bucket"""))
    # A UTC week's (hours since the epoch, aligned to 168) are the sum of its days'.
    conn.execute(sa.text("""
        INSERT INTO urge_latency (shop_id, span, start, stage, grp, bucket, n)
        SELECT shop_id, 168, start - start % 168, stage, grp, bucket, sum(n) FROM urge_latency WHERE span = 24
        GROUP BY shop_id, start - start % 168, stage, grp, bucket"""))


def _ts(value: object) -> datetime | None:
    if value is None:
        return None
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _latency_hours_in_python(conn: sa.Connection) -> None:
    """SQLite has no width_bucket and keeps times as text: the hour rows are counted here (an embedded
    database holds thousands of events, not millions)."""
    from bisect import bisect_right
    from collections import Counter

    epoch, hour, us = datetime(1970, 1, 1, tzinfo=UTC), timedelta(hours=1), timedelta(microseconds=1)
    counts: Counter[tuple[str, int, str, str, int]] = Counter()
    cols = ", ".join(c for _, c in _STAGES)
    for r in conn.execute(sa.text(f"SELECT shop_id, received_at, decided_by, {cols} FROM urge_events")):
        received = _ts(r.received_at)
        assert received is not None
        h = (received - epoch) // hour
        for stage, col in _STAGES:
            at = _ts(getattr(r, col))
            if at is None:
                continue
            b = bisect_right(_BOUNDS_US, max(0, (at - received) // us))
            counts[(r.shop_id, h, stage, f"a:{r.decided_by or ''}" if stage == "decided" else "", b)] += 1
    rows = [{"shop_id": k[0], "start": k[1], "stage": k[2], "grp": k[3], "bucket": k[4], "n": n}
            for k, n in counts.items()]
    if rows:
        conn.execute(sa.text("INSERT INTO urge_latency (shop_id, span, start, stage, grp, bucket, n) "
                             "VALUES (:shop_id, 1, :start, :stage, :grp, :bucket, :n)"), rows)


def downgrade() -> None:
    op.drop_table("urge_latency")
    op.drop_table("urge_hourly")
