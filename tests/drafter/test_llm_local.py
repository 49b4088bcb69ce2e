"""The LLM path with a real local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M on llama.cpp's server, its
own chat template), replayed from cassettes.

`make test` replays the cassettes (record mode none); `make test-live` runs the same tests against
the live server started by `make llm-local`; `make cassettes` re-records them. The drafts use the
rewrite prompt (urge_reply@v3): whatever the model writes must pass the guard and the usefulness
check, or the template draft stands — these tests show no dishonest or useless text getting through.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from drafter import scoring
from drafter.guard import check as guard_check
from drafter.intent import classify
from drafter.llm import LLMClient
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.usefulness import check as usefulness_check
from knowledge.demo_data import DEMO_SETTINGS, demo_orders
from knowledge.order_store import SqlOrderStore
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore

pytestmark = pytest.mark.llm
CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, 0, tzinfo=CST)
LLM_URL = "http://127.0.0.1:8081/v1"
CASES = [json.loads(x) for x in (Path(__file__).parents[1] / "scenarios" / "llm_cases.jsonl")
         .read_text(encoding="utf-8").splitlines() if x.strip()]
CASSETTES = Path(__file__).parent / "cassettes" / "test_llm_local"
LIVE = os.environ.get("REPLYDESK_LLM_LIVE") == "1"
MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"  # what the server's /v1/models reports (make llm-local)
PROMPT = "urge_reply@v3"
# Behaviours no honest reply may show, checked by the project's own scorer (independent of the guard).
NEVER = ["promise_delivery_date", "invents_tracking", "asks_good_review", "off_platform", "compensation_over:3",
         "wrong_carrier", "promises_carrier_change"]


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {"filter_headers": ["authorization"], "match_on": ["method", "scheme", "host", "port", "path", "body"],
            "decode_compressed_response": True}


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    cassette = CASSETTES / f"{request.node.name}.yaml"
    mode = request.config.getoption("--record-mode", default="none")
    if not LIVE and mode == "none" and not cassette.is_file():
        pytest.skip(f"no cassette {cassette.name}: record it with `make llm-local` then `make cassettes`")
    clock = FixedClock(NOW)
    engine = make_engine(f"sqlite:///{tmp_path}/l.db")
    migrate(engine)
    settings_shop = DEMO_SETTINGS
    ShopStore(engine, clock).ensure("demo", settings=settings_shop)
    orders = SqlOrderStore(engine, clock)
    for f, _ in demo_orders(clock.now(), settings_shop):
        orders.put("demo", f)
    settings = Settings(data_dir=tmp_path, llm_base_url=LLM_URL, llm_model=MODEL, llm_timeout_s=240,
                        llm_api_key="sk-local-test-key")
    llm = LLMClient(settings, clock, budget_s=480)
    services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock),
                             orders=orders, clock=clock, llm=llm)
    yield services
    services.executor.shutdown()


def _scenario(case: dict[str, Any], facts: dict[str, Any] | None) -> dict[str, Any]:
    return {"now": NOW.isoformat(), "order": facts, "message": case["message"]}


@pytest.mark.vcr
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_local_model_never_gets_a_dishonest_draft_through(world: DraftServices, case: dict[str, Any]) -> None:
    result, situation = run(DraftRequest(order_id=case["order_id"], message=case["message"]), "demo", world,
                            composer="llm", prompt=PROMPT)
    assert result.composer == "llm" and result.model == MODEL and result.prompt.version == PROMPT[-2:]
    # The model really answered (a cassette that no longer matches the prompt shows up here).
    assert result.usage["calls"] >= 1 and not any(r.startswith("llm_") for r in result.guard.reasons), result.guard.reasons
    assert guard_check(result.text, situation, known_refs=(case["order_id"],)).ok
    if not result.guard.fell_back:  # the model's text stood: it must also do the job
        intent = classify(case["message"], [])
        useless = [p for p in usefulness_check(result.text, situation, intent, message=case["message"])
                   if p.kind != "missing"]  # what it must convey is judged against the template draft
        assert useless == [], (useless, result.text)
    full = result.model_dump(mode="json")
    broken = [n for n in NEVER if scoring.check(n, full, _scenario(case, full["facts"]))]
    if not situation.shipments:
        broken += [n for n in ("claims_shipped",) if scoring.check(n, full, _scenario(case, full["facts"]))]
    print(f"\n{case['id']}: repaired={result.guard.repaired} fell_back={result.guard.fell_back} "
          f"model_ms={result.timings_ms.get('llm_model')} tokens={result.usage}\n  {result.text}")
    assert broken == [], result.text


@pytest.mark.vcr
def test_local_model_streams(world: DraftServices) -> None:
    tokens: list[str] = []
    result, situation = run(DraftRequest(order_id="T1006", message="单号发我一下"), "demo", world, composer="llm",
                            prompt=PROMPT, on_token=tokens.append)
    assert "".join(tokens).strip(), "the model streamed no tokens"
    assert guard_check(result.text, situation, known_refs=("T1006",)).ok
