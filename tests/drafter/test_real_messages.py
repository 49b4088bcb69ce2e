"""All 572 real buyer messages through the pipeline with a fixed order: no error, well-formed, honest."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.db import make_engine, migrate
from drafter.pipeline import DraftServices, draft
from drafter.request import DraftRequest
from drafter.result import DraftResult
from knowledge.demo_data import demo_orders
from knowledge.order_store import SqlOrderStore
from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from tests.conftest import shared_file

CST = timezone(timedelta(hours=8))
pytestmark = pytest.mark.eval  # 572 real messages, twice


@pytest.mark.parametrize("order_id", ["T1003", "T1006"])  # overdue in stock / shipped
def test_real_messages_all_draft_cleanly(tmp_path: Path, order_id: str) -> None:
    path = shared_file("real_messages.jsonl")
    clock = FixedClock(datetime(2026, 11, 12, 11, tzinfo=CST))
    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    migrate(engine)
    ShopStore(engine, clock).ensure("demo", settings=ShopSettings())
    orders = SqlOrderStore(engine, clock)
    for facts, _ in demo_orders(clock.now(), ShopSettings()):
        orders.put("demo", facts)
    services = DraftServices(shops=ShopStore(engine, clock), knowledge=KnowledgeStore(engine, clock),
                             orders=orders, clock=clock)
    kinds: Counter[str] = Counter()
    fell_back = 0
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        m = json.loads(line)
        roles = m.get("context_roles") or []
        context = [{"role": r, "text": t[:2000]} for r, t in zip(roles, m.get("context") or [], strict=False)
                   if r in ("buyer", "agent")][-20:]
        req = DraftRequest(order_id=order_id, message=m["message"][:2000] or "?", context=context)
        res = draft(req, "demo", services)
        DraftResult.model_validate_json(res.model_dump_json())  # round-trips through the public schema
        assert res.text.strip()
        fell_back += res.guard.fell_back
        kinds[res.intent.kind] += 1
        n += 1
    services.executor.shutdown()
    shipping = n - kinds["other"]
    print(f"\n{order_id}: {n} real messages, shipping-related {shipping / n:.1%}, kinds {dict(kinds)}, "
          f"guard fallbacks {fell_back}")
    assert n == 572 and fell_back == 0 and shipping / n >= 0.95
