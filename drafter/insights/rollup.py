"""Hourly rollups of urge events: counts per dimension value, and response-time histograms.

Kept in the transaction that writes the event (``events.record``) or marks its response (``events.mark_*``),
so a committed event is always counted. Two tables (``core/tables.py``, migration 0012, whose backfill
builds the same rows from existing events):

- ``urge_hourly``: per shop, whole UTC hour of the buyer's message, dimension (sku, warehouse, carrier,
  state, cause, intent, and ``decision`` = "approved:out_of_stock") and value ('' = not given): ``urges``
  (intents in ``URGE_KINDS``) and ``events`` (every intent).
- ``urge_latency``: bucket counts (``histogram.py``) of seconds from the buyer's message to each stage.
  ``span`` 1: one hour, decisions per agent key (``grp`` "a:<key>"), the other stages overall (``grp`` '').
  ``span`` 24 and 168: one UTC day or week (``start`` a multiple of the span), every stage overall,
  decisions per agent key and per UTC hour of day (``grp`` "h:<0-23>"): a month's percentiles read about
  four weeks', a few days' and a few hours' rows, not 720 hours' (a large shop's hour has as many rows as
  events: its buckets are that fine).

Writes are upserts (PostgreSQL ``INSERT … ON CONFLICT DO UPDATE``, SQLite the same syntax). Concurrent
drafts of one shop update the same few rows of the current hour (its intent and state rows above all):
each waits for the other's row lock until that transaction commits. The event's own transaction holds
them for about a millisecond (one insert and two upserts), so a shop serialises on them only at thousands
of drafts a second; rows are written in one sorted order everywhere, so two transactions cannot deadlock.

Reads: a range is cut into whole hours (the rollups; whole UTC days and weeks from the histograms' larger
spans) and the partial hours at its edges, read exactly from the events themselves.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.db import utc
from core.tables import urge_events as ue
from core.tables import urge_hourly, urge_latency
from drafter.insights.histogram import bucket_of, micros

__all__ = ["DIMS", "STAGES", "Split", "add_decision", "add_event", "add_stage", "dim_counts", "hour_counts",
           "hour_of", "latency_histograms", "split"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DIMS = ("sku", "warehouse", "carrier", "state", "cause", "intent", "decision")
STAGES = ("draft", "decided", "inserted", "sent")
_EVENT_COLUMN = {"sku": "sku", "warehouse": "warehouse", "carrier": "carrier", "state": "state", "cause": "cause",
                 "intent": "intent_kind"}


def hour_of(at: datetime) -> int:
    """Whole UTC hours since the epoch (as ``queries.hour_bucket`` computes it in SQL)."""
    return (at - EPOCH) // HOUR


def _dim_value(dim: str, ev: Any) -> str | None:
    """The rollup value of an event (a mapping of its columns); None: the event has none for ``dim``."""
    if dim == "decision":
        return f"{ev['decision']}:{ev['state']}" if ev.get("decision") else None
    return ev.get(_EVENT_COLUMN[dim]) or ""


# -- maintenance ------------------------------------------------------------------------------------------
def _upsert(conn: Connection, table: sa.Table, rows: Iterable[tuple[tuple[Any, ...], tuple[int, ...]]],
            keys: Sequence[str], sums: Sequence[str]) -> None:
    merged: dict[tuple[Any, ...], list[int]] = {}
    for key, add in rows:  # one statement may not touch a row twice (PostgreSQL refuses)
        acc = merged.setdefault(key, [0] * len(sums))
        for i, v in enumerate(add):
            acc[i] += v
    if not merged:
        return
    values = [dict(zip(keys, k, strict=True)) | dict(zip(sums, v, strict=True)) for k, v in sorted(merged.items())]
    name = conn.dialect.name
    if name == "postgresql":
        stmt: Any = postgresql.insert(table).values(values)
    elif name == "sqlite":
        stmt = sqlite.insert(table).values(values)
    else:  # pragma: no cover - the two supported databases
        raise NotImplementedError(f"rollups need PostgreSQL or SQLite, not {name}")
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys),
                                            set_={s: table.c[s] + stmt.excluded[s] for s in sums}))


_HOURLY_KEYS = ("shop_id", "hour", "dim", "value")
_LATENCY_KEYS = ("shop_id", "span", "start", "stage", "grp", "bucket")


# Histogram rows are kept per hour and per UTC day and week (hours since the epoch, aligned to their span):
# a month is read as ~4 weeks, a few days and a few hours of rows, not 720 hours of them.
SPANS = (1, 24, 168)


def _latency_rows(shop_id: str, hour: int, stage: str, agent: str | None, bucket: int) -> list[tuple[Any, ...]]:
    if stage != "decided":
        return [(shop_id, span, hour - hour % span, stage, "", bucket) for span in SPANS]
    a = f"a:{agent or ''}"
    rows: list[tuple[Any, ...]] = [(shop_id, 1, hour, stage, a, bucket)]
    for span in SPANS[1:]:
        start = hour - hour % span
        rows += [(shop_id, span, start, stage, "", bucket), (shop_id, span, start, stage, a, bucket),
                 (shop_id, span, start, stage, f"h:{hour % 24}", bucket)]
    return rows


def add_event(conn: Connection, values: dict[str, Any], *, urge: bool) -> None:
    """Count a new event (the row ``events.record`` inserted; ``urge``: its intent is an urge) and its time
    to draft."""
    hour = hour_of(values["received_at"])
    ev = {**values, "decision": None}
    _upsert(conn, urge_hourly, [((values["shop_id"], hour, d, _dim_value(d, ev)), (int(urge), 1))
                                for d in DIMS if d != "decision"], _HOURLY_KEYS, ("urges", "events"))
    b = bucket_of(micros(values["received_at"], values["drafted_at"]))
    _upsert(conn, urge_latency, [(k, (1,)) for k in _latency_rows(values["shop_id"], hour, "draft", None, b)],
            _LATENCY_KEYS, ("n",))


def add_decision(conn: Connection, ev: Any, decision: str | None, key_id: str | None, at: datetime, *,
                 urge: bool) -> None:
    """Count a first decision of the event ``ev`` (shop_id, received_at, state) and its time."""
    received = utc(ev["received_at"])
    assert received is not None
    hour = hour_of(received)
    if decision:
        _upsert(conn, urge_hourly, [((ev["shop_id"], hour, "decision", f"{decision}:{ev['state']}"), (int(urge), 1))],
                _HOURLY_KEYS, ("urges", "events"))
    b = bucket_of(micros(received, at))
    _upsert(conn, urge_latency, [(k, (1,)) for k in _latency_rows(ev["shop_id"], hour, "decided", key_id, b)],
            _LATENCY_KEYS, ("n",))


def add_stage(conn: Connection, ev: Any, stage: str, at: datetime) -> None:
    """Count the time to ``inserted`` or ``sent`` of the event ``ev`` (shop_id, received_at)."""
    received = utc(ev["received_at"])
    assert received is not None
    b = bucket_of(micros(received, at))
    _upsert(conn, urge_latency, [(k, (1,)) for k in _latency_rows(ev["shop_id"], hour_of(received), stage, None, b)],
            _LATENCY_KEYS, ("n",))


# -- reading ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """A range as whole UTC hours [h0, h1) (none when h0 >= h1) and the partial edges read from events."""
    h0: int
    h1: int
    edges: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def hours(self) -> bool:
        return self.h0 < self.h1


def split(since: datetime, until: datetime) -> Split:
    h0 = -((EPOCH - since) // HOUR)  # ceil
    h1 = hour_of(until)
    if h0 >= h1:
        return Split(h0, h0, [(since, until)])
    start, end = EPOCH + h0 * HOUR, EPOCH + h1 * HOUR
    return Split(h0, h1, [(a, b) for a, b in ((since, start), (end, until)) if a < b])


def _edge_events(conn: Connection, shop_id: str, edges: list[tuple[datetime, datetime]],
                 cols: Sequence[sa.ColumnElement[Any]]) -> list[Any]:
    if not edges:
        return []
    within = sa.or_(*[sa.and_(ue.c.received_at >= a, ue.c.received_at < b) for a, b in edges])
    return list(conn.execute(sa.select(*cols).where(ue.c.shop_id == shop_id, within)).all())


def dim_counts(conn: Connection, shop_id: str, since: datetime, until: datetime, dims: Sequence[str],
               kinds: tuple[str, ...] | None, column: str) -> dict[str, Counter[str | None]]:
    """``{dim: {value: count}}`` of the events received in [since, until) (None: not given) whose intent is in
    ``kinds`` (None: any), which the rollup's ``column`` counts (``urges`` or ``events``)."""
    sp = split(since, until)
    out: dict[str, Counter[str | None]] = {d: Counter() for d in dims}
    if sp.hours:
        n = sa.func.sum(urge_hourly.c[column])
        rows = conn.execute(sa.select(urge_hourly.c.dim, urge_hourly.c.value, n).where(
            urge_hourly.c.shop_id == shop_id, urge_hourly.c.hour >= sp.h0, urge_hourly.c.hour < sp.h1,
            urge_hourly.c.dim.in_(dims)).group_by(urge_hourly.c.dim, urge_hourly.c.value)).all()
        for dim, value, k in rows:
            if k:
                out[dim][value or None] += int(k)
    cols = [ue.c.intent_kind, ue.c.decision, ue.c.state] + [ue.c[_EVENT_COLUMN[d]] for d in dims
                                                             if d in _EVENT_COLUMN and d not in ("intent", "state")]
    for r in _edge_events(conn, shop_id, sp.edges, cols):
        ev = r._mapping
        if kinds is not None and ev["intent_kind"] not in kinds:
            continue
        for d in dims:
            value = _dim_value(d, ev)
            if value is not None:
                out[d][value or None] += 1
    return out


def hour_counts(conn: Connection, shop_id: str, since: datetime, until: datetime,
                kinds: tuple[str, ...] | None, column: str) -> Counter[int]:
    """``{UTC hour since the epoch: count}`` of the events received in [since, until) (as ``dim_counts``)."""
    sp = split(since, until)
    out: Counter[int] = Counter()
    if sp.hours:
        n = sa.func.sum(urge_hourly.c[column])
        rows = conn.execute(sa.select(urge_hourly.c.hour, n).where(
            urge_hourly.c.shop_id == shop_id, urge_hourly.c.hour >= sp.h0, urge_hourly.c.hour < sp.h1,
            urge_hourly.c.dim == "intent").group_by(urge_hourly.c.hour)).all()
        out.update({int(h): int(k) for h, k in rows if k})
    for r in _edge_events(conn, shop_id, sp.edges, [ue.c.intent_kind, ue.c.received_at]):
        if kinds is None or r.intent_kind in kinds:
            out[hour_of(utc(r.received_at))] += 1  # type: ignore[arg-type]
    return out


@dataclass
class Histograms:
    """Bucket counts of one range: per stage, decisions per agent key and per hour of day (shop time)."""
    stages: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    agents: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    hours: dict[int, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))


def _fixed_offset(tz: ZoneInfo, since: datetime, until: datetime) -> int | None:
    """The zone's offset in whole hours if it is the same all through the range (None: it changes, or it is
    not whole hours), checked at every day: a daylight-saving period lasts months."""
    offsets = set()
    t = since
    while True:
        off = t.astimezone(tz).utcoffset() or timedelta(0)
        offsets.add(off)
        if t >= until or len(offsets) > 1:
            break
        t = min(until, t + timedelta(days=1))
    if len(offsets) != 1:
        return None
    off = offsets.pop()
    return off // HOUR if off % HOUR == timedelta(0) else None


def _tiles(h0: int, h1: int, spans: Sequence[int]) -> list[tuple[int, int, int]]:
    """[h0, h1) as (span, start, end) runs of whole rows: the largest span in the middle, smaller at the ends."""
    if h0 >= h1:
        return []
    span = spans[-1]
    a, b = -(-h0 // span) * span, h1 // span * span
    if len(spans) == 1 or a >= b:
        return [(span, h0, h1)] if len(spans) == 1 else _tiles(h0, h1, spans[:-1])
    return _tiles(h0, a, spans[:-1]) + [(span, a, b)] + _tiles(b, h1, spans[:-1])


def latency_histograms(conn: Connection, shop_id: str, since: datetime, until: datetime, tz: ZoneInfo) -> Histograms:
    """The response-time histograms of the events received in [since, until).

    Whole UTC days and weeks come from their rows when the shop's offset is a fixed whole number of hours
    over the range (their hour of day is UTC's, shifted); otherwise every hour from the hour rows, each
    labelled with the local hour its start falls in (as ``queries`` labels hour buckets).
    """
    sp = split(since, until)
    h = Histograms()
    off = _fixed_offset(tz, since, until)

    def local_hour(hour: int) -> int:
        if off is not None:
            return (hour + off) % 24
        return (EPOCH + hour * HOUR).astimezone(tz).hour

    lat = urge_latency.c
    tiles = _tiles(sp.h0, sp.h1, SPANS if off is not None else SPANS[:1]) if sp.hours else []
    parts: list[Any] = []
    for span, a, b in tiles:  # one index range each (an OR of ranges would not be index-only)
        within = [lat.shop_id == shop_id, lat.span == span, lat.start >= a, lat.start < b]
        parts.append(sa.select(lat.stage, lat.grp, lat.bucket, lat.n).where(*within))
        if span == 1:  # hour rows hold decisions per agent only: add them up overall and per hour of day
            decided = [*within, lat.stage == "decided"]
            # UTC's hour of day when the offset is fixed (shifted below), else the hour itself ("u:").
            hod = ("h:" + sa.cast(lat.start % 24, sa.String)) if off is not None else (
                "u:" + sa.cast(lat.start, sa.String))
            parts += [sa.select(lat.stage, sa.literal("").label("grp"), lat.bucket, lat.n).where(*decided),
                      sa.select(lat.stage, hod.label("grp"), lat.bucket, lat.n).where(*decided)]
    if parts:
        u = sa.union_all(*parts).subquery()
        # One round trip: a page load runs this next to a dozen other queries.
        for stage, grp, bucket, n in conn.execute(sa.select(u.c.stage, u.c.grp, u.c.bucket, sa.func.sum(u.c.n))
                                                  .group_by(u.c.stage, u.c.grp, u.c.bucket)):
            if grp == "":
                h.stages[stage][bucket] += int(n)
            elif grp[0] == "a":
                h.agents[grp[2:]][bucket] += int(n)
            elif grp[0] == "h":
                h.hours[(int(grp[2:]) + (off or 0)) % 24][bucket] += int(n)
            else:
                h.hours[local_hour(int(grp[2:]))][bucket] += int(n)
    cols = [ue.c.decided_by, ue.c.received_at, ue.c.drafted_at, ue.c.decided_at, ue.c.inserted_at, ue.c.sent_at]
    for r in _edge_events(conn, shop_id, sp.edges, cols):
        rec = utc(r.received_at)
        assert rec is not None
        for stage, at in zip(STAGES, (r.drafted_at, r.decided_at, r.inserted_at, r.sent_at), strict=True):
            if at is None:
                continue
            b = bucket_of(micros(rec, utc(at)))  # type: ignore[arg-type]
            h.stages[stage][b] += 1
            if stage == "decided":
                h.agents[r.decided_by or ""][b] += 1
                h.hours[local_hour(hour_of(rec))][b] += 1
    return h
