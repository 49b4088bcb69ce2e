"""ActionDesk on its own (SQLite, no HTTP): exactly one sender per task under concurrency, failures kept,
the shop's defaults, and what counts as done."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.clock import FixedClock
from core.db import make_engine, migrate
from drafter.compensation import Compensation
from drafter.guard import GuardReport
from drafter.intent import classify
from drafter.result import Action, DraftResult
from drafter.tasks import Accepted, ActionDesk
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.sources.router import TaskRoute
from prompts.loader import PromptRef

NOW = datetime(2026, 11, 12, 11, 0, tzinfo=timezone(timedelta(hours=8)))


class Memo:
    """A stand-in for OrderSources with a slow memo write, counting the writes."""

    def __init__(self, fail: bool = False) -> None:
        self.writes: list[tuple[str, str]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def task_route(self, shop_id: str) -> TaskRoute:
        return TaskRoute("taobao")

    def write_memo(self, shop_id: str, order_id: str, marker: str, line: str, flag: int) -> str:
        time.sleep(0.05)  # long enough for every racing thread to try its claim meanwhile
        if self.fail:
            from knowledge.errors import SourceRemoteError

            raise SourceRemoteError("Taobao failed (Remote service error)", code="top:15", retryable=True)
        with self._lock:
            self.writes.append((order_id, marker))
        return "written"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path}/t.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def result(*kinds: str) -> DraftResult:
    actions = [Action(kind=k, amount_yuan=3 if k == "coupon" else None, needs_approval=k in ("coupon", "gift"),
                      reason="overdue 2 day(s)") for k in kinds]
    return DraftResult(id="d_1", text="亲，我这就帮您备注加急。", intent=classify("怎么还不发货"), guard=GuardReport(),
                       prompt=PromptRef(name="urge_phrasebook", version="v1", hash="sha256:x"), actions=actions,
                       facts={"order_id": "123", "status": "WAIT_SELLER_SEND_GOODS", "buyer_nick": "t**3",
                              "items": [{"sku": "MUG-01", "title": "杯", "quantity": 1}]})


def desk_for(engine: Any, sources: Any, **settings: Any) -> tuple[ActionDesk, ShopStore]:
    clock = FixedClock(NOW)
    shops = ShopStore(engine, clock)
    shops.ensure("s", settings=ShopSettings.model_validate(
        {"compensation": {"coupon_yuan_max": 3, "gift": "小礼品"}, **settings}))
    return ActionDesk(engine, clock, shops, sources, sleep=lambda s: None), shops


def record(desk: ActionDesk, r: DraftResult, accepted: list[Accepted] | None = None) -> list[str]:
    plan = desk.plan("s", r, accepted)
    with desk.engine.begin() as conn:
        return desk.record(conn, shop_id="s", draft_id="d_1", order_id="123", result=r, plan=plan, key_id="k1")


def test_racing_senders_write_the_memo_once(engine: Any) -> None:
    memo = Memo()
    desk, _ = desk_for(engine, memo)
    (tid,) = record(desk, result("priority"))
    threads = [threading.Thread(target=desk.run, args=("s", tid)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert memo.writes == [("123", tid)]
    task = desk.get("s", tid)
    assert task.status == "done" and [e.event for e in task.events] == ["created", "sent", "done"]
    assert task.facts is not None and "buyer_nick" not in task.facts  # the warehouse sees no buyer data
    assert desk.done_actions("s", "123") == {"priority": f"task:{tid}"}


def test_a_failure_is_kept_with_its_reason_and_nothing_counts_as_done(engine: Any) -> None:
    desk, _ = desk_for(engine, Memo(fail=True))
    (tid,) = record(desk, result("priority"))
    task = desk.run("s", tid)
    assert task.status == "failed" and task.last_error == "[top:15] Taobao failed (Remote service error)"
    assert desk.list("s", status="failed")[0].id == tid
    assert desk.done_actions("s", "123") == {}


def test_defaults_follow_the_shop_setting_and_compensation_waits(engine: Any) -> None:
    desk, _ = desk_for(engine, Memo(), actions_default=["contact_courier", "coupon"])
    r = result("priority", "coupon", "contact_courier")
    plan = desk.plan("s", r, None)
    assert [a.kind for _, a, _ in plan] == ["coupon", "contact_courier"]
    to_run = record(desk, r)
    assert to_run == []  # contact_courier cannot be done by the Taobao memo: a person does it
    assert [t.executor for t in desk.list("s", status="open")] == ["manual"]
    comp = Compensation(engine, desk.clock, desk.shops, desk)
    (req,) = comp.list("s")
    assert (req.kind, req.amount_yuan, req.status, req.cause) == ("coupon", 3.0, "pending", "overdue")
    assert desk.done_actions("s", "123") == {"compensation_applied": f"approval:{req.id}"}
    comp.approve("s", req.id, "m1")
    # Approved is not given: a task to give it, for a person here (the Taobao memo cannot issue coupons).
    (give,) = [t for t in desk.list("s", status="open") if t.kind == "coupon"]
    assert give.reason == "coupon ¥3 approved: give it to the buyer" and give.executor == "manual"
    assert "compensation_granted" not in desk.done_actions("s", "123")
    desk.mark_done("s", give.id, "k2", "优惠券已发")
    assert desk.done_actions("s", "123")["compensation_granted"] == f"task:{give.id}"
    assert comp.given_per_week("s") == [{"week": "2026-W46", "cause": "overdue", "kind": "coupon", "count": 1,
                                         "yuan": 3.0}]


def test_an_approval_waits_a_bounded_time_and_a_slow_task_finishes_later(engine: Any) -> None:
    release = threading.Event()

    class Slow(Memo):
        def write_memo(self, *a: Any) -> str:
            release.wait(10)  # held until the approval has returned: no timing assumption
            return super().write_memo(*a)

    memo = Slow()
    desk, _ = desk_for(engine, memo)
    desk.wait_s = 0.1
    (tid,) = record(desk, result("priority"))
    desk.run_many("s", [tid])  # returns after wait_s although the write is still blocked
    assert desk.get("s", tid).status == "sent"  # still sending: shown as such, never as done
    release.set()
    deadline = time.monotonic() + 5
    while desk.get("s", tid).status == "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert desk.get("s", tid).status == "done" and len(memo.writes) == 1
    desk.close()


def test_a_task_left_sending_becomes_failed_and_visible(engine: Any) -> None:
    desk, _ = desk_for(engine, Memo())
    (tid,) = record(desk, result("priority"))

    from core.tables import tasks

    with engine.begin() as conn:  # the server stopped after claiming it
        conn.execute(tasks.update().where(tasks.c.id == tid).values(status="sent"))
    assert desk.list("s", status="failed") == []
    desk.clock.advance(minutes=3)  # type: ignore[attr-defined]
    (failed,) = desk.list("s", status="failed")
    assert failed.id == tid and "retry" in (failed.last_error or "")
    assert desk.retry("s", tid, "k1").status == "done"
    assert [e.event for e in desk.get("s", tid).events] == ["created", "failed", "retried", "sent", "done"]
