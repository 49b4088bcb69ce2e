"""The shop's dispatch calendar, and the one function that gives every dispatch estimate a reply may state.

Working days come from the shop settings (weekends, ``holidays``, ``extra_workdays``); a dispatch day
is a working day outside every pause of an active notice. The payment cutoff decides which day an
in-stock order is due; the courier's last pickup (a shop setting, or a notice's temporary ``cutoff``)
decides when nothing more leaves today. Delays of active notices shift every estimate.

``estimate_dispatch`` is used on every path (in stock, overdue, out of stock with a restock date,
presale, the platform deadline). Its estimate never falls on a non-working day or inside a pause,
never says "today" after today's last pickup (the payment cutoff when no pickup time is set), never
precedes a restock date or a presale start, and always names what supports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from knowledge.notice_effects import (
    CarrierSuspension,
    CutoffChange,
    DispatchDelay,
    DispatchPause,
    canonical_carrier,
    parse_effects,
)
from knowledge.shop_settings import ShopSettings, hhmm_time

__all__ = ["DispatchCalendar", "DispatchEstimate", "estimate_dispatch"]

_HORIZON = 800  # days: a calendar closed for longer than this has no dispatch day at all


@dataclass(frozen=True)
class _Pause:
    start: date
    until: date
    support: str


@dataclass(frozen=True)
class _Delay:
    days_min: int
    days_max: int
    support: str


@dataclass(frozen=True)
class DispatchCalendar:
    zone: ZoneInfo
    ships_on_weekends: bool = True
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    cutoff: time = time(16, 0)
    cutoff_support: str = "policy:daily_cutoff"
    last_pickup: time | None = None
    last_pickup_support: str | None = None
    pauses: tuple[_Pause, ...] = ()
    delays: tuple[_Delay, ...] = ()
    suspended_carriers: dict[str, str] = field(default_factory=dict)   # canonical name -> support

    @classmethod
    def build(cls, settings: ShopSettings, notices: Iterable[tuple[str, Iterable[Any]]] = ()) -> DispatchCalendar:
        """The calendar of ``settings`` with the effects of the active notices ``(id, effects)``."""
        cutoff, cutoff_support = settings.cutoff_time, "policy:daily_cutoff"
        pickup = settings.last_pickup_time
        pickup_support = "settings:last_pickup" if pickup else None
        pauses: list[_Pause] = []
        delays: list[_Delay] = []
        suspended: dict[str, str] = {}
        for notice_id, effects in notices:
            support = f"notice:{notice_id}"
            for e in parse_effects(list(effects)):
                if isinstance(e, DispatchPause):
                    pauses.append(_Pause(e.from_, e.until, support))
                elif isinstance(e, DispatchDelay):
                    delays.append(_Delay(e.days_min, e.days_max, support))
                elif isinstance(e, CutoffChange):
                    # A temporary rule can only make the day shorter: the earlier time wins.
                    if e.daily_cutoff and hhmm_time(e.daily_cutoff) < cutoff:
                        cutoff, cutoff_support = hhmm_time(e.daily_cutoff), support
                    if e.last_pickup and (pickup is None or hhmm_time(e.last_pickup) < pickup):
                        pickup, pickup_support = hhmm_time(e.last_pickup), support
                elif isinstance(e, CarrierSuspension):
                    for name in e.suspended:
                        suspended.setdefault(canonical_carrier(name), support)
        return cls(zone=settings.zone, ships_on_weekends=settings.ships_on_weekends,
                   holidays=frozenset(settings.holidays), extra_workdays=frozenset(settings.extra_workdays),
                   cutoff=cutoff, cutoff_support=cutoff_support, last_pickup=pickup,
                   last_pickup_support=pickup_support, pauses=tuple(pauses), delays=tuple(delays),
                   suspended_carriers=suspended)

    # -- days -------------------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.extra_workdays:
            return True
        return self.ships_on_weekends or day.weekday() < 5

    def pause_on(self, day: date) -> _Pause | None:
        return next((p for p in self.pauses if p.start <= day <= p.until), None)

    def is_dispatch_day(self, day: date) -> bool:
        return self.is_working_day(day) and self.pause_on(day) is None

    def next_dispatch_day(self, day: date, why: list[str] | None = None) -> date | None:
        """The first dispatch day on or after ``day``; ``why`` collects what was skipped."""
        d = day
        for _ in range(_HORIZON):
            if self.is_dispatch_day(d):
                return d
            if why is not None:
                p = self.pause_on(d)
                reason = p.support if p else ("settings:holidays" if d in self.holidays else "settings:ships_on_weekends")
                if reason not in why:
                    why.append(reason)
            d += timedelta(days=1)
        return None

    def last_dispatch_day_by(self, day: date, not_before: date) -> date | None:
        """The last dispatch day on or before ``day`` (and not before ``not_before``)."""
        d = day
        while d >= not_before:
            if self.is_dispatch_day(d):
                return d
            d -= timedelta(days=1)
        return None

    def shift(self, day: date, n: int, why: list[str] | None = None) -> date | None:
        """The ``n``-th dispatch day after ``day`` (``day`` itself, or the next dispatch day, for 0)."""
        d = self.next_dispatch_day(day, why)
        for _ in range(n):
            if d is None:
                return None
            d = self.next_dispatch_day(d + timedelta(days=1), why)
        return d

    def handover(self) -> tuple[time, str]:
        """After this time nothing leaves today: the last pickup, or the payment cutoff when none is set."""
        if self.last_pickup is not None:
            return self.last_pickup, self.last_pickup_support or "settings:last_pickup"
        return self.cutoff, self.cutoff_support

    def first_open_day(self, now: datetime, why: list[str] | None = None) -> date | None:
        """The first day anything can still leave, seen from ``now``."""
        local = now.astimezone(self.zone)
        today = local.date()
        t, support = self.handover()
        if self.is_dispatch_day(today) and local.time() < t:
            return today
        if why is not None and self.is_dispatch_day(today):
            why.append(support)
        return self.next_dispatch_day(today + timedelta(days=1), why)

    def rule_day(self, paid_at: datetime, why: list[str] | None = None) -> date | None:
        """The day the cutoff rule sends out an in-stock order paid at ``paid_at``."""
        local = paid_at.astimezone(self.zone)
        day = local.date()
        if self.is_dispatch_day(day) and local.time() < self.cutoff:
            return day
        if why is not None and self.is_dispatch_day(day):
            why.append(self.cutoff_support)
        return self.next_dispatch_day(day + timedelta(days=1), why)

    def delay(self) -> tuple[int, int, list[str]]:
        """The notices' delay (the largest of each bound when several apply)."""
        if not self.delays:
            return 0, 0, []
        return (max(d.days_min for d in self.delays), max(d.days_max for d in self.delays),
                [d.support for d in self.delays])


Certainty = Literal["on", "between", "from", "by"]


class DispatchEstimate(BaseModel):
    """A dispatch estimate a reply may state.

    ``on``: it leaves on ``earliest`` (= ``latest``); ``between``: in that window; ``from``: not before
    ``earliest`` (``latest`` when a deadline is known); ``by``: at the latest on ``latest``.
    ``supports[0]`` is the fact the statement rests on; the rest moved it (pauses, holidays, pickup).
    """

    earliest: date
    latest: date | None = None
    certainty: Certainty
    supports: list[str]

    @property
    def support(self) -> str:
        return self.supports[0]


def _uniq(xs: Iterable[str]) -> list[str]:
    out: list[str] = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def estimate_dispatch(cal: DispatchCalendar, now: datetime, *, paid_at: datetime | None = None,
                      ready_from: tuple[date, str] | None = None,
                      deadline: tuple[date, str] | None = None) -> DispatchEstimate | None:
    """Every dispatch estimate the drafter may state, for an order line that has not shipped.

    - ``ready_from``: the line cannot leave before this day (a restock date, a presale start);
    - ``paid_at``: an in-stock, paid line follows the cutoff rule;
    - ``deadline``: the latest day promised (presale ``ship_by``, the platform's ``promised_ship_by``);
      pass None when it has passed.
    None when nothing can honestly be stated.
    """
    why_open: list[str] = []
    open_day = cal.first_open_day(now, why_open)
    if open_day is None:
        return None
    dmin, dmax, delay_supports = cal.delay()
    pause_pushed = [w for w in why_open if w.startswith("notice:")]

    def latest_by(day: date, floor: date) -> tuple[date | None, list[str]]:
        why: list[str] = []
        last = cal.last_dispatch_day_by(day, floor)
        if last is None:
            return None, why
        if dmax:
            last = cal.shift(last, dmax, why)
        return last, why

    if ready_from is not None:
        ready, ready_support = ready_from
        why: list[str] = []
        start = cal.next_dispatch_day(max(ready, open_day), why)
        if start is None:
            return None
        earliest = cal.shift(start, dmin, why) if dmin else start
        if earliest is None:
            return None
        latest = None
        supports = [ready_support, *why, *(delay_supports if dmin else [])]
        if deadline is not None:
            latest, why_l = latest_by(deadline[0], earliest)
            if latest is not None:
                supports += [deadline[1], *why_l]
        return DispatchEstimate(earliest=earliest, latest=latest, certainty="from", supports=_uniq(supports))

    if paid_at is not None:
        why = []
        base = cal.rule_day(paid_at, why)
        if base is not None:
            first = cal.shift(base, dmin, why) if dmin else base
            last = cal.shift(base, dmax, why) if dmax else base
            if first is not None and last is not None and last >= open_day:
                earliest = max(first, open_day)
                certainty: Certainty = "on" if earliest == last else "between"
                paused_by = next((w for w in [*why, *why_open] if w.startswith("notice:")), None)
                head = delay_supports[0] if dmax else (paused_by or cal.cutoff_support)
                supports = [head, *why, *why_open, *delay_supports]
                return DispatchEstimate(earliest=earliest, latest=last, certainty=certainty, supports=_uniq(supports))
            if last is not None and last == now.astimezone(cal.zone).date() and why_open:
                # Due today by the rule, but today's last pickup has gone: the next dispatch day at the earliest.
                return DispatchEstimate(earliest=open_day, certainty="from", supports=_uniq([why_open[0], *why_open]))

    if pause_pushed:
        # The rule's day has gone by, but a closure says when dispatch starts again: "not before".
        latest = None
        supports = [pause_pushed[0], *why_open]
        earliest = cal.shift(open_day, dmin) if dmin else open_day
        if earliest is None:
            return None
        if deadline is not None:
            latest, why_l = latest_by(deadline[0], earliest)
            if latest is not None:
                supports += [deadline[1], *why_l]
        return DispatchEstimate(earliest=earliest, latest=latest, certainty="from", supports=_uniq(supports))

    if deadline is not None:
        latest, why_l = latest_by(deadline[0], open_day)
        if latest is None or latest < open_day:
            return None
        return DispatchEstimate(earliest=open_day, latest=latest, certainty="by",
                                supports=_uniq([deadline[1], *why_l, *why_open]))
    return None
