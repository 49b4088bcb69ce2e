"""The urge-insights use cases: the one object the API, the CLI and the simulator call.

Detection is asked for after stored drafts, at most once per ``detect_every`` per shop and process (several
workers may each run it: an alert is unique per shop, value and window, and a recent alert about the
same value holds back a repeat for ``rule.cooldown``). It runs off the draft's path (``detect_in``):

- ``"background"`` (the default): on this service's own small thread pool. A shop has at most one
  evaluation running and one waiting; a request while one waits only moves the waiting one's window
  end forward (coalescing), so a slow database queues no pile of stale evaluations. The window ends
  when the draft asked (the clock then), not when the thread gets to it.
- ``"inline"``: in the caller (deterministic; a caller that wants the alert at once).
- ``"off"``: ``after_event`` does nothing; the owner calls ``detect`` on its own schedule (the
  simulator, on its simulated clock).

Why a thread here and not a job on the rq worker (``knowledge/job_queue.py``): an evaluation is a few
index range scans and ~0.4 s of CPU at 1M events, once per 10 minutes per shop; it needs only the
database, which every API worker has. rq exists only with Redis and a running ``replydesk worker``: the
embedded default (SQLite, no Redis) would still need this path, and a stopped worker would silently
stop the alerts, while a queue round trip would cost more than the work. The duplicate evaluations of
several API workers are harmless (see above).

Webhook delivery (``core/webhooks.py``: signed, retried, one delivery id per alert) runs off the draft's
path too, unless ``deliver_inline``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.db import utc
from core.ids import new_id
from core.tables import urge_alerts, urge_events
from drafter.insights import queries
from drafter.insights.events import URGE_KINDS
from drafter.insights.surges import (
    ACTIONABLE_CAUSES,
    DIMENSIONS,
    Finding,
    SurgeRule,
    Window,
    baseline_windows,
    evaluate,
)

log = logging.getLogger("replydesk.insights")

__all__ = ["DetectIn", "UrgeInsights"]

DetectIn = Literal["background", "inline", "off"]

_CAUSE_TEXT = {
    "stock_error": "out of stock with a restock date already passed",
    "out_of_stock": "out of stock",
    "courier_stall": "parcels with no tracking update for over 48 hours",
    "delivery_failed": "parcels whose delivery failed",
    "overdue": "past the promised dispatch time",
    "notice_delay": "delayed by the shop's own dispatch notice",
    "presale": "presale orders",
    "at_pickup": "parcels waiting at a pickup point",
    "in_transit": "parcels in transit",
    "awaiting": "orders within their dispatch promise",
}
_DIM_LABEL = {"sku": "SKU", "carrier": "carrier", "warehouse": "warehouse", "cause": "cause", "total": "the shop"}
_FIELDS = ("sku", "carrier", "warehouse", "cause", "state")


class UrgeInsights:
    def __init__(self, engine: Engine, clock: Clock, shops: Any, *, rule: SurgeRule | None = None,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 detect_every: timedelta = timedelta(minutes=10), detect_in: DetectIn = "background",
                 deliver_inline: bool = False, transport: Any = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if detect_in not in ("background", "inline", "off"):
            raise ValueError(f"detect_in must be background, inline or off, not {detect_in!r}")
        self.engine, self.clock, self.shops = engine, clock, shops
        self.rule = rule or SurgeRule()
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.detect_every, self.detect_in, self.deliver_inline = detect_every, detect_in, deliver_inline
        self.transport, self.sleep = transport, sleep
        self._last: dict[str, int] = {}
        self._share_cache: dict[str, tuple[tuple[str, int], dict[tuple[str, ...], float]]] = {}
        self._lock = threading.Lock()
        self._waiting: dict[str, datetime] = {}   # shop -> the window end of its queued evaluation
        self._running: set[str] = set()            # shops with an evaluation on the pool
        self._idle = threading.Condition(self._lock)
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._closed = False

    # -- ranges --------------------------------------------------------------------------------
    def zone(self, shop_id: str) -> ZoneInfo:
        return self.shops.get(shop_id).settings.zone

    def range(self, shop_id: str, since: Any = None, until: Any = None,
              default: timedelta = timedelta(hours=24)) -> queries.Range:
        return queries.parse_range(since, until, self.zone(shop_id), self.clock.now(), default)

    # -- queries -------------------------------------------------------------------------------
    def urges(self, shop_id: str, rng: queries.Range, by: str) -> dict[str, Any]:
        return queries.urges(self.engine, shop_id, rng, by)

    def summary(self, shop_id: str, rng: queries.Range) -> dict[str, Any]:
        """Everything the page and ``replydesk insights report`` show, for one range."""
        with self.engine.connect() as conn:  # one connection for the page's dozen queries
            hourly = queries.urges(conn, shop_id, rng, "hour" if rng.hours <= 24 * 93 else "day")
            out = {
                "range": rng.as_dict(),
                "total": hourly["total"],
                "curve": {"by": hourly["by"], "groups": hourly["groups"]},
                "breakdown": queries.breakdown(conn, shop_id, rng, ("sku", "warehouse", "carrier", "state", "cause")),
                "causes": queries.causes(conn, shop_id, rng),
                "repeats": queries.repeats(conn, shop_id, rng),
                "response_times": queries.response_times(conn, shop_id, rng),
                "approvals": queries.approvals(conn, shop_id, rng),
            }
        return {**out, "alerts": self.alerts(shop_id, since=rng.since, until=rng.until)}

    def export(self, shop_id: str, rng: queries.Range) -> Iterator[dict[str, Any]]:
        return queries.export_rows(self.engine, shop_id, rng)

    # -- detection -----------------------------------------------------------------------------
    def after_event(self, shop_id: str) -> dict[str, Any] | None:
        """Called after each stored draft: evaluate the windows ending now, once per ``detect_every``, in
        the background (returns None at once) or inline (returns the alert, if any)."""
        if self.detect_in == "off":
            return None
        now = self.clock.now()
        slot = int(now.timestamp() // self.detect_every.total_seconds())
        with self._lock:
            if self._last.get(shop_id) == slot:
                return None
            self._last[shop_id] = slot
            if self.detect_in == "background":
                self._submit(shop_id, now)
                return None
        return self._detect_logged(shop_id, now)

    def _detect_logged(self, shop_id: str, end: datetime) -> dict[str, Any] | None:
        try:
            return self.detect(shop_id, end)
        except Exception:  # insight is a by-product: it must never fail a draft
            log.exception("surge detection failed for shop %s", shop_id)
            return None

    def _submit(self, shop_id: str, end: datetime) -> None:
        """Queue an evaluation for the shop (called with the lock held): one running and one waiting at most."""
        if self._closed:
            return
        queued = shop_id in self._waiting
        self._waiting[shop_id] = max(end, self._waiting.get(shop_id, end))
        if queued or shop_id in self._running:
            return   # the waiting one, or the one the running drain picks up next, reads the newest urges anyway
        self._running.add(shop_id)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="urge-detect")
        try:
            self._futures[shop_id] = self._pool.submit(self._drain, shop_id)
        except RuntimeError:  # the pool was shut down (the service is closing): nothing more to detect
            self._running.discard(shop_id)
            self._waiting.pop(shop_id, None)

    def _drain(self, shop_id: str) -> None:
        while True:
            with self._lock:
                end = self._waiting.pop(shop_id, None)
                if end is None:
                    self._running.discard(shop_id)
                    self._idle.notify_all()
                    return
            self._detect_logged(shop_id, end)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no evaluation is running or waiting (tests, shutdown); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._running and not self._waiting, timeout)

    def close(self) -> None:
        """Stop taking evaluations; one already running finishes on its own (its alert is still stored)."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
            self._waiting.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:   # a drain cancelled before it started will never clear its shop
            for shop_id, fut in list(self._futures.items()):
                if fut.cancelled():
                    self._running.discard(shop_id)
            self._futures.clear()
            self._idle.notify_all()

    def _events(self, conn: Any, shop_id: str, windows: list[Window]) -> list[dict[str, Any]]:
        """The urges of the windows (each once): one plain range scan per run of overlapping windows, so
        PostgreSQL reads them from the covering index alone."""
        cols = [urge_events.c[f] for f in _FIELDS] + [urge_events.c.received_at, urge_events.c.order_id]
        merged: list[list[datetime]] = []
        for w in sorted(windows, key=lambda w: w.start):
            if merged and w.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], w.end)
            else:
                merged.append([w.start, w.end])
        out: list[dict[str, Any]] = []
        for start, end in merged:
            rows = conn.execute(sa.select(*cols).where(
                urge_events.c.shop_id == shop_id, urge_events.c.received_at >= start, urge_events.c.received_at < end,
                urge_events.c.intent_kind.in_(URGE_KINDS))).all()
            out += [dict(r._mapping) for r in rows]
        return out

    def detect(self, shop_id: str, end: datetime) -> dict[str, Any] | None:
        """Evaluate the windows ending at ``end`` (the last hour, then the last two: a surge building up
        slowly shows over two hours first); store and deliver an alert if one is a surge."""
        rule = self.rule
        end = end.astimezone(UTC)
        per_span = replace(rule, alpha=rule.alpha / len(rule.windows))   # Bonferroni over the spans too
        with self.engine.connect() as conn:
            first = utc(conn.execute(sa.select(sa.func.min(urge_events.c.received_at))
                                     .where(urge_events.c.shop_id == shop_id)).scalar())
            if first is None:
                return None
            share: dict[tuple[str, ...], float] | None = None
            for span in rule.windows:
                current = Window(end - span, end)
                windows = baseline_windows(current, rule, first)
                if not windows:
                    continue
                now_events = self._events(conn, shop_id, [current])
                if len({e["order_id"] for e in now_events}) < rule.min_count:
                    continue
                # Windows of two hours shifted by an hour overlap: an event counts in each window holding it.
                union = self._events(conn, shop_id, windows)
                base_events = [{**e, "window": i} for e in union for i, w in enumerate(windows)
                               if w.start <= e["received_at"] < w.end]
                if share is None:
                    hist_start = max(first, end - max(rule.windows) - timedelta(weeks=rule.weeks))
                    share = self._shares(conn, shop_id, hist_start, end - max(rule.windows))
                finding = evaluate(now_events, base_events, len(windows), share, per_span)
                if finding is not None:
                    break
            else:
                return None
        if self._recent(shop_id, finding, end, now_events):
            return None
        return self._store(shop_id, current, finding, now_events)

    def _shares(self, conn: Any, shop_id: str, start: datetime, end: datetime) -> dict[tuple[str, ...], float]:
        """Each value's (and each value-and-cause cell's) share of the shop's urges over the baseline period: one grouped scan, kept for the
        hour (the prior's centre moves slowly; detection runs every few minutes)."""
        key = (shop_id, int(end.timestamp() // 3600))
        cached = self._share_cache.get(shop_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        cols = [urge_events.c[d] for d in DIMENSIONS]
        rows = conn.execute(sa.select(*cols, sa.func.count()).where(
            urge_events.c.shop_id == shop_id, urge_events.c.received_at >= start, urge_events.c.received_at < end,
            urge_events.c.intent_kind.in_(URGE_KINDS)).group_by(*cols)).all()
        counts: Counter[tuple[str, ...]] = Counter()
        total = 0
        for r in rows:
            n = r[-1]
            total += n
            cause = r[-2]
            for dim, v in zip(DIMENSIONS, r[:-1], strict=True):
                if v is not None:
                    counts[(dim, str(v))] += n
                    if dim != "cause" and cause in ACTIONABLE_CAUSES:   # a cell: this value's urges of this cause
                        counts[(dim, str(v), str(cause))] += n
        out = {k: n / (total or 1) for k, n in counts.items()}
        self._share_cache[shop_id] = (key, out)
        return out

    def _recent(self, shop_id: str, f: Finding, end: datetime, events: list[dict[str, Any]]) -> bool:
        """An alert within the cooldown about any of this finding's values is the same incident; so is a rise
        of the whole shop while an incident is open (its urges are part of the total), and a finding whose
        urges nearly all (``rule.concentrated``) share a value alerted on: four overdue orders of one SKU of a
        warehouse already alerted as backlogged are that backlog, not a second incident."""
        keys = {(f.dimension, f.value)} | {(x.dimension, x.value) for x in f.also}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(urge_alerts.c.dimension, urge_alerts.c.value, urge_alerts.c.detail_json)
                                .where(urge_alerts.c.shop_id == shop_id,
                                       urge_alerts.c.window_end > end - self.rule.cooldown)).all()
        if rows and f.dimension == "total":
            return True
        open_values: set[tuple[str, str]] = set()
        for r in rows:
            open_values |= {(r.dimension, r.value)} | {(x["dimension"], x["value"])
                                                       for x in json.loads(r.detail_json).get("also", [])}
        if keys & open_values:
            return True
        if not open_values:
            return False
        mine = [e for e in events if str(e.get(f.dimension)) == f.value and (f.cause is None or e.get("cause") == f.cause)]
        for dim in ("sku", "carrier", "warehouse"):
            vals = Counter(str(e[dim]) for e in mine if e.get(dim))
            if vals:
                value, n = vals.most_common(1)[0]
                if n >= self.rule.concentrated * len(mine) and (dim, value) in open_values:
                    return True
        return False

    def describe(self, f: Finding, events: list[dict[str, Any]], window: timedelta) -> dict[str, str]:
        """The likely cause in words, from the facts of the window's urges, and what to do about it."""
        mins = int(window.total_seconds() // 60)
        span = "the last hour" if mins == 60 else (f"the last {mins // 60} hours" if mins % 60 == 0
                                                   else f"the last {mins} minutes")
        mine = events if f.dimension == "total" else [e for e in events if str(e.get(f.dimension)) == f.value]
        n_orders = len({e.get("order_id") for e in mine})
        causes = Counter(str(e.get("cause")) for e in mine)
        cause, n_cause = causes.most_common(1)[0]
        how_many = "all" if n_cause == len(mine) else f"{n_cause} of them"
        what = f"{_DIM_LABEL[f.dimension]} {f.value}" if f.dimension != "total" else "no single SKU, warehouse or carrier"
        if f.dimension == "total":
            text = f"{len(events)} urges in {span}; {what} explains it"
        else:
            who = f"{n_orders}" if n_orders == len(mine) else f"{len(mine)} (from {n_orders} orders)"
            text = f"{len(events)} urges in {span}, {who} for {what}"
        text += f", {how_many} {_CAUSE_TEXT.get(cause, cause)}"
        for dim in ("warehouse", "carrier", "sku"):
            if dim == f.dimension:
                continue
            vals = Counter(e.get(dim) for e in mine if e.get(dim))
            if vals:
                v, n = vals.most_common(1)[0]
                if n >= 0.8 * len(mine) and len(mine) > 1:
                    text += f"; {'all' if n == len(mine) else f'{n}'} via {dim} {v}"
        usual = f.basis or ("in all" if f.dimension == "total" else f"for {what}")
        text += f"; usually about {f.expected:.0f} {usual} at this hour"
        subject = f.value if f.dimension in ("sku", "warehouse", "carrier") else None
        if cause == "stock_error":
            action, act = "fix_stock", (f"Correct the stock and restock date of {subject or 'the SKU'} in the order "
                                        "system, then write a notice with the real date")
            notice = f"{subject or '部分商品'}补货延迟，我们正在与仓库确认新的到货时间，确认后第一时间发货，给您带来不便深表歉意。"
        elif cause in ("courier_stall", "delivery_failed") or f.dimension == "carrier":
            action, act = "call_courier", f"Call {subject or 'the courier'} about stalled parcels and ask for a date"
            notice = f"近期{subject or '部分快递'}物流更新延迟，我们已联系快递公司加急处理，请您耐心等待。"
        elif f.dimension == "warehouse" or cause == "overdue":
            action, act = "check_warehouse", (f"Ask warehouse {subject or ''} why orders are past their dispatch "
                                              "time; write a notice if it will last").replace("  ", " ")
            notice = "近期仓库发货量较大，发货将延迟1-2天，我们正在加紧处理，给您带来不便深表歉意。"
        else:
            action, act = "write_notice", "Write a notice so agents and buyers get the same, true answer"
            notice = "近期咨询发货的亲较多，我们正在加紧处理，请您耐心等待。"
        return {"cause_text": text, "action": action, "action_text": act, "notice_text": notice}

    def _store(self, shop_id: str, w: Window, f: Finding, events: list[dict[str, Any]]) -> dict[str, Any] | None:
        now = self.clock.now()
        words = self.describe(f, events, w.end - w.start)
        detail = {"also": [x.as_dict() for x in f.also], "notice_text": words["notice_text"],
                  "causes": dict(Counter(e.get("cause") for e in events))}
        alert_id = new_id("al", w.end)
        values = dict(id=alert_id, shop_id=shop_id, dimension=f.dimension, value=f.value[:100], window_start=w.start,
                      window_end=w.end, count=f.count, expected=round(f.expected, 3), p_value=f.p_value,
                      cause_text=words["cause_text"], action=words["action"], action_text=words["action_text"],
                      detail_json=json.dumps(detail, ensure_ascii=False), created_at=now,
                      webhook_status="off" if not self.webhook_url else "pending")
        try:
            with self.engine.begin() as conn:
                conn.execute(urge_alerts.insert().values(**values))
        except IntegrityError:  # another worker stored this very alert
            return None
        alert = self.alert(shop_id, alert_id)
        if self.webhook_url:
            if self.deliver_inline:
                self._deliver(alert)
            else:
                threading.Thread(target=self._deliver, args=(alert,), name="alert-webhook", daemon=True).start()
        return alert

    def _deliver(self, alert: dict[str, Any]) -> None:
        from core.webhooks import send_webhook

        kwargs: dict[str, Any] = {"transport": self.transport, "clock": self.clock}
        if self.sleep is not None:
            kwargs["sleep"] = self.sleep
        if not self.webhook_secret:  # never send unsigned: the receiver could not tell us from anyone
            self._mark(alert["id"], "failed", 0, "REPLYDESK_ALERT_WEBHOOK_SECRET is not set; nothing was sent")
            return
        try:
            d = send_webhook(self.webhook_url or "", self.webhook_secret or "", "urge.surge", alert,
                             delivery_id=alert["id"], **kwargs)
            status, attempts, error = ("sent" if d.ok else "failed"), d.attempts, d.error
        except Exception as exc:  # a bad URL must not lose the alert: it stays on the page, marked failed
            status, attempts, error = "failed", 0, f"{type(exc).__name__}: {exc}"
        self._mark(alert["id"], status, attempts, error)

    def _mark(self, alert_id: str, status: str, attempts: int, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(urge_alerts.update().where(urge_alerts.c.id == alert_id).values(
                webhook_status=status, webhook_attempts=attempts, webhook_error=(error or None) and error[:300]))

    # -- alerts --------------------------------------------------------------------------------
    def _alert_dict(self, r: Any, tz: ZoneInfo) -> dict[str, Any]:
        detail = json.loads(r.detail_json)
        return {"id": r.id, "dimension": r.dimension, "value": r.value,
                "window_start": utc(r.window_start).astimezone(tz).isoformat(),  # type: ignore[union-attr]
                "window_end": utc(r.window_end).astimezone(tz).isoformat(),  # type: ignore[union-attr]
                "count": r.count, "expected": r.expected, "p_value": r.p_value, "cause_text": r.cause_text,
                "action": r.action, "action_text": r.action_text, "notice_text": detail.get("notice_text"),
                "also": detail.get("also", []), "causes": detail.get("causes", {}),
                "webhook": {"status": r.webhook_status, "attempts": r.webhook_attempts, "error": r.webhook_error}}

    def alert(self, shop_id: str, alert_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(urge_alerts).where(urge_alerts.c.id == alert_id,
                                                          urge_alerts.c.shop_id == shop_id)).one()
        return self._alert_dict(r, self.zone(shop_id))

    def alerts(self, shop_id: str, *, since: datetime | None = None, until: datetime | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
        """Newest first."""
        q = sa.select(urge_alerts).where(urge_alerts.c.shop_id == shop_id)
        if since is not None:
            q = q.where(urge_alerts.c.window_end > since)
        if until is not None:
            q = q.where(urge_alerts.c.window_start < until)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(urge_alerts.c.window_end.desc(), urge_alerts.c.id.desc()).limit(limit)).all()
        tz = self.zone(shop_id)
        return [self._alert_dict(r, tz) for r in rows]
