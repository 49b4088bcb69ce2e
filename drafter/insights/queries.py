"""The insight queries over urge events: breakdowns, causes against the usual level, repeat urgers,
response times, approvals. Every query is scoped to one shop and a time range.

Times: a range is given in the shop's timezone (an ISO time without offset, or a date, is read there)
and stored events are UTC. Hour buckets are computed in SQL as whole UTC hours (the same expression
on PostgreSQL and SQLite) and labelled in the shop's timezone; that is exact for every zone whose
offset is a whole number of hours (all of China's and most others).

Where the answers come from (``source``): "auto" reads the hourly rollups (``rollup.py``) for the
range's whole hours and the events themselves for the partial hours at its edges, so counts are exact
whatever the range; "events" reads only the events (the reference the rollups are tested against).
Response times are exact from the events when the range holds at most ``EXACT_RESPONSE_EVENTS`` events,
and beyond that come from the histograms, within one bucket (4.4 %, ``histogram.py``) of the exact value.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.db import utc
from core.errors import InvalidInput
from core.tables import urge_events as ue
from drafter.insights import histogram, rollup
from drafter.insights.events import URGE_KINDS

__all__ = ["BY", "Range", "approvals", "breakdown", "causes", "export_rows", "parse_range", "repeats",
           "response_times", "urges"]

Bind = Engine | Connection  # a summary passes one connection to every query
BY = ("sku", "warehouse", "carrier", "state", "cause", "intent", "hour", "day", "hour_of_day")
MAX_RANGE = timedelta(days=400)
_COLUMN = {"sku": ue.c.sku, "warehouse": ue.c.warehouse, "carrier": ue.c.carrier, "state": ue.c.state,
           "cause": ue.c.cause, "intent": ue.c.intent_kind}
SOURCES = ("auto", "events")
# Up to this many events in a range, response-time percentiles are computed exactly from them: PostgreSQL
# sorts 5,000 in SQL in a few ms; SQLite's exact path reads the rows into Python (~0.1 ms each on a busy VM).
EXACT_RESPONSE_EVENTS = {"postgresql": 5000, "sqlite": 500}


@dataclass(frozen=True)
class Range:
    since: datetime   # UTC, inclusive
    until: datetime   # UTC, exclusive
    tz: ZoneInfo

    @property
    def hours(self) -> float:
        return (self.until - self.since).total_seconds() / 3600

    def as_dict(self) -> dict[str, str]:
        return {"since": self.since.astimezone(self.tz).isoformat(), "until": self.until.astimezone(self.tz).isoformat(),
                "timezone": str(self.tz)}


def _parse_time(value: str | datetime | date, tz: ZoneInfo, name: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(0))
    else:
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(f"{name} must be an ISO date or time, e.g. 2026-11-12T10:00+08:00", field=name) from exc
    if dt.tzinfo is None:  # a local time of the shop
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 moved across an offset
        raise InvalidInput(f"{name} is out of range", field=name) from exc


def parse_range(since: str | datetime | date | None, until: str | datetime | date | None, tz: ZoneInfo,
                now: datetime, default: timedelta = timedelta(hours=24)) -> Range:
    """``until`` defaults to now, ``since`` to ``default`` before it."""
    end = _parse_time(until, tz, "until") if until else now.astimezone(UTC)
    try:
        start = _parse_time(since, tz, "since") if since else end - default
    except OverflowError as exc:
        raise InvalidInput("until is out of range", field="until") from exc
    if start.year < 1970 or end.year >= 3000:
        raise InvalidInput("a range lies between 1970 and 3000", field="since" if start.year < 1970 else "until")
    if start >= end:
        raise InvalidInput("since must be before until", field="since")
    if end - start > MAX_RANGE:
        raise InvalidInput(f"a range is at most {MAX_RANGE.days} days", field="since")
    return Range(start, end, tz)


@contextmanager
def _connect(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection of ``bind``, or ``bind`` itself: the summary runs every query on one connection."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def _where(shop_id: str, rng: Range, kinds: tuple[str, ...] | None = URGE_KINDS) -> list[Any]:
    w = [ue.c.shop_id == shop_id, ue.c.received_at >= rng.since, ue.c.received_at < rng.until]
    if kinds:
        w.append(ue.c.intent_kind.in_(kinds))
    return w


def hour_bucket(engine: Bind, col: Any = None) -> Any:
    """Whole UTC hours since the epoch, as an integer, on either backend."""
    col = ue.c.received_at if col is None else col
    if engine.dialect.name == "postgresql":
        return sa.cast(sa.func.floor(sa.extract("epoch", col) / 3600), sa.BigInteger)
    return sa.cast(sa.func.strftime("%s", col), sa.Integer) // 3600


def _rollup_column(kinds: tuple[str, ...] | None, source: str) -> str | None:
    """The rollup column counting ``kinds`` (None: read the events: asked to, or no column counts them)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    if source == "events":
        return None
    return "events" if kinds is None else "urges" if tuple(kinds) == URGE_KINDS else None


def _ranked(counts: Counter[Any], limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Total and the largest groups first (ties by key, "not given" last)."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, str(kv[0])))
    return sum(counts.values()), [{"key": k, "count": int(n)} for k, n in rows[:limit]]


def _dim_counts(conn: Any, shop_id: str, since: datetime, until: datetime, dims: list[str],
                kinds: tuple[str, ...] | None, source: str) -> dict[str, Counter[Any]]:
    column = _rollup_column(kinds, source)
    if column is not None:
        return rollup.dim_counts(conn, shop_id, since, until, dims, kinds, column)
    out: dict[str, Counter[Any]] = {}
    for dim in dims:
        col = _COLUMN[dim]
        rng = Range(since, until, ZoneInfo("UTC"))
        rows = conn.execute(sa.select(col, sa.func.count()).where(*_where(shop_id, rng, kinds)).group_by(col)).all()
        out[dim] = Counter({r[0]: int(r[1]) for r in rows})
    return out


def urges(engine: Bind, shop_id: str, rng: Range, by: str, *, kinds: tuple[str, ...] | None = URGE_KINDS,
          limit: int = 200, source: str = "auto") -> dict[str, Any]:
    """``{"total": N, "groups": [{"key", "count"}]}``: largest groups first; time buckets in time order."""
    if by not in BY:
        raise InvalidInput(f"by must be one of {', '.join(BY)}", field="by")
    with _connect(engine) as conn:
        if by in _COLUMN:
            total, groups = _ranked(_dim_counts(conn, shop_id, rng.since, rng.until, [by], kinds, source)[by], limit)
            return {"total": total, "groups": groups, "range": rng.as_dict(), "by": by}
        column = _rollup_column(kinds, source)
        if column is not None:
            per_hour = dict(rollup.hour_counts(conn, shop_id, rng.since, rng.until, kinds, column))
        else:
            hb = hour_bucket(engine).label("h")
            rows = conn.execute(sa.select(hb, sa.func.count().label("n")).where(*_where(shop_id, rng, kinds))
                                .group_by(hb)).all()
            per_hour = {int(r.h): int(r.n) for r in rows}
    total = sum(per_hour.values())
    if by == "hour_of_day":
        counts: Counter[int] = Counter()
        for h, k in per_hour.items():
            counts[datetime.fromtimestamp(h * 3600, UTC).astimezone(rng.tz).hour] += k
        groups = [{"key": h, "count": counts.get(h, 0)} for h in range(24)]
    elif by == "hour":
        first, last = int(rng.since.timestamp() // 3600), int(math.ceil(rng.until.timestamp() / 3600))
        if last - first > 24 * 93:
            raise InvalidInput("by=hour covers at most 93 days; use by=day", field="by")
        groups = [{"key": datetime.fromtimestamp(h * 3600, UTC).astimezone(rng.tz).isoformat(),
                   "count": per_hour.get(h, 0)} for h in range(first, last)]
    else:  # day, in the shop's timezone
        days: Counter[str] = Counter()
        for h, k in per_hour.items():
            days[datetime.fromtimestamp(h * 3600, UTC).astimezone(rng.tz).date().isoformat()] += k
        d0, d1 = rng.since.astimezone(rng.tz).date(), (rng.until - timedelta(microseconds=1)).astimezone(rng.tz).date()
        groups = [{"key": (d0 + timedelta(days=i)).isoformat(), "count": days.get((d0 + timedelta(days=i)).isoformat(), 0)}
                  for i in range((d1 - d0).days + 1)]
    return {"total": total, "groups": groups, "range": rng.as_dict(), "by": by}


def breakdown(engine: Bind, shop_id: str, rng: Range, dims: tuple[str, ...], *, limit: int = 20,
              source: str = "auto") -> dict[str, list[dict[str, Any]]]:
    """``urges(by=dim)["groups"][:limit]`` for several dimensions at once (one rollup query)."""
    with _connect(engine) as conn:
        counts = _dim_counts(conn, shop_id, rng.since, rng.until, list(dims), URGE_KINDS, source)
    return {d: _ranked(counts[d], limit)[1] for d in dims}


def causes(engine: Bind, shop_id: str, rng: Range, *, weeks: int = 4, source: str = "auto") -> list[dict[str, Any]]:
    """Each cause's count in the range against the shop's usual level: its count over the ``weeks``
    before the range, scaled to the range's length. ``ratio`` is null when the cause is new."""
    with _connect(engine) as conn:
        first = utc(conn.execute(sa.select(sa.func.min(ue.c.received_at)).where(ue.c.shop_id == shop_id)).scalar())
        # The usual level comes from the weeks the shop has history for, never from empty ones.
        start = max(rng.since - timedelta(weeks=weeks), first) if first else rng.since - timedelta(weeks=weeks)
        now = _dim_counts(conn, shop_id, rng.since, rng.until, ["cause"], URGE_KINDS, source)["cause"]
        if start >= rng.since:
            return [{"cause": c, "count": int(n), "usual": None, "ratio": None}
                    for c, n in sorted(now.items(), key=lambda r: (-r[1], r[0]))]
        past = _dim_counts(conn, shop_id, start, rng.since, ["cause"], URGE_KINDS, source)["cause"]
    scale = rng.hours / ((rng.since - start).total_seconds() / 3600)
    out = []
    for cause in sorted(set(now) | set(past), key=lambda c: (-now.get(c, 0), c)):
        usual = past.get(cause, 0) * scale
        n = int(now.get(cause, 0))
        out.append({"cause": cause, "count": n, "usual": round(usual, 2),
                    "ratio": round(n / usual, 2) if usual > 0 else None})
    return out


def repeats(engine: Bind, shop_id: str, rng: Range, *, min_urges: int = 2, limit: int = 20) -> dict[str, Any]:
    """Orders urged ``min_urges``+ times in the range: how many, and the most urged ones."""
    n = sa.func.count().label("n")
    grouped = (sa.select(ue.c.order_id, n, sa.func.max(ue.c.received_at).label("last"),
                         sa.func.max(ue.c.cause).label("cause"))
               .where(*_where(shop_id, rng)).group_by(ue.c.order_id).having(sa.func.count() >= min_urges))
    sub = grouped.subquery()
    with _connect(engine) as conn:  # one pass: the number of such orders rides along with the top ones
        top = conn.execute(sa.select(sub, sa.func.count().over().label("orders"))
                           .order_by(sub.c.n.desc(), sub.c.order_id).limit(limit)).all()
    return {"orders": int(top[0].orders) if top else 0, "min_urges": min_urges,
            "top": [{"order_id": r.order_id, "urges": int(r.n), "last": utc(r.last).astimezone(rng.tz).isoformat(),  # type: ignore[union-attr]
                     "cause": r.cause} for r in top]}


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p95": None}
    arr = np.asarray(values, dtype=float)
    p50, p90, p95 = np.percentile(arr, [50, 90, 95])
    return {"n": len(values), "p50": round(float(p50), 1), "p90": round(float(p90), 1), "p95": round(float(p95), 1)}


def response_times(engine: Bind, shop_id: str, rng: Range, *, source: str = "auto",
                   exact_up_to: int | None = None) -> dict[str, Any]:
    """Seconds from the buyer's message to the draft, to the agent's decision, to insertion, to sending:
    percentiles overall, per agent key (who decided) and per hour of day (shop time) of the message.

    Exact (``source="events"``, or a range of at most ``exact_up_to`` events, by default
    ``EXACT_RESPONSE_EVENTS`` of the database): numpy's linear interpolation
    between order statistics. Otherwise read from the rollup's bucket counts, within 4.43 % of the exact
    value (62.5 ms below 62.5 ms) before rounding to 0.1 s: see ``histogram.py``. Percentiles cannot be
    summed from hourly percentiles, and a month of a large shop's events is too many to sort on a page load.
    """
    if _rollup_column(None, source) is None:
        return _response_times_events(engine, shop_id, rng)
    with _connect(engine) as conn:
        h = rollup.latency_histograms(conn, shop_id, rng.since, rng.until, rng.tz)
    if exact_up_to is None:
        exact_up_to = EXACT_RESPONSE_EVENTS.get(engine.dialect.name, 500)
    if sum(h.stages["draft"].values()) <= exact_up_to:  # every event has its draft time: the range's size
        return _response_times_events(engine, shop_id, rng)
    return {"stages": {s: histogram.percentiles(h.stages[s]) for s in STAGES},
            "per_agent": sorted(({"key": k or "(unknown)", **histogram.percentiles(c)} for k, c in h.agents.items()
                                 if sum(c.values())), key=lambda a: a["key"]),
            "per_hour": [{"hour": hr, **histogram.percentiles(h.hours[hr])} for hr in range(24)
                         if sum(h.hours.get(hr, {}).values())]}


def _response_times_events(engine: Bind, shop_id: str, rng: Range) -> dict[str, Any]:
    """The exact percentiles from the range's events. PostgreSQL computes them in SQL (``percentile_cont``);
    SQLite has no percentile aggregate, so its rows are read and numpy computes the same (linear-interpolated)
    percentiles."""
    if engine.dialect.name == "postgresql":
        return _response_times_pg(engine, shop_id, rng)
    cols = (ue.c.decided_by, ue.c.received_at, ue.c.drafted_at, ue.c.decided_at, ue.c.inserted_at, ue.c.sent_at)
    with _connect(engine) as conn:
        rows = conn.execute(sa.select(*cols).where(*_where(shop_id, rng, None))).all()
    overall: dict[str, list[float]] = defaultdict(list)
    per_agent: dict[str, list[float]] = defaultdict(list)
    per_hour: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        rec = utc(r.received_at)
        times = dict(zip(STAGES, (r.drafted_at, r.decided_at, r.inserted_at, r.sent_at), strict=True))
        for stage, at in times.items():
            if at is not None:
                overall[stage].append(max(0.0, (utc(at) - rec).total_seconds()))  # type: ignore[operator]
        if r.decided_at is not None:
            secs = max(0.0, (utc(r.decided_at) - rec).total_seconds())  # type: ignore[operator]
            per_agent[r.decided_by or "(unknown)"].append(secs)
            per_hour[rec.astimezone(rng.tz).hour].append(secs)  # type: ignore[union-attr]
    return {"stages": {s: _percentiles(overall[s]) for s in STAGES},
            "per_agent": [{"key": k, **_percentiles(v)} for k, v in sorted(per_agent.items())],
            "per_hour": [{"hour": h, **_percentiles(per_hour[h])} for h in range(24) if per_hour.get(h)]}


STAGES = ("draft", "decided", "inserted", "sent")


# greatest() skips NULLs (greatest(0, NULL) is 0): a stage not reached yet stays NULL through the CASE.
_PG_RESPONSE_TIMES = sa.text("""
WITH e AS (
  SELECT decided_by, CAST(extract(hour FROM received_at AT TIME ZONE :tz) AS integer) AS hour,
         CASE WHEN drafted_at IS NOT NULL THEN greatest(0, extract(epoch FROM drafted_at - received_at)) END AS draft,
         CASE WHEN decided_at IS NOT NULL THEN greatest(0, extract(epoch FROM decided_at - received_at)) END AS decided,
         CASE WHEN inserted_at IS NOT NULL THEN greatest(0, extract(epoch FROM inserted_at - received_at)) END AS inserted,
         CASE WHEN sent_at IS NOT NULL THEN greatest(0, extract(epoch FROM sent_at - received_at)) END AS sent
  FROM urge_events WHERE shop_id = :shop AND received_at >= :since AND received_at < :until)
SELECT GROUPING(decided_by) AS g_agent, GROUPING(hour) AS g_hour, decided_by, hour,
  count(draft) AS n_draft, percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY draft) AS p_draft,
  count(decided) AS n_decided, percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY decided) AS p_decided,
  count(inserted) AS n_inserted, percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY inserted) AS p_inserted,
  count(sent) AS n_sent, percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY sent) AS p_sent
FROM e GROUP BY GROUPING SETS ((), (decided_by), (hour))
""")


def _pg_stage(n: Any, p: Any) -> dict[str, Any]:
    if not n:
        return {"n": 0, "p50": None, "p90": None, "p95": None}
    return {"n": int(n), **{k: round(float(v), 1) for k, v in zip(("p50", "p90", "p95"), p, strict=True)}}


def _response_times_pg(engine: Bind, shop_id: str, rng: Range) -> dict[str, Any]:
    """One pass over the range's index entries: every stage overall, decisions per agent key and per hour
    (``GROUPING SETS``; ``percentile_cont`` is the same linear interpolation as numpy's default)."""
    with _connect(engine) as conn:
        rows = conn.execute(_PG_RESPONSE_TIMES, {"tz": str(rng.tz), "shop": shop_id, "since": rng.since,
                                                 "until": rng.until}).all()
    stages = {s: _pg_stage(None, None) for s in STAGES}
    agents, hours = [], []
    for r in rows:
        if r.g_agent and r.g_hour:
            stages = {s: _pg_stage(getattr(r, f"n_{s}"), getattr(r, f"p_{s}")) for s in STAGES}
        elif not r.g_agent and r.n_decided:
            agents.append({"key": r.decided_by or "(unknown)", **_pg_stage(r.n_decided, r.p_decided)})
        elif not r.g_hour and r.n_decided and r.hour is not None:
            hours.append({"hour": int(r.hour), **_pg_stage(r.n_decided, r.p_decided)})
    return {"stages": stages, "per_agent": sorted(agents, key=lambda a: a["key"]),
            "per_hour": sorted(hours, key=lambda h: h["hour"])}


def approvals(engine: Bind, shop_id: str, rng: Range, *, source: str = "auto") -> list[dict[str, Any]]:
    """Per situation (order state): drafts decided, and the share approved without an edit."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    with _connect(engine) as conn:
        if _rollup_column(None, source) is not None:
            for value, k in rollup.dim_counts(conn, shop_id, rng.since, rng.until, ["decision"], None,
                                              "events")["decision"].items():
                decision, _, state = str(value).partition(":")
                table[state][decision] += k
        else:
            n = sa.func.count().label("n")
            for r in conn.execute(sa.select(ue.c.state, ue.c.decision, n).where(
                    *_where(shop_id, rng, None), ue.c.decision.is_not(None)).group_by(ue.c.state, ue.c.decision)):
                table[r.state][r.decision] += int(r.n)
    out = []
    for state, c in sorted(table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        decided = sum(c.values())
        out.append({"state": state, "decided": decided, "approved": c["approved"], "edited": c["edited"],
                    "rejected": c["rejected"], "approved_unedited_share": round(c["approved"] / decided, 3)})
    return out


EXPORT_FIELDS = ("received_at", "drafted_at", "order_id", "draft_id", "intent_kind", "repeat", "state", "cause",
                 "overdue", "overdue_days", "restock_passed", "needs_human", "sku", "skus", "warehouse", "carrier",
                 "created_by", "decision", "decided_by", "decided_at", "inserted_at", "sent_at")


def export_rows(engine: Engine, shop_id: str, rng: Range, *, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every event of the range (all intents), oldest first; the stored rows hold no buyer text."""
    q = sa.select(ue).where(*_where(shop_id, rng, None)).order_by(ue.c.received_at, ue.c.id)
    with _connect(engine) as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(q)
        for r in result:
            row = r._mapping
            out: dict[str, Any] = {}
            for f in EXPORT_FIELDS:
                if f == "skus":
                    out[f] = json.loads(row["skus_json"] or "[]")
                    continue
                v = row[f]
                out[f] = utc(v).astimezone(rng.tz).isoformat() if isinstance(v, datetime) else v  # type: ignore[union-attr]
            yield out
