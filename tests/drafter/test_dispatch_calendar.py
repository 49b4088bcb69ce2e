"""The dispatch calendar and its one estimate: examples, then properties over random calendars and notices."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from drafter.dispatch_calendar import DispatchCalendar, estimate_dispatch
from knowledge.shop_settings import ShopSettings

SH = ZoneInfo("Asia/Shanghai")


def cal(notices: list[tuple[str, list[dict]]] | None = None, **kw: object) -> DispatchCalendar:
    return DispatchCalendar.build(ShopSettings.model_validate(kw), notices or [])


def at(s: str, tz: ZoneInfo = SH) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=tz)


def test_paid_before_cutoff_goes_today_until_the_last_pickup() -> None:
    c = cal(daily_cutoff="16:00", last_pickup="18:00")
    e = estimate_dispatch(c, at("2026-11-10T17:00"), paid_at=at("2026-11-10T10:00"))
    assert e is not None and e.certainty == "on" and e.earliest == date(2026, 11, 10)
    late = estimate_dispatch(c, at("2026-11-10T18:30"), paid_at=at("2026-11-10T10:00"))
    assert late is not None and late.certainty == "from" and late.earliest == date(2026, 11, 11)
    assert late.support == "settings:last_pickup"


def test_without_a_last_pickup_the_cutoff_ends_the_day() -> None:
    e = estimate_dispatch(cal(), at("2026-11-10T16:30"), paid_at=at("2026-11-10T10:00"))
    assert e is not None and e.earliest == date(2026, 11, 11) and e.certainty == "from"


def test_weekend_and_holiday_move_the_day() -> None:
    c = cal(ships_on_weekends=False, holidays=["2026-11-09"])
    e = estimate_dispatch(c, at("2026-11-06T17:30"), paid_at=at("2026-11-06T17:00"))  # Friday after cutoff
    assert e is not None and e.earliest == date(2026, 11, 10)
    assert "settings:ships_on_weekends" in e.supports and "settings:holidays" in e.supports


def test_pause_and_delay_from_notices() -> None:
    c = cal([("move", [{"kind": "dispatch_pause", "from": "2026-10-20", "until": "2026-10-23"}])])
    e = estimate_dispatch(c, at("2026-10-21T10:00"), paid_at=at("2026-10-20T22:00"))
    assert e is not None and e.earliest == date(2026, 10, 24) and "notice:move" in e.supports
    d = cal([("snow", [{"kind": "dispatch_delay", "days_min": 1, "days_max": 3}])])
    e = estimate_dispatch(d, at("2026-11-12T10:00"), paid_at=at("2026-11-12T09:00"))
    assert e is not None and e.certainty == "between" and (e.earliest, e.latest) == (date(2026, 11, 13), date(2026, 11, 15))
    assert e.support == "notice:snow"


def test_temporary_cutoff_only_shortens_the_day() -> None:
    c = cal([("d12", [{"kind": "cutoff", "daily_cutoff": "12:00", "last_pickup": "14:00"}])], last_pickup="18:30")
    assert c.cutoff == time(12, 0) and c.last_pickup == time(14, 0) and c.cutoff_support == "notice:d12"
    later = cal([("x", [{"kind": "cutoff", "daily_cutoff": "20:00"}])])
    assert later.cutoff == time(16, 0)


def test_restock_presale_and_deadline_paths() -> None:
    c = cal(ships_on_weekends=False)
    r = estimate_dispatch(c, at("2026-11-12T10:00"), ready_from=(date(2026, 11, 14), "order:items[0].restock_eta"))
    assert r is not None and r.earliest == date(2026, 11, 16) and r.support == "order:items[0].restock_eta"
    d = estimate_dispatch(c, at("2026-11-05T10:00"), deadline=(date(2026, 11, 8), "order:promised_ship_by"))
    assert d is not None and d.certainty == "by" and d.latest == date(2026, 11, 6)  # not Sunday the 8th
    assert estimate_dispatch(c, at("2026-11-07T10:00"), deadline=(date(2026, 11, 8), "order:promised_ship_by")) is None


def test_suspended_carriers_are_canonical() -> None:
    c = cal([("zto", [{"kind": "carriers", "suspended": ["中通"]}])])
    assert c.suspended_carriers == {"中通快递": "notice:zto"}


# -- properties ----------------------------------------------------------------------------------

BASE = date(2026, 1, 5)
days = st.integers(min_value=0, max_value=120).map(lambda n: BASE + timedelta(days=n))
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
zones = st.sampled_from(["Asia/Shanghai", "Asia/Tokyo", "Europe/London", "America/Los_Angeles"])


@st.composite
def pauses(draw: st.DrawFn) -> dict:
    start = draw(days)
    return {"kind": "dispatch_pause", "from": start.isoformat(),
            "until": (start + timedelta(days=draw(st.integers(0, 12)))).isoformat()}


@st.composite
def delays(draw: st.DrawFn) -> dict:
    lo = draw(st.integers(0, 4))
    return {"kind": "dispatch_delay", "days_min": lo, "days_max": lo + draw(st.integers(0, 3)) or 1}


@st.composite
def calendars(draw: st.DrawFn) -> tuple[DispatchCalendar, ShopSettings]:
    # "last_pickup" may be unset: then the payment cutoff is when nothing more leaves today.
    s = ShopSettings.model_validate({
        "timezone": draw(zones), "daily_cutoff": draw(hhmm), "last_pickup": draw(st.one_of(st.none(), hhmm)),
        "ships_on_weekends": draw(st.booleans()), "holidays": [d.isoformat() for d in draw(st.lists(days, max_size=15))],
        "extra_workdays": [d.isoformat() for d in draw(st.lists(days, max_size=3))],
    })
    effects = draw(st.lists(st.one_of(pauses(), delays(),
                                      st.builds(lambda c, p: {"kind": "cutoff", "daily_cutoff": c, "last_pickup": p},
                                                hhmm, hhmm)), max_size=4))
    return DispatchCalendar.build(s, [("n", effects)] if effects else []), s


@st.composite
def moments(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    d = draw(days)
    return datetime.combine(d, time(draw(st.integers(0, 23)), draw(st.integers(0, 59))), zone)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_estimate_is_honest(data: st.DataObject) -> None:
    c, s = data.draw(calendars())
    now = data.draw(moments(c.zone))
    paid = now - timedelta(minutes=data.draw(st.integers(0, 60 * 24 * 5)))
    path = data.draw(st.sampled_from(["in_stock", "restock", "presale", "deadline"]))
    ready = data.draw(days) if path in ("restock", "presale") else None
    deadline_day = data.draw(st.one_of(st.none(), days))
    e = estimate_dispatch(
        c, now, paid_at=paid if path == "in_stock" else None,
        ready_from=(ready, "order:items[0].restock_eta") if ready else None,
        deadline=(deadline_day, "order:promised_ship_by") if deadline_day and path != "restock" else None)
    if e is None:
        return
    today = now.astimezone(c.zone).date()
    for d in (e.earliest, e.latest):
        if d is None:
            continue
        assert c.is_working_day(d), (d, "not a working day")
        assert c.pause_on(d) is None, (d, "inside a pause")
    assert e.latest is None or e.latest >= e.earliest
    if e.earliest == today:  # "today" only before today's last pickup (the cutoff without one)
        assert now.astimezone(c.zone).time() < c.handover()[0], (now, c.handover())
    assert e.earliest >= today
    if ready is not None:
        assert e.earliest >= ready
    assert e.supports and all(isinstance(x, str) and ":" in x for x in e.supports)
