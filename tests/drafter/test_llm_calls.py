"""Every model call is logged (llm_calls), a useless text gets one repair naming its problems, and the
shop's approved replies become exemplars — against the real local fake server (tests/drafter/llm_server.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from drafter.exemplars import ExemplarSource
from drafter.llm import LLMClient
from drafter.llm_log import LLMCallLog
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.review import Review
from knowledge.demo_data import demo_orders
from knowledge.order_store import SqlOrderStore
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from tests.drafter.llm_server import Script, serve_script

CST = timezone(timedelta(hours=8))
GOOD_T1006 = "亲，您的包裹已经发出了，中通快递，运单号78812345678901，请留意物流。祝您生活愉快！"
AS_BUYER = "我的订单怎么还不发货？你们什么时候发货？"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with serve_script() as (url, script):
        clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
        engine = make_engine(f"sqlite:///{tmp_path}/l.db")
        migrate(engine)
        shops = ShopStore(engine, clock)
        for shop in ("demo", "other"):
            shops.ensure(shop, settings=ShopSettings(default_carriers=["中通快递"]))
        orders = SqlOrderStore(engine, clock)
        for f, _ in demo_orders(clock.now(), ShopSettings()):
            orders.put("demo", f)
            orders.put("other", f)
        settings = Settings(data_dir=tmp_path, llm_base_url=url, llm_model="test-model", llm_timeout_s=0.5)
        log = LLMCallLog(engine, clock)
        services = DraftServices(shops=shops, knowledge=KnowledgeStore(engine, clock), orders=orders, clock=clock,
                                 llm=LLMClient(settings, clock, budget_s=1.5, sleep=lambda _s: None),
                                 llm_log=log, exemplars=ExemplarSource(engine), exemplar_limit=2)
        review = Review(engine, clock)

        def draft(order_id: str = "T1006", message: str = "发货了吗？单号多少", shop: str = "demo", **kw: Any):
            return run(DraftRequest(order_id=order_id, message=message), shop, services, composer="llm", **kw)

        yield {"draft": draft, "script": script, "log": log, "clock": clock, "engine": engine, "review": review,
               "tmp": tmp_path}
        services.executor.shutdown()


def test_every_call_is_logged_with_the_draft_id_prompt_model_usage_and_verdict(world) -> None:
    script: Script = world["script"]
    script.push(("text", GOOD_T1006))
    r, _ = world["draft"]()
    assert r.id and r.id.startswith("d_") and r.text == GOOD_T1006
    [call] = world["log"].list(draft_id=r.id)
    assert call["attempt"] == "first" and call["verdict"] == "stood" and call["problems"] == []
    assert call["prompt"] == "urge_reply@v3" and call["prompt_hash"] == r.prompt.hash
    assert call["model"] == "test-model" and call["params"] == {"temperature": 0.2, "max_tokens": 220}
    assert call["output"] == GOOD_T1006 and call["input_tokens"] == 120 and call["duration_ms"] > 0
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert "78812345678901" in call["messages"][1]["content"]


def test_a_useless_text_gets_one_repair_listing_its_problems_and_both_calls_are_logged(world) -> None:
    script: Script = world["script"]
    script.push(("text", AS_BUYER), ("text", GOOD_T1006))
    r, _ = world["draft"]()
    assert r.text == GOOD_T1006 and r.guard.repaired and not r.guard.fell_back
    repair = script.requests[1]["body"]["messages"][1]["content"]
    assert AS_BUYER in repair
    assert "以买家的口吻" in repair and "没有告诉买家：运单号78812345678901" in repair  # worded by the prompt file
    first, second = world["log"].list(draft_id=r.id)[::-1]
    assert first["verdict"] == "usefulness_problems" and second["verdict"] == "stood"
    assert {"usefulness:as_buyer", "usefulness:missing:tracking"} <= {p["kind"] for p in first["problems"]}
    assert second["attempt"] == "repair"
    assert [c["id"] for c in world["log"].list(failed=True)] == [first["id"]]


def test_a_text_that_leaves_out_the_tracking_number_is_repaired_then_the_template_stands(world) -> None:
    script: Script = world["script"]
    script.push(("text", "亲，您的订单已经发出了，请耐心等待。"), ("text", "亲，已经发货了哦。"))
    r, _ = world["draft"]()
    assert r.guard.fell_back and r.guard.repaired and "78812345678901" in r.text  # the template draft
    assert any("missing:tracking" in x for x in r.guard.reasons)
    assert "运单号78812345678901" in script.requests[1]["body"]["messages"][1]["content"]
    assert [c["verdict"] for c in world["log"].list(draft_id=r.id)] == ["usefulness_problems"] * 2


def test_errors_are_logged_and_buyer_details_never_reach_the_log(world) -> None:
    script: Script = world["script"]
    script.default = ("status", 500)
    r, _ = world["draft"](message="发货了吗？我电话13812345678")
    assert r.guard.fell_back
    [call] = world["log"].list(draft_id=r.id)
    assert call["verdict"] == "error" and "server_error" in call["error"] and call["output"] is None
    assert "13812345678" not in json.dumps(call, ensure_ascii=False)


def test_export_redacts_the_output_and_purge_keeps_the_retention(world) -> None:
    script: Script = world["script"]
    script.push(("text", "亲，已发出，中通快递，运单号78812345678901，有问题打13812345678"), ("text", GOOD_T1006))
    world["draft"]()
    log: LLMCallLog = world["log"]
    raw = log.list("demo")
    assert any("13812345678" in (c["output"] or "") for c in raw)  # the log keeps what the model wrote
    exported = list(log.export("demo"))
    assert exported and not any("13812345678" in json.dumps(c, ensure_ascii=False) for c in exported)
    world["clock"].advance(days=31)
    assert log.purge(30) == len(raw) and log.list("demo") == []


def test_replydesk_llm_log_lists_a_drafts_calls_and_the_failed_ones(world, monkeypatch) -> None:
    from api.cli import app

    script: Script = world["script"]
    script.push(("text", AS_BUYER), ("text", GOOD_T1006))
    r, _ = world["draft"]()
    monkeypatch.setenv("REPLYDESK_DATABASE_URL", f"sqlite:///{world['tmp']}/l.db")
    monkeypatch.setenv("REPLYDESK_DATA_DIR", str(world["tmp"]))
    out = CliRunner().invoke(app, ["llm", "log", "--draft", r.id])
    assert out.exit_code == 0, out.output
    assert "usefulness_problems" in out.output and "stood" in out.output and "repair" in out.output
    failed = CliRunner().invoke(app, ["llm", "log", "--failed", "--json"])
    rows = [json.loads(x) for x in failed.output.splitlines()]
    assert [x["verdict"] for x in rows] == ["usefulness_problems"]
    exported = CliRunner().invoke(app, ["llm", "export", "--shop", "demo"])
    assert [json.loads(x)["attempt"] for x in exported.output.splitlines()] == ["first", "repair"]


def _approve(world: dict[str, Any], shop: str, order_id: str, message: str, final: str | None) -> None:
    script: Script = world["script"]
    script.push(("status", 400))  # the model is not needed: the template draft is stored and approved
    r, situation = world["draft"](order_id=order_id, message=message, shop=shop)
    item = world["review"].create(shop, DraftRequest(order_id=order_id, message=message), r, situation, None)
    # An agent may approve a text the claim check flags, with a logged reason; it is still no exemplar.
    world["review"].approve(shop, item.id, final, None, override_reason="agent insists")
    world["clock"].advance(minutes=1)


def test_approved_replies_of_the_same_shop_and_state_become_exemplars_newest_first(world) -> None:
    # T1004 is out of stock in the demo data, T1006 shipped.
    _approve(world, "demo", "T1004", "杯子什么时候发", "亲，杯子缺货了，补到货马上发，也可以退款哦。")
    _approve(world, "demo", "T1004", "还要等多久 电话13812345678", None)
    _approve(world, "demo", "T1004", "第三条", "亲，明天一定发顺丰！")  # an edit the guard would not pass
    _approve(world, "other", "T1004", "别家的问题", "别家的回复")
    _approve(world, "demo", "T1006", "发了吗", "亲，发了哦，单号78812345678901")
    src = ExemplarSource(world["engine"])
    got = src.for_state("demo", "out_of_stock", 5)
    assert [m for m, _ in got] == ["还要等多久 电话[电话]", "杯子什么时候发"]
    assert got[1][1] == "亲，杯子缺货了，补到货马上发，也可以退款哦。"
    assert all("别家" not in m + x for m, x in got)
    assert [m for m, _ in src.for_state("demo", "shipped", 5)] == ["发了吗"]
    assert src.for_state("demo", "shipped", 5)[0][1] == "亲，发了哦，单号[单号]"  # another order's number is a slot
    assert len(src.for_state("demo", "out_of_stock", 1)) == 1

    script: Script = world["script"]
    script.push(("text", "亲，这款缺货了，预计补货后就发，不想等也可以申请退款。"))
    world["draft"](order_id="T1004", message="什么时候发货", prompt="urge_reply@v3")
    user = script.requests[-1]["body"]["messages"][1]["content"]
    assert "本店以前被采纳的回复" in user and "杯子缺货了" in user and "别家" not in user
    assert "The draft reply to rewrite" in user  # v3 gets the template draft


def test_prompts_compare_with_a_seeded_log_shows_the_exemplars_effect(tmp_path: Path) -> None:
    from drafter.compare import compare
    from drafter.evaluate import read_scenarios

    path = Path(__file__).parents[1] / "scenarios" / "dispatch_honesty.jsonl"
    scenarios = [s for _, s in read_scenarios(path)][:2]
    seed = [{**scenarios[0], "id": "seed-1", "message": "还没发吗", "approved_reply": "您好呀～小店正在打包，辛苦您再等等哦！"}]
    with serve_script() as (url, script):
        script.default = ("text", "亲，稍等")
        clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
        llm = LLMClient(Settings(data_dir=tmp_path, llm_base_url=url, llm_model="m", llm_timeout_s=2), clock,
                        budget_s=3, sleep=lambda _s: None)
        rows = compare(["urge_reply@v1", "urge_reply@v3"], scenarios, llm=llm, retrieval=False, exemplars=seed)
    assert [r["prompt"] for r in rows] == ["urge_reply@v1", "urge_reply@v3", "urge_reply@v3 +exemplars"]
    users = [r["body"]["messages"][1]["content"] for r in script.requests]
    with_house = [u for u in users if "小店正在打包" in u]
    assert with_house and all("The draft reply to rewrite" in u for u in with_house)  # only v3 +exemplars
    assert len(with_house) < len(users)
