"""What the situation allows, state by state. Unknown stays unknown."""

from __future__ import annotations

from datetime import date, datetime

from drafter.situation import Notice, assess, is_working_day, policy_dispatch_day, read_notice
from knowledge.shop_settings import ShopSettings
from tests.drafter.factories import BACKLOG, CST, SETTINGS, SPRING, order, shipped, situation, t


def test_paid_before_cutoff_ships_today() -> None:
    s = situation(order(paid="11-04 09:20"), "11-04 11:00")
    assert s.state == "awaiting_dispatch" and s.dispatch_on == date(2026, 11, 4)
    assert s.allowed_dates == {"2026-11-04": "policy:daily_cutoff"} and s.may_claim_arranged


def test_paid_after_cutoff_ships_next_day_not_today() -> None:
    s = situation(order(paid="11-04 17:40"), "11-04 18:05")
    assert s.dispatch_on == date(2026, 11, 5)
    assert "2026-11-04" not in s.allowed_dates


def test_paid_after_yesterdays_cutoff_ships_today() -> None:
    assert situation(order(paid="11-04 20:30"), "11-05 09:00").dispatch_on == date(2026, 11, 5)


def test_policy_day_passed_keeps_only_the_platform_deadline() -> None:
    s = situation(order(paid="11-19 10:00"), "11-20 10:00")
    assert s.dispatch_on is None and s.dispatch_by == date(2026, 11, 21)
    assert s.allowed_dates == {"2026-11-21": "order:promised_ship_by"}


def test_weekends_and_holidays_move_the_dispatch_day() -> None:
    no_weekends = ShopSettings.model_validate({**SETTINGS.model_dump(mode="json"), "ships_on_weekends": False,
                                              "holidays": ["2026-11-09"], "extra_workdays": ["2026-11-08"]})
    # Fri 11-06 after cutoff -> Sat/Sun closed, but Sun 11-08 is an extra workday.
    assert policy_dispatch_day(t("11-06 17:00"), no_weekends) == date(2026, 11, 8)
    assert not is_working_day(date(2026, 11, 9), no_weekends)  # holiday on a Monday
    assert not is_working_day(date(2026, 11, 7), no_weekends)


def test_timezone_is_the_shops() -> None:
    # 07:30 UTC is 15:30 in Shanghai: before the 16:00 cutoff.
    from datetime import UTC
    paid = datetime(2026, 11, 4, 7, 30, tzinfo=UTC)
    s = situation(order(paid=None, paid_at=paid, promised_ship_by=paid.replace(day=6)), "11-04 15:45")
    assert s.dispatch_on == date(2026, 11, 4)


def test_overdue_promises_no_day() -> None:
    s = situation(order(paid="11-11 00:05"), "11-14 10:00")
    assert s.overdue and s.overdue_days == 2 and s.dispatch_on is None and s.allowed_dates == {}


def test_a_dispatch_notice_without_effects_makes_the_day_uncertain_only_inside_its_window() -> None:
    inside = situation(order(paid="11-12 10:00"), "11-13 09:00", [BACKLOG])
    assert [n.kind for n in inside.uncertain] == ["uncertain"] and inside.estimate is None
    assert inside.dispatch_on is None and inside.allowed_dates == {} and inside.needs_human
    assert "n-1111" in (inside.human_reason or "")
    after = situation(order(paid="11-19 10:00"), "11-20 10:00", [BACKLOG])
    assert after.uncertain == [] and after.notices == [] and not after.needs_human


def test_a_notice_not_about_dispatch_changes_nothing() -> None:
    promo = Notice(id="promo", text="新品上市，关注店铺领5元券。")
    s = situation(order(paid="11-04 09:20"), "11-04 11:00", [promo])
    assert s.dispatch_on == date(2026, 11, 4) and not s.needs_human


def test_closure_effect_gives_the_resume_day() -> None:
    spring = SPRING.model_copy(update={"effects": [{"kind": "dispatch_pause", "from": "2027-02-14",
                                                    "until": "2027-02-21"}]})
    ref = read_notice(spring, date(2027, 2, 16))
    assert ref.kind == "closure" and ref.resume_on == date(2027, 2, 22)
    paid = datetime(2027, 2, 12, 10, tzinfo=CST)
    s = assess(order(paid=None, paid_at=paid, promised_ship_by=paid.replace(day=14)), SETTINGS, [spring],
               datetime(2027, 2, 16, 10, tzinfo=CST))
    assert s.estimate is not None and s.estimate.earliest == date(2027, 2, 22)
    assert s.not_before == date(2027, 2, 22) and s.allowed_dates == {"2027-02-22": "notice:n-spring"}
    # The same notice without effects: its dates are never read as a promise.
    plain = assess(order(paid=None, paid_at=paid, promised_ship_by=paid.replace(day=14)), SETTINGS, [SPRING],
                   datetime(2027, 2, 16, 10, tzinfo=CST))
    assert plain.estimate is None and plain.allowed_dates == {} and plain.needs_human


def test_out_of_stock_with_restock_date() -> None:
    s = situation(order(paid="11-10 21:00", items=[{"title": "杯", "stock": "out_of_stock", "restock_eta": "2026-11-16"}]),
                  "11-12 15:10")
    assert s.state == "out_of_stock" and s.not_before == date(2026, 11, 16)
    assert s.allowed_dates == {"2026-11-16": "order:items[0].restock_eta"} and not s.may_claim_arranged


def test_unknown_stock_is_not_in_stock() -> None:
    s = situation(order(paid="11-04 09:20", items=[{"title": "花瓶", "stock": "unknown"}]), "11-04 11:00")
    assert s.dispatch_on is None and s.dispatch_by == date(2026, 11, 6)


def test_presale_window() -> None:
    s = situation(order(paid="11-01 20:00", presale={"ship_from": "2026-11-20", "ship_by": "2026-11-25"}), "11-05 09:30")
    assert s.state == "presale" and s.not_before == date(2026, 11, 20) and s.dispatch_by == date(2026, 11, 25)


def test_shipped_stuck_and_signed() -> None:
    ok = situation(shipped(), "11-06 14:00")
    assert ok.state == "shipped" and ok.allowed_tracking == ["78812345678901"] and ok.allowed_carriers == ["中通快递"]
    stuck = situation(shipped(events=[("11-05 18:00", "已揽收"), ("11-06 08:00", "已发出")]), "11-09 16:00")
    assert stuck.state == "stuck"
    signed = situation(shipped(events=[("11-08 15:30", "已签收，签收人：菜鸟驿站")]), "11-10 20:00",
                       message="显示签收了但我没收到啊")
    assert signed.state == "signed" and signed.needs_human


def test_split_order() -> None:
    s = situation(shipped(status="SELLER_CONSIGNED_PART", items=[
        {"title": "杯", "stock": "in_stock"}, {"title": "盘", "stock": "out_of_stock", "restock_eta": "2026-11-12"}],
        events=[("11-06 11:00", "已签收")]), "11-07 12:00")
    assert s.state == "partial" and s.not_before == date(2026, 11, 12)


def test_unpaid_closed_forbidden_refunding() -> None:
    assert situation(order("WAIT_BUYER_PAY", paid=None), "11-08 10:00").state == "unpaid"
    closed = situation(order("TRADE_CLOSED", refund={"status": "SUCCESS"}), "11-08 10:00")
    assert closed.state == "closed" and closed.needs_human and not closed.overdue
    assert situation(order("PAID_FORBID_CONSIGN"), "11-05 09:00").needs_human
    assert situation(order(refund={"status": "WAIT_SELLER_AGREE"}), "11-05 09:00").state == "refunding"


def test_order_unavailable_or_not_found_allows_nothing() -> None:
    s = situation(None, "11-08 10:00", order_error="timeout")
    assert s.state == "unavailable" and not s.facts_known and s.needs_human
    assert s.allowed_dates == {} and s.allowed_tracking == [] and s.commitments == []
    assert situation(None, "11-08 10:00", order_error="not_found").state == "not_found"


def test_unknown_status_stays_unknown() -> None:
    s = situation(order(status="SOMETHING_NEW"), "11-04 11:00")
    assert s.status is None
    assert s.facts_known


def test_a_parcel_with_no_tracking_events_is_not_stuck_but_checked_by_a_human() -> None:
    # A waybill shipped offline (Taobao answers no trace) or a source that keeps no events: nothing says the
    # parcel stopped moving, so it is not "stuck"; after the usual transit time a human checks with the courier.
    fresh = situation(shipped(events=[]), "11-06 10:00")
    assert fresh.state == "shipped" and not fresh.needs_human
    late = situation(shipped(events=[]), "11-09 10:00")
    assert late.state == "shipped" and not late.shipments[0].stuck
    assert late.needs_human and "no live tracking" in (late.human_reason or "")
    offline = order("WAIT_BUYER_CONFIRM_GOODS", shipments=[{
        "carrier": "中通快递", "tracking_no": "78812345678901", "shipped_at": t("11-05 17:20"),
        "trace": "offline", "events": []}])
    assert situation(offline, "11-09 10:00").state == "shipped"


def test_a_presale_past_its_window_is_late_and_promises_no_day() -> None:
    s = situation(order(paid="11-01 20:00", presale={"ship_from": "2026-11-01", "ship_by": "2026-11-04"}), "11-05 10:00")
    assert s.state == "presale" and s.overdue and s.estimate is None
    assert s.allowed_dates == {} and s.dispatch_on is None
