"""The lifecycle and the feedback log on a real SQLite file."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.tables import urge_events
from drafter.errors import ClaimCheckFailed, IllegalTransition
from drafter.feedback import FeedbackLog, edit_distance
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.review import Review
from knowledge.demo_data import demo_orders
from knowledge.order_store import SqlOrderStore
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

CST = timezone(timedelta(hours=8))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The lifecycle runs on both backends the product supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/r.db"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def world(db_url: str):
    clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
    engine = make_engine(db_url)
    migrate(engine)
    ShopStore(engine, clock).ensure("demo", settings=ShopSettings())
    orders = SqlOrderStore(engine, clock)
    for f, _ in demo_orders(clock.now(), ShopSettings()):
        orders.put("demo", f)
    services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock), orders=orders,
                             clock=clock)
    review = Review(engine, clock)

    def new(order_id: str = "T1006", message: str = "发货了吗？我的电话13812345678", *, item: bool = False) -> Any:
        req = DraftRequest(order_id=order_id, message=message)
        result, situation = run(req, "demo", services)
        made = review.create("demo", req, result, situation, "k1", urge_event=True)  # as create_draft stores it
        return made if item else made.id

    yield review, FeedbackLog(engine), clock, new
    services.executor.shutdown()
    engine.dispose()


def test_approve_as_is_is_idempotent(world) -> None:
    review, log, clock, new = world
    d = new()
    first = review.approve("demo", d, None, "k1")
    assert first.event == "approved" and first.draft.status == "approved"
    again = review.approve("demo", d, None, "k1")
    assert again.event is None and again.draft.status == "approved"
    assert [e["event"] for e in log.events("demo")] == ["draft_created", "approved"]
    with pytest.raises(IllegalTransition):
        review.approve("demo", d, "another text", "k1")
    with pytest.raises(IllegalTransition):
        review.reject("demo", d, "wrong_tone", None, "k1")


def test_edit_is_guarded_again_and_logged_with_a_diff(world) -> None:
    review, log, clock, new = world
    d = new()
    item = review.store.item("demo", d)
    dishonest = item.text + "明天一定送到！"
    # Flagged text is not approved silently: the agent must give a reason, which is logged.
    with pytest.raises(ClaimCheckFailed) as refused:
        review.approve("demo", d, dishonest, "k1")
    assert refused.value.code == "override_required" and refused.value.details[0]["kind"] == "delivery_date"
    assert review.store.item("demo", d).status == "pending"
    dec = review.approve("demo", d, dishonest, "k1", override_reason="买家是老客户，已电话确认")
    assert dec.event == "edited" and dec.draft.final_text == dishonest
    assert "delivery_date" in {w.kind for w in dec.warnings}
    # The stored draft keeps the check of the FINAL text, with the offending span in it.
    assert dec.draft.final_guard is not None and dec.draft.final_guard.ok is False
    v = dec.draft.final_guard.violations[0]
    assert dishonest[v.start:v.end] == v.text
    assert dec.draft.override_reason == "买家是老客户，已电话确认"
    ev = [e for e in log.events("demo") if e["event"] == "edited"][0]
    assert ev["edit_distance"] == len("明天一定送到！") and "+" in ev["diff"] and ev["warnings"]
    assert ev["final_check"]["ok"] is False and ev["override"]["reason"] == "买家是老客户，已电话确认"


def test_the_shop_may_refuse_flagged_text_outright(world, db_url: str) -> None:
    review, log, clock, new = world
    shops = ShopStore(review.engine, clock)
    shops.update_settings("demo", ShopSettings(review={"block_violations": True}), author="m1")
    d = new()
    text = review.store.item("demo", d).text + "明天一定送到！"
    with pytest.raises(ClaimCheckFailed) as refused:
        review.approve("demo", d, text, "k1", override_reason="trust me")
    assert refused.value.code == "claim_check_refused"
    assert review.approve("demo", d, None, "k1").event == "approved"  # the honest draft still goes


def test_check_reports_spans_in_the_text_as_given(world) -> None:
    review, log, clock, new = world
    d = new("T1003", "怎么还不发货")
    text = "亲，\u200b今天一定给您发出，明天就能到"  # an invisible character before the claims shifts nothing
    report = review.check("demo", d, text)
    assert not report.ok
    for v in report.violations:
        assert v.start is not None and text[v.start:v.end] == v.text, v
    assert {"dispatch_date", "delivery_date"} <= {v.kind for v in report.violations}
    assert review.check("demo", d, "亲，我们帮您催一下仓库。").ok


def test_undo_approve_until_sent(world) -> None:
    review, log, clock, new = world
    d = new()
    review.approve("demo", d, None, "k1")
    back = review.unapprove("demo", d, "k1")
    assert back.event == "unapproved" and back.draft.status == "pending" and back.draft.final_guard is None
    assert review.unapprove("demo", d, "k1").event is None
    review.approve("demo", d, None, "k1")
    review.sent("demo", d, "k1")
    with pytest.raises(IllegalTransition):
        review.unapprove("demo", d, "k1")
    assert [e["event"] for e in log.events("demo")] == ["draft_created", "approved", "unapproved", "approved", "sent"]


def test_reject_with_reason_then_illegal_moves(world) -> None:
    review, log, clock, new = world
    d = new()
    dec = review.reject("demo", d, "wrong_tone", "太生硬", "k2")
    assert dec.draft.status == "rejected" and dec.draft.reject_reason == "wrong_tone"
    assert review.reject("demo", d, "wrong_tone", None, "k2").event is None
    with pytest.raises(IllegalTransition):
        review.approve("demo", d, None, "k2")
    with pytest.raises(IllegalTransition):
        review.sent("demo", d, "k2")
    from core.errors import InvalidInput
    with pytest.raises(InvalidInput):
        review.reject("demo", new("T1001"), "because", None, "k2")


def test_inserted_and_sent_are_separate_events(world) -> None:
    review, log, clock, new = world
    d = new()
    with pytest.raises(IllegalTransition):
        review.inserted("demo", d, "k1")
    review.approve("demo", d, None, "k1")
    review.inserted("demo", d, "k1")
    assert review.sent("demo", d, "k1").draft.status == "sent"
    assert review.sent("demo", d, "k1").event is None
    assert [e["event"] for e in log.events("demo")] == ["draft_created", "approved", "inserted", "sent"]


def test_a_newer_draft_supersedes_older_pending_ones(world) -> None:
    review, log, clock, new = world
    old = new("T1003", "怎么还不发货")
    clock.advance(minutes=1)
    newer = new("T1003", "还没发？")
    assert review.store.item("demo", old).status == "superseded"
    assert review.store.item("demo", newer).status == "pending"
    with pytest.raises(IllegalTransition):
        review.approve("demo", old, None, "k1")
    assert [e["event"] for e in log.events("demo")] == ["draft_created", "superseded", "draft_created"]


def test_create_returns_what_it_stored_and_writes_the_urge_event_with_it(world) -> None:
    review, log, clock, new = world
    old = new("T1003", "怎么还不发货", item=True)
    clock.advance(minutes=1)
    made = new("T1003", "还没发？", item=True)
    assert made == review.store.item("demo", made.id)  # built from the values written, equal to a read-back
    assert made.status == "pending" and made.received_at == made.created_at == clock.now()
    with review.engine.connect() as conn:
        events = conn.execute(sa.select(urge_events.c.draft_id, urge_events.c.order_id)
                              .order_by(urge_events.c.id)).all()
    assert [tuple(e) for e in events] == [(old.id, "T1003"), (made.id, "T1003")]


def test_a_failing_urge_event_never_costs_the_draft(world, caplog: pytest.LogCaptureFixture) -> None:
    review, log, clock, new = world
    old = new("T1003", "怎么还不发货")
    with review.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE urge_events"))  # the event's insert now fails, for real
    clock.advance(minutes=1)
    made = new("T1003", "还没发？")
    assert review.store.item("demo", made).status == "pending"
    assert review.store.item("demo", old).status == "superseded"  # the retry without the event did it all
    assert [e["event"] for e in log.events("demo")] == ["draft_created", "superseded", "draft_created"]
    assert f"could not store draft {made} with its urge event" in caplog.text


def test_log_is_redacted_and_stats_add_up(world) -> None:
    review, log, clock, new = world
    a, b, c = new("T1006"), new("T1001", "今天能发吗"), new("T1004", "我的快递到哪了")
    clock.advance(seconds=30)
    review.approve("demo", a, None, "k1")
    clock.advance(seconds=30)
    review.approve("demo", b, review.store.item("demo", b).text + "谢谢", "k1")
    review.reject("demo", c, "wrong_facts", "电话13900001111", "k1")
    dump = json.dumps(list(log.events("demo")), ensure_ascii=False)
    assert "13812345678" not in dump and "13900001111" not in dump and "[电话]" in dump
    s = log.stats("demo")
    assert (s["total_drafts"], s["approved"], s["edited"], s["rejected"]) == (3, 1, 1, 1)
    assert s["approval_rate"] == round(2 / 3, 4) and s["edit_rate"] == 0.5 and s["mean_edit_distance"] == 2
    assert s["rejection_reasons"] == {"wrong_facts": 1} and s["median_seconds_to_decision"] == 60.0
    assert set(s["by_intent"]) == {"urge", "logistics"} and "urge_phrasebook@v1" in s["by_prompt_version"]


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3 and edit_distance("同", "同") == 0


def test_logged_cases_replay_as_scenarios(world) -> None:
    from drafter.compare import scenarios_from_log

    review, log, clock, new = world
    new("T1006", "发货了吗？我电话13812345678")
    cases = scenarios_from_log(log.events("demo"), {"timezone": "Asia/Shanghai"})
    assert len(cases) == 1 and cases[0]["order"]["order_id"] == "T1006"
    assert "13812345678" not in cases[0]["message"] and cases[0]["shop"]["settings"]["timezone"] == "Asia/Shanghai"


def test_approving_a_needs_human_draft_logs_the_confirmation(world) -> None:
    review, log, clock, new = world
    d = new("T1009", "再不发货我就投诉了！")
    assert review.store.item("demo", d).needs_human
    review.approve("demo", d, None, "k1", confirmed_needs_human=True)
    ev = [e for e in log.events("demo") if e["event"] == "approved"][0]
    assert ev["needs_human_confirmed"] is True and ev["needs_human"] is True
    plain = new("T1006")
    review.approve("demo", plain, None, "k1")
    assert "needs_human_confirmed" not in [e for e in log.events("demo", draft_id=plain) if e["event"] == "approved"][0]


def test_spans_point_into_the_text_as_typed_even_when_it_is_folded(world) -> None:
    import unicodedata

    review, log, clock, new = world
    d = new("T1003", "怎么还不发货")
    text = "亲，加我ＷＥＣＨＡＴ聊，😀明天一定到"  # full-width letters are folded, an emoji is one code point
    report = review.check("demo", d, text)
    kinds = {v.kind for v in report.violations}
    assert {"off_platform", "delivery_date"} <= kinds, kinds
    for v in report.violations:
        assert v.start is not None and v.end is not None
        assert unicodedata.normalize("NFKC", text[v.start:v.end]) == v.text, (v, text[v.start:v.end])
