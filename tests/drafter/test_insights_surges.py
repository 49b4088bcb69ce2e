"""Surge detection: the rule on its own, then stored alerts and their signed webhook on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from scipy.stats import nbinom

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.tables import urge_events
from drafter.insights.service import UrgeInsights
from drafter.insights.surges import Finding, Hypothesis, SurgeRule, Window, charges, evaluate, hypotheses
from knowledge.shops import ShopStore
from tests.fakes.server import LoopbackServer
from tests.fakes.webhook_receiver import WebhookReceiver

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=CST)
SKUS = ["CUP-02", "BOWL-03", "VASE-04", "PLATE-05", "MUG-01"]


def _ev(sku: str, cause: str = "awaiting", carrier: str | None = None, warehouse: str = "WH-HZ") -> dict:
    return {"sku": sku, "cause": cause, "carrier": carrier, "warehouse": warehouse, "state": "awaiting_dispatch"}


def _steady(n_windows: int, per_window: int, seed: int = 1) -> list[dict]:
    rnd = random.Random(seed)
    return [_ev(rnd.choice(SKUS)) for _ in range(n_windows * per_window)]


def _shares(events: list[dict]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for dim in ("sku", "carrier", "warehouse", "cause"):
        vals = [e[dim] for e in events if e[dim]]
        for v in set(vals):
            out[(dim, v)] = vals.count(v) / len(vals)
    return out


def test_a_sku_far_above_its_baseline_is_a_surge_with_that_sku_as_primary() -> None:
    base = _steady(12, 5)
    now = [_ev(s) for s in SKUS[:4]] + [_ev("MUG-01", "stock_error") for _ in range(19)]
    f = evaluate(now, base, 12, _shares(base), SurgeRule())
    assert f is not None and (f.dimension, f.value, f.count) == ("sku", "MUG-01", 19)
    assert f.p_value < 1e-6 and f.expected < 3
    assert ("cause", "stock_error") in {(x.dimension, x.value) for x in f.also}


def test_ordinary_hours_are_not_surges() -> None:
    base = _steady(12, 5, seed=2)
    for seed in range(50):   # fifty ordinary hours drawn like the baseline
        rnd = random.Random(100 + seed)
        now = [_ev(rnd.choice(SKUS)) for _ in range(rnd.randint(2, 9))]
        assert evaluate(now, base, 12, _shares(base), SurgeRule()) is None


def test_a_rise_of_the_whole_shop_is_not_blamed_on_one_sku() -> None:
    """双11: every SKU triples; the shop's own delay notice already covers the waiting orders."""
    base = _steady(12, 5, seed=3)
    rnd = random.Random(4)
    now = [_ev(rnd.choice(SKUS), cause="notice_delay") for _ in range(40)]
    assert evaluate(now, base, 12, _shares(base), SurgeRule()) is None
    # Without the notice the same hour is a surge of the whole shop, explained by no single value.
    f = evaluate([dict(e, cause="awaiting") for e in now], base, 12, _shares(base), SurgeRule())
    assert f is not None and f.dimension == "total" and f.count == 40


def test_one_buyer_sending_many_messages_is_one_order() -> None:
    base = _steady(12, 5)
    angry = [dict(_ev("MUG-01", "stock_error"), order_id="T1") for _ in range(15)]
    assert evaluate(angry, base, 12, _shares(base), SurgeRule()) is None
    many = [dict(_ev("MUG-01", "stock_error"), order_id=f"T{i}") for i in range(15)]
    assert evaluate(many, base, 12, _shares(base), SurgeRule()) is not None


def test_too_few_urges_never_alert_and_no_baseline_means_no_rule() -> None:
    base = _steady(12, 1)
    below = SurgeRule().min_count - 1
    assert evaluate([_ev("MUG-01", "stock_error")] * below, base, 12, _shares(base), SurgeRule()) is None
    assert evaluate([_ev("MUG-01")] * 30, [], 0, {}, SurgeRule()) is None


# -- stored alerts ---------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def _row(shop: str, at: datetime, sku: str, cause: str = "awaiting", **kw: object) -> dict:
    return dict(shop_id=shop, order_id=f"O{random.randrange(10**9)}", received_at=at, drafted_at=at,
                intent_kind="urge", state=kw.pop("state", "awaiting_dispatch"), cause=cause, sku=sku,
                warehouse="WH-HZ", carrier=kw.pop("carrier", None), restock_passed=cause == "stock_error")


def _insert(engine: sa.Engine, shop: str, at: datetime, sku: str, cause: str = "awaiting", **kw: object) -> None:
    with engine.begin() as conn:
        conn.execute(urge_events.insert(), [_row(shop, at, sku, cause, **kw)])


def _history(engine: sa.Engine, shop: str) -> None:
    rnd = random.Random(7)
    rows, t = [], NOW - timedelta(weeks=3)
    while t < NOW - timedelta(hours=1):
        rows += [_row(shop, t + timedelta(minutes=rnd.randint(0, 59)), rnd.choice(SKUS[:4])) for _ in range(4)]
        t += timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(urge_events.insert(), rows)


def _stock_error_hour(engine: sa.Engine, shop: str) -> None:
    """Three weeks of ordinary urges, then an hour with 4 of them and 19 orders of MUG-01's stock error."""
    _history(engine, shop)
    hour = NOW - timedelta(hours=1)
    for i in range(4):
        _insert(engine, shop, hour + timedelta(minutes=5 * i), SKUS[i])
    for i in range(19):
        _insert(engine, shop, hour + timedelta(minutes=2 + 3 * i), "MUG-01", "stock_error", state="out_of_stock")


def test_a_surge_is_stored_once_described_and_delivered_signed(engine: sa.Engine) -> None:
    clock = FixedClock(NOW)
    shops = ShopStore(engine, clock)
    for s in ("s1", "s2"):
        shops.ensure(s)
    _stock_error_hour(engine, "s1")
    hour = NOW - timedelta(hours=1)
    for i in range(30):  # another shop's burst on the same SKU: never in s1's alert, and s2 has no baseline
        _insert(engine, "s2", hour + timedelta(minutes=i), "MUG-01", "stock_error", state="out_of_stock")

    secret = "whsec-insights"
    rx = WebhookReceiver(secret, now=NOW.timestamp(), fail_first=1)
    sleeps: list[float] = []
    with LoopbackServer(rx.app) as srv:
        ins = UrgeInsights(engine, clock, shops, webhook_url=srv.url + "/hook", webhook_secret=secret,
                           deliver_inline=True, sleep=sleeps.append)
        alert = ins.detect("s1", NOW)
        assert alert is not None
        assert (alert["dimension"], alert["value"], alert["count"]) == ("sku", "MUG-01", 19)
        assert alert["cause_text"].startswith("23 urges in the last hour")
        assert "19 for SKU MUG-01, all out of stock with a restock date already passed" in alert["cause_text"]
        assert alert["action"] == "fix_stock" and "MUG-01" in alert["action_text"] and alert["notice_text"]
        assert alert["window_end"] == NOW.isoformat()
        # Delivered once (after one 503), signed, with the alert's id as the delivery id.
        assert len(rx.processed) == 1 and rx.processed[alert["id"]]["value"] == "MUG-01"
        assert [r["signature_ok"] for r in rx.requests] == [True, True] and sleeps == [0.5]
        stored = ins.alerts("s1")
        assert [a["id"] for a in stored] == [alert["id"]]
        assert stored[0]["webhook"] == {"status": "sent", "attempts": 2, "error": None}
        # The same incident 15 minutes later is not alerted again; the other shop has no baseline, no alert.
        clock.advance(minutes=15)
        assert ins.detect("s1", clock.now()) is None
        assert ins.detect("s2", clock.now()) is None and ins.alerts("s2") == []


def test_a_quiet_hour_raises_nothing_and_a_dead_webhook_keeps_the_alert(engine: sa.Engine) -> None:
    clock = FixedClock(NOW)
    shops = ShopStore(engine, clock)
    shops.ensure("s1")
    _history(engine, "s1")
    for i in range(5):
        _insert(engine, "s1", NOW - timedelta(minutes=50 - 10 * i), SKUS[i % 4])
    ins = UrgeInsights(engine, clock, shops, webhook_url="http://127.0.0.1:9/hook", webhook_secret="x",
                       deliver_inline=True, sleep=lambda s: None)
    assert ins.detect("s1", NOW) is None
    for i in range(25):
        _insert(engine, "s1", NOW - timedelta(minutes=55 - 2 * i), "VASE-04", "courier_stall", state="stuck",
                carrier="圆通速递")
    alert = ins.detect("s1", NOW + timedelta(minutes=1))
    assert alert is not None and alert["action"] == "call_courier"
    got = ins.alerts("s1")[0]["webhook"]
    assert got["status"] == "failed" and got["attempts"] == 5 and got["error"]


def test_an_ordinary_hour_is_ordinary_over_two_hours_too(engine: sa.Engine) -> None:
    """Two-hour baseline windows shifted by an hour overlap: each must still count all of its urges."""
    clock = FixedClock(NOW)
    shops = ShopStore(engine, clock)
    shops.ensure("s1")
    _history(engine, "s1")           # 4 urges an hour
    rows = [_row("s1", NOW - timedelta(minutes=119 - 12 * i), SKUS[i % 4]) for i in range(10)]  # 5 an hour
    with engine.begin() as conn:
        conn.execute(urge_events.delete().where(urge_events.c.received_at >= NOW - timedelta(hours=2)))
        conn.execute(urge_events.insert(), rows)
    ins = UrgeInsights(engine, clock, shops, rule=SurgeRule(min_ratio=1.0, alpha=0.9))
    got = ins.detect("s1", NOW)
    assert got is None, {k: got[k] for k in ("window_start", "count", "expected", "p_value", "dimension")}  # 10 in 2 h is the usual 8


def test_after_event_runs_at_most_once_per_slot() -> None:
    class Shops:
        def get(self, shop_id: str):  # noqa: ANN202
            raise AssertionError("not reached")

    clock = FixedClock(datetime(2026, 11, 25, 7, 0, tzinfo=UTC))
    ins = UrgeInsights(None, clock, Shops(), detect_in="inline")  # type: ignore[arg-type]
    calls: list[datetime] = []
    ins.detect = lambda shop, end: calls.append(end)  # type: ignore[method-assign, assignment, return-value]
    for minutes in (0, 5, 9, 10, 19, 21):
        clock.set(datetime(2026, 11, 25, 7, minutes, tzinfo=UTC))
        ins.after_event("s1")
    assert [c.minute for c in calls] == [0, 10, 21]


# -- the multiplicity correction ---------------------------------------------------------------------

def test_charges_are_each_hypothesis_null_probability_of_being_flagged() -> None:
    """F_j(u): the tail at the smallest count that is at or above j's floor and has a tail <= u (brute force)."""
    fam = [Hypothesis("sku", "A", None, 0, 0.3, 0.93, 4), Hypothesis("sku", "B", None, 0, 12.0, 0.9, 4),
           Hypothesis("sku", "C", None, 0, 40.0, 0.8, 25), Hypothesis("cause", "overdue", None, 0, 0.05, 0.95, 4)]
    for u in (1e-2, 1e-4, 3e-6, 1e-9):
        got = charges(fam, u)
        for h, f in zip(fam, got, strict=True):
            c = h.floor
            while nbinom.sf(c - 1, h.a, h.p) > u:
                c += 1
            assert f == pytest.approx(nbinom.sf(c - 1, h.a, h.p), rel=1e-9) and f <= u
    # A rare value must still reach min_count: at a loose threshold it is charged that tail, far below u.
    assert charges(fam, 1e-2)[3] == pytest.approx(nbinom.sf(3, 0.05, 0.95)) and charges(fam, 1e-2)[3] < 1e-5


def test_the_discrete_correction_flags_what_bonferroni_over_the_same_family_misses() -> None:
    """Forty rare SKUs in the shop's history: Bonferroni charges each alpha/m, the discrete correction only
    their small chance of ever reaching min_count, so a quiet SKU rising to 5 orders is caught."""
    rnd = random.Random(11)
    rare = [f"R{i:02d}" for i in range(40)]
    base = []
    for w in range(12):
        base += [_ev(s) for s in SKUS[:4] for _ in range(2)] + [_ev(rnd.choice(rare))] + ([_ev("Q")] if w % 3 == 0 else [])
    share = {("sku", r): 0.0005 for r in rare} | _shares(base)
    now = [_ev(s) for s in SKUS[:4] for _ in range(2)] + [_ev(rare[0])] + [_ev("Q") for _ in range(5)]
    rule = SurgeRule()
    fam = hypotheses(now, base, 12, share, rule)
    assert len(fam) > 45   # every SKU the shop has had is in the family, not only those seen this hour
    q = next(h for h in fam if h.value == "Q")
    assert q.count >= q.floor and q.p_value * len(fam) > rule.alpha   # Bonferroni over the family: not a surge
    assert charges(fam, q.p_value).sum() <= rule.alpha                # the discrete correction: a surge
    f = evaluate(now, base, 12, share, rule)
    assert f is not None and (f.dimension, f.value, f.count) == ("sku", "Q", 5)
    assert f.adjusted is not None and q.p_value <= f.adjusted <= rule.alpha
    # One order fewer is not enough, and flat traffic raises nothing.
    assert evaluate(now[:-1], base, 12, share, rule) is None
    assert evaluate(now[:9] + [_ev("Q")], base, 12, share, rule) is None


def test_on_flat_traffic_the_rule_keeps_its_family_wise_rate() -> None:
    """Windows drawn like the baseline: at most alpha of them flagged (alpha 0.05 and low floors so that the
    correction, not the floors, decides). A correction that undercharged would flag more."""
    rule = SurgeRule(alpha=0.05, min_count=2, min_ratio=1.0)
    skus = [f"S{i}" for i in range(8)]
    rates = np.array([3, 2, 1, 0.6, 0.4, 0.3, 0.2, 0.1])
    rng = np.random.default_rng(3)

    def draw() -> list[dict]:
        return [_ev(s) for s, lam in zip(skus, rates, strict=True) for _ in range(rng.poisson(lam))]

    base = [e for _ in range(12) for e in draw()]
    flagged = sum(evaluate(draw(), base, 12, _shares(base), rule) is not None for _ in range(300))
    assert flagged <= 300 * 0.05 + 3 * (300 * 0.05 * 0.95) ** 0.5


def test_a_value_missing_from_its_few_baseline_windows_is_not_taken_for_a_rare_one() -> None:
    """KNIFE-12 is 3% of the shop's urges but had none in these 12 windows: 4 orders in an hour is ordinary."""
    base = _steady(12, 10, seed=5)
    share = _shares(base) | {("sku", "KNIFE-12"): 0.03}
    now = [_ev(s) for s in SKUS for _ in range(2)] + [_ev("KNIFE-12") for _ in range(4)]
    fam = hypotheses(now, base, 12, share, SurgeRule())
    knife = next(h for h in fam if h.value == "KNIFE-12")
    assert knife.expected == pytest.approx(0.3, rel=0.05)
    assert evaluate(now, base, 12, share, SurgeRule()) is None


def test_a_surge_inside_a_warehouse_already_alerted_is_that_incident(engine: sa.Engine) -> None:
    """WH-GZ was alerted as backlogged an hour ago: five overdue orders of one of its SKUs (a surge of that SKU,
    not yet of the half-of-the-shop warehouse) are that backlog. The same hour in a shop with no open alert
    is an incident of its own."""
    clock = FixedClock(NOW)
    shops = ShopStore(engine, clock)
    hour = NOW - timedelta(hours=1)
    rnd = random.Random(3)
    for shop in ("s1", "s2"):
        shops.ensure(shop)
        rows, t = [], NOW - timedelta(weeks=3)
        while t < NOW:   # both warehouses, half each, 4 urges an hour
            rows += [_row(shop, t + timedelta(minutes=rnd.randint(0, 59)), rnd.choice(SKUS[:4]))
                     | {"warehouse": ("WH-HZ", "WH-GZ")[i % 2]} for i in range(4)]
            t += timedelta(hours=1)
        rows += [_row(shop, hour + timedelta(minutes=5 + 10 * i), "MUG-01", "overdue") | {"warehouse": "WH-GZ"}
                 for i in range(5)]
        with engine.begin() as conn:
            conn.execute(urge_events.insert(), rows)
    ins = UrgeInsights(engine, clock, shops)
    fresh = ins.detect("s2", NOW)
    assert fresh is not None and (fresh["dimension"], fresh["value"]) == ("sku", "MUG-01")
    assert ("warehouse", "WH-GZ") not in {(x["dimension"], x["value"]) for x in fresh["also"]}
    backlog = Finding("warehouse", "WH-GZ", 9, 1.0, 1e-6)
    ins._store("s1", Window(NOW - timedelta(hours=3), NOW - timedelta(hours=1)), backlog,
               [{"order_id": "O1", "sku": "CUP-02", "cause": "overdue", "warehouse": "WH-GZ"}])
    assert ins.detect("s1", NOW) is None
