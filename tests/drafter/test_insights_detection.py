"""Surge detection off the draft path: ``create_draft`` asks for an evaluation and returns; the insights
service's own thread evaluates, stores the alert and fires the signed webhook."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.clock import FixedClock
from core.db import make_engine, migrate
from drafter.create import Created, create_draft
from drafter.insights.service import UrgeInsights
from drafter.pipeline import DraftServices
from drafter.request import DraftRequest
from drafter.review import Review
from knowledge.order_store import SqlOrderStore
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from tests.drafter.factories import order
from tests.drafter.test_insights_surges import NOW, _stock_error_hour
from tests.fakes.server import LoopbackServer
from tests.fakes.webhook_receiver import WebhookReceiver

SECRET = "whsec-detect"


class RecordingInsights(UrgeInsights):
    """The real service, noting the window end of every evaluation it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ends: list[datetime] = []

    def detect(self, shop_id: str, end: datetime) -> dict[str, Any] | None:
        self.ends.append(end)
        return super().detect(shop_id, end)


def _engine(url: str) -> sa.Engine:
    eng = make_engine(url)
    migrate(eng)
    return eng


def _shop_with_a_surge(engine: sa.Engine, clock: FixedClock) -> tuple[ShopStore, SqlOrderStore]:
    """Three weeks of ordinary urges, then an hour in which MUG-01's stock error brings 19 orders."""
    shops = ShopStore(engine, clock)
    shops.ensure("s1", settings=ShopSettings())
    _stock_error_hour(engine, "s1")
    orders = SqlOrderStore(engine, clock)
    orders.put("s1", order(order_id="T9001", paid="11-23 10:00", items=[
        {"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "out_of_stock", "restock_eta": "2026-11-24"}]))
    return shops, orders


def _draft(engine: sa.Engine, clock: FixedClock, shops: ShopStore, orders: SqlOrderStore,
           insights: UrgeInsights) -> Created:
    services = DraftServices(shops=shops, knowledge=KnowledgeStore(engine, clock), orders=orders, clock=clock,
                             insights=insights)
    try:
        return create_draft(DraftRequest(order_id="T9001", message="亲，怎么还不发货？"), "s1", services,
                            Review(engine, clock), author="k1")
    finally:
        services.executor.shutdown()


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    rx = WebhookReceiver(SECRET, now=NOW.timestamp())
    with LoopbackServer(rx.app) as srv:
        yield rx, srv.url + "/hook"


def test_create_draft_returns_while_detection_is_blocked_and_the_alert_arrives_after(
        pg_schema_url: str, receiver: tuple[WebhookReceiver, str]) -> None:
    """Another transaction holds the alerts table: the evaluation waits on it, the draft does not."""
    rx, url = receiver
    engine = _engine(pg_schema_url)
    clock = FixedClock(NOW)
    shops, orders = _shop_with_a_surge(engine, clock)
    ins = RecordingInsights(engine, clock, shops, webhook_url=url, webhook_secret=SECRET, deliver_inline=True)
    lock = engine.connect()
    tx = lock.begin()
    try:
        lock.execute(sa.text("LOCK TABLE urge_alerts IN ACCESS EXCLUSIVE MODE"))
        got: dict[str, Created] = {}
        worker = threading.Thread(target=lambda: got.update(c=_draft(engine, clock, shops, orders, ins)), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "create_draft waited for surge detection"
        assert got["c"].item is not None and got["c"].item.status == "pending"
        # The evaluation did start, and is now waiting for the table lock: the draft returned before it.
        waiting = 0
        for _ in range(600):
            waiting = lock.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted "
                                           "AND relation = 'urge_alerts'::regclass")).scalar() or 0
            if waiting:
                break
            threading.Event().wait(0.05)
        assert waiting >= 1
        assert lock.execute(sa.text("SELECT count(*) FROM urge_alerts")).scalar() == 0
        # Drafts asked in the meantime (later slots) coalesce into one waiting evaluation, at the newest end.
        for minutes in (10, 20):
            clock.set(NOW + timedelta(minutes=minutes))
            assert ins.after_event("s1") is None
        clock.set(NOW)   # the receiver's clock: the webhook's signed timestamp must be within its tolerance
    finally:
        tx.commit()
        lock.close()
    try:
        assert ins.wait_idle(60)
        assert ins.ends == [NOW, NOW + timedelta(minutes=20)]
        alerts = ins.alerts("s1")
        assert [(a["dimension"], a["value"]) for a in alerts] == [("sku", "MUG-01")]
        assert alerts[0]["webhook"]["status"] == "sent", alerts[0]["webhook"]
        assert rx.processed[alerts[0]["id"]]["value"] == "MUG-01"
        assert all(r["signature_ok"] for r in rx.requests)
    finally:
        ins.close()
        engine.dispose()


def test_background_detection_on_sqlite_stores_the_alert_and_fires_the_webhook(
        tmp_path: Path, receiver: tuple[WebhookReceiver, str]) -> None:
    rx, url = receiver
    engine = _engine(f"sqlite:///{tmp_path}/d.db")
    clock = FixedClock(NOW)
    shops, orders = _shop_with_a_surge(engine, clock)
    ins = UrgeInsights(engine, clock, shops, webhook_url=url, webhook_secret=SECRET)
    try:
        created = _draft(engine, clock, shops, orders, ins)
        assert created.item is not None
        assert ins.wait_idle(60)
        [alert] = ins.alerts("s1")
        assert (alert["dimension"], alert["value"], alert["window_end"]) == ("sku", "MUG-01", NOW.isoformat())
        # Delivery has its own thread (deliver_inline is off): wait for the receiver, on its own clock.
        for _ in range(600):
            if rx.processed:
                break
            threading.Event().wait(0.05)
        assert list(rx.processed) == [alert["id"]]
    finally:
        ins.close()
        engine.dispose()


def test_off_leaves_detection_to_the_caller_and_a_closed_service_takes_no_more(tmp_path: Path) -> None:
    engine = _engine(f"sqlite:///{tmp_path}/o.db")
    clock = FixedClock(NOW)
    shops, _ = _shop_with_a_surge(engine, clock)
    try:
        off = RecordingInsights(engine, clock, shops, detect_in="off")
        assert off.after_event("s1") is None and off.ends == [] and off.alerts("s1") == []
        assert off.detect("s1", NOW) is not None   # the owner's own schedule (the simulator's)
        closed = RecordingInsights(engine, clock, shops)
        closed.close()
        assert closed.after_event("s1") is None and closed.wait_idle(5) and closed.ends == []
        with pytest.raises(ValueError, match="detect_in"):
            UrgeInsights(engine, clock, shops, detect_in="later")  # type: ignore[arg-type]
    finally:
        engine.dispose()
