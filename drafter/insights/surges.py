"""Surge detection: an hour whose urge count is improbably high against the shop's own baseline.

The rule (evaluated for the last hour and for the last two hours, each for the shop's total and for
every SKU, warehouse, carrier and actionable cause seen in that window):

1. Baseline windows: the same window shifted back 1..``weeks`` weeks, and each of those shifted
   ±``spread_h`` hours (hour-of-week, smoothed over its neighbours). Only windows after the shop's
   first event count; a shop with none has no baseline and gets no alert.
2. For a value v seen ``x`` times in the ``n`` baseline windows, the hourly rate is Gamma-distributed
   (a conjugate prior worth ``prior_weight`` windows, centred on v's share of the shop's urges over the
   whole baseline period times the windows' total level). Its predictive count is negative binomial,
   so sparse baselines are wide and Poisson over-dispersion is allowed for.
   A value that carries ``whole_share`` or more of the shop's urges (a shop's only warehouse) is not
   tested apart from the total: its "others" are too few to tell a rise of the value from a rise of the shop.
3. Level: when every *other* urge of the shop is up too (a 双11 peak, a busy Monday), v's expected
   count is scaled by that ratio (never below 1), so a value is flagged for rising against the rest
   of the shop, not with it. The shop's total is tested unscaled.
   Counts are of distinct orders: a buyer who sends five messages in the hour is one waiting order.
4. A value is a surge when its count is at least ``min_count``, at least ``min_ratio`` times the
   expected count, and its tail probability ``P(X >= count)`` (``scipy.stats.nbinom.sf``) is below
   ``alpha / (m × spans)`` (Bonferroni over the m values tested in the window and over the spans).
5. Simultaneous surges are one incident. The primary is the most specific (SKU, then carrier, then
   warehouse, then cause) whose excess is at least ``primary_share`` of the largest excess; the
   others are listed with it. A cause (or total) surge whose urges are ``concentrated`` (80%+) on one
   SKU, carrier or warehouse is named for that value. Urges about a delay the shop already announced
   (cause ``notice_delay``) are left out of every count. A total surge only stands alone when no value explains it, and not when
   most of its urges are already covered by the shop's own dispatch notice (cause ``notice_delay``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scipy.stats import nbinom

__all__ = ["ACTIONABLE_CAUSES", "DIMENSIONS", "Finding", "SurgeRule", "Window", "baseline_windows", "evaluate"]

DIMENSIONS = ("sku", "carrier", "warehouse", "cause")   # most specific first
# Causes a manager can act on; "awaiting" (within the promise), "in_transit", "notice_delay" (the shop
# already told buyers) and the like are tested through their SKU, carrier or warehouse only.
# Urges about a delay the shop has already announced (its own dispatch notice is in force): the manager
# knows; they are left out of every count, so a 双11 peak under a posted notice raises nothing.
KNOWN_CAUSES = frozenset({"notice_delay"})
ACTIONABLE_CAUSES = frozenset({"stock_error", "courier_stall", "delivery_failed", "out_of_stock", "overdue",
                               "presale", "at_pickup"})


@dataclass(frozen=True)
class SurgeRule:
    windows: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=2))
    weeks: int = 4
    spread_h: int = 1
    min_count: int = 4
    min_ratio: float = 2.5
    alpha: float = 1e-3
    prior_weight: float = 1.0
    primary_share: float = 0.6
    concentrated: float = 0.8
    notice_share: float = 0.5
    whole_share: float = 0.8
    cooldown: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass
class Finding:
    dimension: str           # total | sku | carrier | warehouse | cause
    value: str
    count: int
    expected: float
    p_value: float
    also: list[Finding] = field(default_factory=list)
    basis: str | None = None   # what ``expected`` counts when it is not this value (a promoted cause)

    @property
    def excess(self) -> float:
        return self.count - self.expected

    def as_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "value": self.value, "count": self.count,
                "expected": round(self.expected, 2), "p_value": float(f"{self.p_value:.3g}")}


def baseline_windows(current: Window, rule: SurgeRule, first_event: datetime | None) -> list[Window]:
    out = []
    for k in range(1, rule.weeks + 1):
        for j in range(-rule.spread_h, rule.spread_h + 1):
            shift = timedelta(weeks=k) - timedelta(hours=j)
            w = Window(current.start - shift, current.end - shift)
            if first_event is not None and w.start >= first_event and w.end <= current.start:
                out.append(w)
    return out


def _tail(count: int, a: float, b: float, level: float) -> tuple[float, float]:
    """Expected count and P(X >= count) for a Gamma(a, rate b) rate scaled by ``level``."""
    b_eff = b / level
    p = b_eff / (b_eff + 1.0)
    return a / b_eff, float(nbinom.sf(count - 1, a, p))


def evaluate(now_events: list[dict[str, Any]], base_events: list[dict[str, Any]], n_windows: int,
             history_share: dict[tuple[str, str], float], rule: SurgeRule) -> Finding | None:
    """The incident in the current window, or None.

    ``now_events``/``base_events``: the urges of the current window and of all baseline windows (dicts
    with the dimension columns); ``history_share``: each (dimension, value)'s share of the shop's urges
    over the whole baseline period (the prior's centre).
    """
    all_now = now_events
    now_events = _one_per_order([e for e in now_events if e.get("cause") not in KNOWN_CAUSES])
    base_events = _one_per_order([e for e in base_events if e.get("cause") not in KNOWN_CAUSES])
    if n_windows <= 0 or not now_events:
        return None
    total_now, total_base = len(now_events), len(base_events)
    level_base = total_base / n_windows
    tested: list[tuple[str, str, int, float, float]] = []   # dim, value, count, a, b, level
    candidates: list[tuple[str, str, int, float, float, float]] = []
    for dim in DIMENSIONS:
        now_c = Counter(str(e[dim]) for e in now_events if e.get(dim))
        base_c = Counter(str(e[dim]) for e in base_events if e.get(dim))
        for value, c in now_c.items():
            if dim == "cause" and value not in ACTIONABLE_CAUSES:
                continue
            x = base_c.get(value, 0)
            share = history_share.get((dim, value), 0.0)
            if share >= rule.whole_share:
                continue   # the shop's only warehouse (or carrier): testing it is testing the total
            m0 = share * level_base
            a = x + rule.prior_weight * max(m0, 0.05)   # a floor: a never-seen value is rare, not impossible
            b = n_windows + rule.prior_weight
            others_now, others_exp = total_now - c, (total_base - x) / n_windows
            level = max(1.0, (others_now + 1.0) / (others_exp + 1.0))
            tested.append((dim, value, c, a, b))
            candidates.append((dim, value, c, a, b, level))
    m = len(tested) + 1
    found: list[Finding] = []
    for dim, value, c, a, b, level in candidates:
        if c < rule.min_count:
            continue
        expected, pv = _tail(c, a, b, level)
        if c >= rule.min_ratio * expected and pv < rule.alpha / m:
            found.append(Finding(dim, str(value), c, expected, pv))
    # The total, unscaled.
    a_t = total_base + rule.prior_weight * max(level_base, 0.05)
    exp_t, pv_t = _tail(total_now, a_t, n_windows + rule.prior_weight, 1.0)
    total = Finding("total", "all", total_now, exp_t, pv_t)
    total_surge = total_now >= rule.min_count and total_now >= rule.min_ratio * exp_t and pv_t < rule.alpha / m
    if found:
        top = max(f.excess for f in found)
        order = {d: i for i, d in enumerate(DIMENSIONS)}
        found.sort(key=lambda f: (order[f.dimension], -f.excess))
        primary = next(f for f in found if f.excess >= rule.primary_share * top)
        primary = _concentrate(primary, now_events, found, rule, history_share)
        primary.also = [f for f in found if f is not primary] + ([total] if total_surge else [])
        return primary
    if total_surge:
        noticed = sum(1 for e in all_now if e.get("cause") in KNOWN_CAUSES)
        if noticed >= rule.notice_share * len(all_now):
            return None   # the shop's own dispatch notice already covers it
        return _concentrate(total, now_events, found, rule, history_share)
    return None


def _one_per_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders, not messages: one buyer sending five messages is one waiting order, not a bottleneck.
    An order counts once per window (baseline events carry the index of their ``window``)."""
    seen: set[tuple[Any, Any]] = set()
    out = []
    for e in events:
        key = (e.get("order_id"), e.get("window")) if e.get("order_id") else None
        if key is None or key not in seen:
            if key is not None:
                seen.add(key)
            out.append(e)
    return out


def _concentrate(f: Finding, events: list[dict[str, Any]], found: list[Finding], rule: SurgeRule,
                 history_share: dict[tuple[str, str], float]) -> Finding:
    """A cause (or the total) whose urges nearly all share one SKU, carrier or warehouse names that value:
    "courier_stall, 6 of 6 via carrier X" is an incident of carrier X."""
    if f.dimension not in ("cause", "total"):
        return f
    mine = events if f.dimension == "total" else [e for e in events if str(e.get("cause")) == f.value]
    for dim in DIMENSIONS[:3]:
        vals = Counter(e.get(dim) for e in mine if e.get(dim))
        if not vals:
            continue
        value, n = vals.most_common(1)[0]
        if n >= rule.concentrated * len(mine) and history_share.get((dim, str(value)), 0.0) < rule.whole_share:
            known = next((x for x in found if (x.dimension, x.value) == (dim, str(value))), None)
            promoted = known or Finding(dim, str(value), n, f.expected, f.p_value,
                                        basis=f"{f.value} urges" if f.dimension == "cause" else "urges in all")
            promoted.also = [f]
            return promoted
    return f
