"""Urge traffic simulator: weeks of a shop's urges through the real draft path, with injected incidents.

    python -m benchmarks.urge_sim [--weeks 7] [--rate 8] [--seed 7] [--json] [--db URL] [--detect-only]

Traffic: a Poisson process whose hourly rate follows a daily cycle (quiet at night, peaks in the
evening), a weekly cycle (weekends busier) and a 双11 peak (Nov 11-14, with the shop's own delay
notice posted, as shops do). Each urge is a buyer message about an order whose facts are drawn
from a realistic mix (awaiting dispatch, overdue, out of stock, presale, in transit, stuck, at a
pickup point) over 20 SKUs (Zipf popularity), 2 warehouses and 3 carriers.

Injected incidents (each adds up to 6 urges an hour on top of the normal traffic, reached after ``--ramp``
hours, 3 by default; in the first hour about 2 extra urges, in the second about 4):
- a stock error: one SKU is sold as in stock but is not; its orders report out of stock with a
  restock date already passed;
- a courier stall: one carrier stops moving parcels; its buyers see no tracking for days;
- a warehouse backlog: one warehouse falls behind; its orders go past their dispatch time.

Every urge goes through ``drafter.create.create_draft`` (intent, facts, situation, composer, guard,
storage, the urge event), on a clock that moves with the simulation. Retrieval is off (no knowledge
index): it does not change what the detector sees and would cost ~15 ms of embedding per draft.
Surge detection runs every 10 simulated minutes over the urges received before it (the service's
``detect_in="off"``: the simulator is the scheduler, so runs are deterministic; in the API a draft asks
for it and a background thread runs it). ``--detect-only`` re-runs detection alone over the urges an
earlier run stored with the same ``--db``: the same result as a full run (detection only reads urges
received before its window's end), in a minute instead of ~15, to compare detector versions on one traffic.

Reported: per incident, whether an alert named the right SKU/carrier/warehouse, and how long after
the incident's start (the time its extra urges began); alerts that match no incident are false
alarms, counted per shop-week over the weeks that have a baseline (from week ``min_weeks`` + 1 on: the 3rd).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

CST = timezone(timedelta(hours=8))
START = datetime(2026, 10, 5, 0, 0, tzinfo=CST)     # a Monday, 5 weeks before 双11
SHOP = "sim"
SKUS = [f"{name}-{i:02d}" for i, name in enumerate(
    ["MUG", "PLATE", "VASE", "BOWL", "CUP", "POT", "JAR", "TRAY", "TEAPOT", "SPOON",
     "FORK", "KNIFE", "BOX", "LID", "GLASS", "KETTLE", "PAN", "RACK", "MAT", "CLOTH"], 1)]
WAREHOUSES = ["WH-HZ", "WH-GZ"]
CARRIERS = ["中通快递", "圆通速递", "顺丰速运"]
CARRIER_P = [0.5, 0.3, 0.2]
# Hourly shape of buyer chat (index = local hour), relative; evenings are busiest.
DAILY = np.array([0.35, 0.2, 0.12, 0.08, 0.08, 0.1, 0.2, 0.45, 0.8, 1.1, 1.25, 1.3,
                  1.15, 1.1, 1.2, 1.25, 1.2, 1.1, 1.05, 1.2, 1.45, 1.6, 1.4, 0.8])
WEEKLY = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.2])  # Monday..Sunday
DOUBLE11 = {date(2026, 11, 11): 2.0, date(2026, 11, 12): 3.5, date(2026, 11, 13): 3.0, date(2026, 11, 14): 2.0}

MESSAGES = {
    "wait": ["亲，怎么还不发货？", "今天能发吗", "什么时候发货呀", "催一下，订单什么时候发", "拍了两天了还没发货，什么情况",
             "我的{sku}什么时候发", "能快点发吗"],
    "transit": ["物流怎么不动了", "都三天了物流还没更新", "快递到哪了", "什么时候能到", "物流好几天没动了"],
    "pickup": ["快递到哪了", "什么时候能到"],
}


@dataclass
class Incident:
    kind: str            # stock_error | courier_stall | warehouse_backlog
    dimension: str       # sku | carrier | warehouse
    value: str
    start: datetime
    hours: float
    peak_rate: float     # extra urges per hour at full strength
    ramp_h: float = 3.0

    def rate(self, t: datetime) -> float:
        h = (t - self.start).total_seconds() / 3600
        if h < 0 or h > self.hours:
            return 0.0
        return self.peak_rate * min(1.0, (h + 0.5) / self.ramp_h)


def incidents(weeks: int, ramp_h: float = 3.0) -> list[Incident]:
    """Spread over the quiet weeks after the first (which has no baseline yet)."""
    out = [Incident("stock_error", "sku", "TRAY-08", START + timedelta(days=15, hours=10), 30, 6.0, ramp_h),
           Incident("courier_stall", "carrier", "圆通速递", START + timedelta(days=24, hours=14), 36, 6.0, ramp_h),
           Incident("warehouse_backlog", "warehouse", "WH-GZ", START + timedelta(days=30, hours=9), 24, 6.0, ramp_h)]
    end = START + timedelta(weeks=weeks)
    return [i for i in out if i.start + timedelta(hours=2) < end]


class SimOrders:
    """The order source: facts made at the moment of each urge, as a live source would report them."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}

    def get(self, shop_id: str, order_id: str) -> Any:
        from knowledge.errors import OrderNotFound

        if order_id not in self.facts:
            raise OrderNotFound(order_id)
        return self.facts[order_id]


class Simulator:
    def __init__(self, db_url: str, *, weeks: int, rate: float, seed: int, ramp_h: float = 3.0) -> None:
        from core.clock import FixedClock
        from core.db import make_engine, migrate
        from drafter.insights.service import UrgeInsights
        from drafter.pipeline import DraftServices
        from drafter.review import Review
        from knowledge.shop_settings import ShopSettings
        from knowledge.shops import ShopStore
        from knowledge.store import KnowledgeStore

        self.weeks, self.rate = weeks, rate
        self.rng = np.random.default_rng(seed)
        self.clock = FixedClock(START)
        self.engine = make_engine(db_url)
        migrate(self.engine)
        self.shops = ShopStore(self.engine, self.clock)
        self.shops.ensure(SHOP, name="Simulated shop", settings=ShopSettings.model_validate({
            "timezone": "Asia/Shanghai", "ship_within_hours": 48, "daily_cutoff": "16:00",
            "default_carriers": CARRIERS}))
        self.knowledge = KnowledgeStore(self.engine, self.clock)
        # The shop posts its 双11 delay notice, as shops do.
        self.knowledge.upsert(SHOP, "n-1111", kind="notice", title="双11发货延迟",
                              text="双11期间订单量大，发货将延迟1-3天，请亲耐心等待。",
                              valid_from=datetime(2026, 11, 11, 0, 0, tzinfo=CST),
                              valid_to=datetime(2026, 11, 15, 23, 59, tzinfo=CST),
                              effects=[{"kind": "dispatch_delay", "days_min": 1, "days_max": 3}])
        self.orders = SimOrders()
        self.review = Review(self.engine, self.clock)
        self.insights = UrgeInsights(self.engine, self.clock, self.shops, detect_in="off")
        self.services = DraftServices(shops=self.shops, knowledge=self.knowledge, orders=self.orders,
                                      clock=self.clock, retriever=None, insights=self.insights)
        self.incidents = incidents(weeks, ramp_h)
        self.recent: list[str] = []
        self.n = 0
        self.detect_s: list[float] = []

    # -- orders --------------------------------------------------------------------------------
    def _sku(self) -> str:
        w = 1.0 / np.arange(1, len(SKUS) + 1) ** 0.9
        return str(self.rng.choice(SKUS, p=w / w.sum()))

    @staticmethod
    def _warehouse(sku: str) -> str:
        return WAREHOUSES[int(sku.rsplit("-", 1)[1]) % 2]

    def _order(self, now: datetime, kind: str, *, sku: str | None = None, carrier: str | None = None,
               warehouse: str | None = None) -> tuple[dict[str, Any], str]:
        rng = self.rng
        sku = sku or self._sku()
        if warehouse is not None:
            sku = str(rng.choice([s for s in SKUS if self._warehouse(s) == warehouse]))
        item: dict[str, Any] = {"sku": sku, "title": sku, "quantity": 1, "stock": "in_stock"}
        facts: dict[str, Any] = {"status": "WAIT_SELLER_SEND_GOODS", "items": [item],
                                 "warehouse": self._warehouse(sku), "fetched_at": now.isoformat()}
        h = timedelta(hours=1)
        if kind == "wait":
            paid = now - float(rng.uniform(1, 40)) * h
        elif kind == "overdue":
            paid = now - float(rng.uniform(50, 80)) * h
        elif kind == "out_of_stock":
            paid = now - float(rng.uniform(5, 40)) * h
            item.update(stock="out_of_stock", restock_eta=(now + timedelta(days=int(rng.integers(2, 8)))).date().isoformat())
        elif kind == "stock_error":
            paid = now - float(rng.uniform(20, 70)) * h
            item.update(stock="out_of_stock", restock_eta=(now - timedelta(days=int(rng.integers(1, 4)))).date().isoformat())
        elif kind == "presale":
            paid = now - float(rng.uniform(24, 200)) * h
            facts["presale"] = {"ship_from": (now + timedelta(days=3)).date().isoformat(),
                                "ship_by": (now + timedelta(days=10)).date().isoformat()}
            facts["promised_ship_by"] = (now + timedelta(days=10)).isoformat()
        else:  # shipped: transit, stuck, pickup
            paid = now - float(rng.uniform(30, 120)) * h
            carrier = carrier or str(rng.choice(CARRIERS, p=CARRIER_P))
            if kind == "stuck":
                last = now - float(rng.uniform(50, 90)) * h
                desc = "【转运中心】已发出"
            elif kind == "pickup":
                last = now - float(rng.uniform(1, 30)) * h
                desc = "您的快件已到达菜鸟驿站，请凭取件码取件"
            else:
                last = now - float(rng.uniform(1, 40)) * h
                desc = "【转运中心】已发出，下一站【分拨中心】"
            shipped = last - float(rng.uniform(6, 20)) * h
            facts.update(status="WAIT_BUYER_CONFIRM_GOODS", shipments=[{
                "carrier": carrier, "tracking_no": f"YT{int(rng.integers(10**11, 10**12))}",
                "shipped_at": shipped.isoformat(),
                "events": [{"at": shipped.isoformat(), "desc": "已揽收"}, {"at": last.isoformat(), "desc": desc}]}])
        facts["paid_at"] = paid.isoformat()
        facts.setdefault("promised_ship_by", (paid + 48 * h).isoformat())
        text_kind = "transit" if kind in ("transit", "stuck") else ("pickup" if kind == "pickup" else "wait")
        msg = str(rng.choice(MESSAGES[text_kind])).replace("{sku}", sku)
        return facts, msg

    def _normal_kind(self, now: datetime) -> str:
        if now.date() in DOUBLE11 and self.rng.random() < 1 - 1 / DOUBLE11[now.date()]:
            return "wait"   # the extra 双11 urges are about orders waiting behind the peak
        kinds = ["wait", "overdue", "out_of_stock", "presale", "transit", "stuck", "pickup"]
        return str(self.rng.choice(kinds, p=[0.45, 0.08, 0.08, 0.05, 0.28, 0.03, 0.03]))

    # -- traffic -------------------------------------------------------------------------------
    def _draft(self, at: datetime, facts: dict[str, Any], message: str) -> None:
        from drafter.create import create_draft
        from drafter.request import DraftRequest
        from knowledge.orders import OrderFacts

        if self.recent and self.rng.random() < 0.12:   # a buyer urging the same order again
            oid = str(self.rng.choice(self.recent[-200:]))
            context: list[Any] = [{"role": "buyer", "text": "什么时候发货"}]
        else:
            self.n += 1
            oid = f"S{self.n:07d}"
            self.orders.facts[oid] = OrderFacts.model_validate({"order_id": oid, **facts})
            self.recent.append(oid)
            context = []
        self.clock.set(at + timedelta(seconds=float(self.rng.uniform(5, 40))))   # drafted a little after
        req = DraftRequest(order_id=oid, message=message, context=context, received_at=at)
        create_draft(req, SHOP, self.services, self.review, author="sim-agent")

    def _detect(self, at: datetime) -> None:
        """One evaluation, as the service's background thread would run it at ``at``."""
        self.clock.set(at)
        t = time.perf_counter()
        self.insights.detect(SHOP, at)
        self.detect_s.append(time.perf_counter() - t)

    def detect_only(self, progress: bool = True) -> dict[str, Any]:
        """Detection alone, every 10 minutes, over the urges already stored (by an earlier run on this --db)."""
        import sqlalchemy as sa

        from core.tables import urge_alerts, urge_events

        t0 = time.perf_counter()
        with self.engine.begin() as conn:
            conn.execute(urge_alerts.delete().where(urge_alerts.c.shop_id == SHOP))
            drafted = conn.execute(sa.select(sa.func.count()).select_from(urge_events)
                                   .where(urge_events.c.shop_id == SHOP)).scalar() or 0
        if not drafted:
            raise SystemExit("--detect-only: no urges stored in this database; run the simulator on it first")
        for i in range(self.weeks * 7 * 24 * 6):
            self._detect(START + timedelta(minutes=10 * i))
            if progress and i % (6 * 24 * 7) == 0:
                print(f"  week {i // (6 * 168) + 1}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return self.report(int(drafted), time.perf_counter() - t0)

    def run(self, progress: bool = True) -> dict[str, Any]:
        t0 = time.perf_counter()
        hours = self.weeks * 7 * 24
        drafted = 0
        for hi in range(hours):
            hour = START + timedelta(hours=hi)
            lam = self.rate * DAILY[hour.hour] * WEEKLY[hour.weekday()] * DOUBLE11.get(hour.date(), 1.0)
            arrivals: list[tuple[datetime, str, dict[str, Any]]] = []
            for _ in range(int(self.rng.poisson(lam))):
                arrivals.append((hour + timedelta(seconds=float(self.rng.uniform(0, 3600))), "normal", {}))
            for inc in self.incidents:
                for _ in range(int(self.rng.poisson(inc.rate(hour + timedelta(minutes=30))))):
                    arrivals.append((hour + timedelta(seconds=float(self.rng.uniform(0, 3600))), inc.kind,
                                     {inc.dimension: inc.value}))
            ticks = [hour + timedelta(minutes=m) for m in range(0, 60, 10)]
            for at, kind, target in sorted(arrivals, key=lambda a: a[0]):
                while ticks and ticks[0] <= at:
                    self._detect(ticks.pop(0))
                if kind == "normal":
                    k = self._normal_kind(at)
                    sku = None
                    # While the stock error lasts, the SKU's own normal urges see the wrong stock too.
                    for inc in self.incidents:
                        if inc.kind == "stock_error" and inc.rate(at) > 0 and k in ("wait", "overdue"):
                            sku = self._sku()
                            if sku == inc.value:
                                k = "stock_error"
                    facts, msg = self._order(at, k, sku=sku)
                elif kind == "stock_error":
                    facts, msg = self._order(at, "stock_error", sku=target["sku"])
                elif kind == "courier_stall":
                    facts, msg = self._order(at, "stuck", carrier=target["carrier"])
                else:
                    facts, msg = self._order(at, "overdue", warehouse=target["warehouse"])
                self._draft(at, facts, msg)
                drafted += 1
            for tick in ticks:
                self._detect(tick)
            if progress and hi % (24 * 7) == 0:
                print(f"  week {hi // 168 + 1}: {drafted} drafts, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return self.report(drafted, time.perf_counter() - t0)

    def report(self, drafted: int, seconds: float) -> dict[str, Any]:
        alerts = sorted(self.insights.alerts(SHOP, limit=10_000), key=lambda a: a["window_end"])
        matched: set[str] = set()
        per_incident = []
        for inc in self.incidents:
            hits = []
            for a in alerts:
                end = datetime.fromisoformat(a["window_end"])
                if not (inc.start < end <= inc.start + timedelta(hours=inc.hours + 6)):
                    continue
                names = [(a["dimension"], a["value"])] + [(x["dimension"], x["value"]) for x in a["also"]]
                if (inc.dimension, inc.value) in names:
                    hits.append((a, end, a["dimension"] == inc.dimension and a["value"] == inc.value))
                    matched.add(a["id"])
            first = hits[0] if hits else None
            delay = (first[1] - inc.start).total_seconds() / 60 if first else None
            per_incident.append({
                "incident": inc.kind, "cause": f"{inc.dimension} {inc.value}",
                "start": inc.start.isoformat(), "detected": first is not None,
                "right_cause": bool(first and first[2]), "delay_min": round(delay) if delay is not None else None,
                "within_2h": bool(first and first[2] and delay is not None and delay <= 120),
                "alert": first[0]["cause_text"] if first else None,
                "action": first[0]["action"] if first else None})
        false = [a for a in alerts if a["id"] not in matched]
        weeks_with_baseline = self.weeks - self.insights.rule.min_weeks
        per_week: dict[int, int] = {}
        for a in false:
            wk = int((datetime.fromisoformat(a["window_end"]) - START).total_seconds() // (7 * 86400)) + 1
            per_week[wk] = per_week.get(wk, 0) + 1
        return {
            "weeks": self.weeks, "drafts": drafted, "ramp_h": self.incidents[0].ramp_h if self.incidents else None, "alerts": len(alerts), "seconds": round(seconds, 1),
            "draft_ms": round(1000 * (seconds - sum(self.detect_s)) / max(drafted, 1), 2),
            "detect_ms": {"evaluations": len(self.detect_s),
                          "mean": round(1000 * float(np.mean(self.detect_s)), 2) if self.detect_s else None,
                          "p99": round(1000 * float(np.percentile(self.detect_s, 99)), 2) if self.detect_s else None},
            "incidents": per_incident,
            "false_alarms": len(false), "false_alarms_per_shop_week": round(len(false) / max(weeks_with_baseline, 1), 2),
            "false_alarms_by_week": per_week,
            "false_alarm_examples": [{"window_end": a["window_end"], "dimension": a["dimension"], "value": a["value"],
                                      "count": a["count"], "expected": a["expected"], "text": a["cause_text"]}
                                     for a in false[:10]],
            "done": all(i["within_2h"] for i in per_incident)
                    and max(per_week.values(), default=0) <= 1,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.urge_sim", description=__doc__.splitlines()[0])
    p.add_argument("--weeks", type=int, default=7)
    p.add_argument("--rate", type=float, default=8.0, help="mean urges per hour at the daily cycle's 1.0")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--ramp", type=float, default=3.0, help="hours an incident takes to reach its full urge rate")
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in a temporary directory)")
    p.add_argument("--json", dest="as_json", action="store_true")
    p.add_argument("--detect-only", action="store_true",
                   help="re-run detection alone over the urges an earlier run stored in --db (same --weeks)")
    args = p.parse_args(argv)
    if args.detect_only and not args.db:
        p.error("--detect-only needs the --db of an earlier run")
    # A RAM disk when there is one: the figures are about detection, not about this disk's fsyncs.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'sim.db'}"
        sim = Simulator(url, weeks=args.weeks, rate=args.rate, seed=args.seed, ramp_h=args.ramp)
        out = sim.detect_only(progress=not args.as_json) if args.detect_only else sim.run(progress=not args.as_json)
        sim.engine.dispose()
    if args.as_json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if out["done"] else 1


if __name__ == "__main__":
    sys.exit(main())
