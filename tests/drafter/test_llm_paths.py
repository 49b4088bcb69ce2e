"""The LLM path against a real local server that misbehaves on purpose: guard, repair, fallback, retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from drafter.llm import CircuitBreaker, LLMClient
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from knowledge.demo_data import demo_orders
from knowledge.order_store import SqlOrderStore
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from tests.drafter.llm_server import Script, serve_script

CST = timezone(timedelta(hours=8))
HONEST_T1006 = "亲，您的包裹已经发出了，中通快递，运单号78812345678901。具体到达时间以快递派送为准。祝您生活愉快！"
DISHONEST = "亲，已经给您发顺丰了，明天就到，送您10元红包，记得给好评哦！"


@pytest.fixture
def llm_world(tmp_path: Path) -> Iterator[tuple[Any, Script, FixedClock]]:
    with serve_script() as (url, script):
        clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
        engine = make_engine(f"sqlite:///{tmp_path}/l.db")
        migrate(engine)
        ShopStore(engine, clock).ensure("demo", settings=ShopSettings(default_carriers=["中通快递"]))
        orders = SqlOrderStore(engine, clock)
        for f, _ in demo_orders(clock.now(), ShopSettings()):
            orders.put("demo", f)
        settings = Settings(data_dir=tmp_path, llm_base_url=url, llm_model="test-model", llm_timeout_s=0.5,
                            llm_api_key="sk-test-secret")
        sleeps: list[float] = []
        client = LLMClient(settings, clock, budget_s=1.5, sleep=sleeps.append,
                           breaker=CircuitBreaker(clock, threshold=2, cooldown_s=30))
        services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock),
                                 orders=orders, clock=clock, llm=client)

        def draft(order_id: str = "T1006", message: str = "发货了吗？单号多少", **kw: Any):
            return run(DraftRequest(order_id=order_id, message=message), "demo", services, composer="llm", **kw)[0]

        yield draft, script, clock
        services.executor.shutdown()


def test_honest_model_text_is_used(llm_world) -> None:
    draft, script, _ = llm_world
    script.push(("text", HONEST_T1006))
    r = draft()
    assert r.composer == "llm" and r.model == "test-model" and r.text == HONEST_T1006
    assert r.guard.ok and not r.guard.fell_back and not r.guard.repaired
    assert r.prompt.name == "urge_reply" and r.prompt.version == "v3" and r.prompt.hash.startswith("sha256:")
    assert r.usage["calls"] == 1 and r.usage["input_tokens"] == 120 and r.usage["output_tokens"] > 0
    body = script.requests[0]["body"]
    assert body["max_tokens"] == 220 and "max_completion_tokens" not in body
    assert script.requests[0]["headers"]["authorization"] == "Bearer sk-test-secret"
    user = body["messages"][1]["content"]
    assert "<buyer_message>\n发货了吗？单号多少\n</buyer_message>" in user and "78812345678901" in user


def test_dishonest_text_is_repaired_once(llm_world) -> None:
    draft, script, _ = llm_world
    script.push(("text", DISHONEST), ("text", HONEST_T1006))
    r = draft()
    assert r.text == HONEST_T1006 and r.guard.repaired and not r.guard.fell_back
    assert any("delivery_date" in x for x in r.guard.reasons)
    repair_prompt = script.requests[1]["body"]["messages"][1]["content"]
    assert DISHONEST in repair_prompt and "明天" in repair_prompt


def test_still_dishonest_after_repair_falls_back_to_the_template(llm_world) -> None:
    draft, script, _ = llm_world
    script.push(("text", DISHONEST), ("text", "亲，明天一定送到，单号SF0000000000001"))
    r = draft()
    assert r.guard.fell_back and r.guard.repaired and r.composer == "llm"
    assert "78812345678901" in r.text and "SF0000000000001" not in r.text  # the template's honest text
    assert any(x.startswith("after repair") for x in r.guard.reasons)


def test_transient_errors_are_retried_with_backoff(llm_world) -> None:
    draft, script, _ = llm_world
    script.push(("status", 500), ("status", 429, 1), ("malformed",), ("text", HONEST_T1006))
    r = draft()
    assert r.text == HONEST_T1006 and r.usage["calls"] == 4 and len(script.requests) == 4, r.guard.reasons


def test_timeout_falls_back_and_the_breaker_opens(llm_world) -> None:
    draft, script, clock = llm_world
    script.default = ("sleep", 2)  # every call stalls past the 0.5 s timeout
    r = draft()
    assert r.guard.fell_back and any("llm_timeout" in x for x in r.guard.reasons)
    draft()  # the second failed call opens the breaker (threshold 2)
    calls = len(script.requests)
    r2 = draft()
    assert any("circuit_open" in x for x in r2.guard.reasons) and len(script.requests) == calls
    clock.advance(seconds=31)
    script.default = ("text", HONEST_T1006)
    assert draft().text == HONEST_T1006  # half-open lets a call through, and it succeeds


def test_empty_and_garbled_replies_fall_back(llm_world) -> None:
    draft, script, _ = llm_world
    script.default = ("empty",)
    r = draft()
    assert r.guard.fell_back and r.text.strip() and any("llm_empty" in x for x in r.guard.reasons)


def test_phone_numbers_are_redacted_before_the_model_sees_them(llm_world) -> None:
    draft, script, _ = llm_world
    script.push(("text", HONEST_T1006))
    draft(message="发货了吗？我电话13812345678，地址浙江省杭州市西湖区文三路100号")
    sent = str(script.requests[0]["body"])
    assert "13812345678" not in sent and "文三路100号" not in sent and "[电话]" in sent


def test_streaming_tokens_then_a_guarded_final(llm_world) -> None:
    draft, script, _ = llm_world
    script.push(("text", DISHONEST), ("text", HONEST_T1006))
    tokens: list[str] = []
    previews: list[Any] = []
    r = draft(on_token=tokens.append, on_template=previews.append)
    assert previews and previews[0].composer == "template"
    assert "".join(tokens) == DISHONEST  # the stream showed the unguarded first attempt
    assert r.text == HONEST_T1006 and r.guard.repaired  # the final replaced it


def test_ab_split_is_sticky_per_order() -> None:
    from drafter.pipeline import choose_prompt

    picks = {oid: choose_prompt("urge_reply@v1", "urge_reply@v2:50", oid) for oid in (f"T{i}" for i in range(200))}
    assert {choose_prompt("urge_reply@v1", "urge_reply@v2:50", oid) for oid in ("T7",) * 5} == {picks["T7"]}
    share = sum(v == "urge_reply@v2" for v in picks.values()) / len(picks)
    assert 0.35 < share < 0.65


def test_llm_asked_for_without_a_model_is_a_clear_422(tmp_path: Path) -> None:
    from core.errors import InvalidInput
    from prompts.loader import load_prompt

    clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
    engine = make_engine(f"sqlite:///{tmp_path}/n.db")
    migrate(engine)
    ShopStore(engine, clock).ensure("demo")
    services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock),
                             orders=SqlOrderStore(engine, clock), clock=clock)
    with pytest.raises(InvalidInput) as exc:
        run(DraftRequest(order_id="T1", message="发货了吗"), "demo", services, composer="llm")
    assert exc.value.field == "composer"
    with pytest.raises(InvalidInput) as exc:
        load_prompt("nope", "v9")
    assert "/work" not in exc.value.message and str(tmp_path) not in exc.value.message
