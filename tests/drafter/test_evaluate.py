"""``replydesk eval`` caches shops by content within a run, and keeps every scenario isolated otherwise."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from core.db import make_engine
from core.tables import knowledge_revisions, shops
from drafter.evaluate import run_eval
from knowledge.embeddings import E5Embedder

SHOP = {"settings": {"timezone": "Asia/Shanghai", "ship_within_hours": 48, "daily_cutoff": "16:00"},
        "policies": [{"id": "ship-time", "title": "发货时效", "text": "现货商品付款后48小时内发货，16:00前付款当天发出。"},
                     {"id": "carriers", "title": "快递说明", "text": "默认使用中通快递发货，满99元可改发顺丰。"}]}
WAITING = {"order_id": "T1", "status": "WAIT_SELLER_SEND_GOODS", "paid_at": "2026-11-04T09:00:00+08:00",
           "promised_ship_by": "2026-11-06T09:00:00+08:00",
           "items": [{"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock"}]}
SHIPPED = {"order_id": "T2", "status": "WAIT_BUYER_CONFIRM_GOODS", "paid_at": "2026-11-04T09:00:00+08:00",
           "shipments": [{"carrier": "中通快递", "tracking_no": "78812345678901",
                          "shipped_at": "2026-11-04T15:00:00+08:00", "events": []}]}


class CountingEmbedder(E5Embedder):
    """The real model, counting the passages it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.passages = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages += len(texts)
        return super().embed_passages(texts)


def scenario(sid: str, now: str, order: dict | None, shop: dict = SHOP, **kw: object) -> dict:
    return {"id": sid, "now": now, "shop": copy.deepcopy(shop), "order": order, "message": "亲，怎么还不发货？",
            **kw}


def test_one_shop_is_written_and_embedded_once_and_each_scenario_keeps_its_clock_and_order(tmp_path: Path) -> None:
    noticed = copy.deepcopy(SHOP)
    noticed["notices"] = [{"id": "n1", "text": "双11仓库积压，现货订单延迟1-2天发出。",
                           "valid_from": "2026-11-11T00:00:00+08:00", "valid_to": "2026-11-18T23:59:59+08:00"}]
    scenarios = [
        scenario("a", "2026-11-04T11:00:00+08:00", WAITING),                    # paid before the cutoff: today
        scenario("b", "2026-11-07T11:00:00+08:00", WAITING),                    # the same order, overdue by now
        scenario("c", "2026-11-05T10:00:00+08:00", SHIPPED),                    # another order
        scenario("d", "2026-11-05T10:00:00+08:00", None, order_error="timeout"),  # no facts at all
        scenario("e", "2026-11-12T10:00:00+08:00", WAITING, shop=noticed),      # another shop's content
    ]
    # The same shop content with its keys in another order is the same shop.
    scenarios[1]["shop"] = {k: scenarios[1]["shop"][k] for k in reversed(list(scenarios[1]["shop"]))}
    embedder = CountingEmbedder()
    lines: list[dict] = []
    summary = run_eval(scenarios, lines.append, data_dir=tmp_path, embedder=embedder, score=False)
    assert summary.errors == [] and summary.drafted == 5

    engine = make_engine(f"sqlite:///{tmp_path / 'eval.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(shops)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(knowledge_revisions)).scalar() == 2 + 3
    engine.dispose()
    assert embedder.passages == 2 + 3  # each shop's documents embedded once, not once per scenario

    by_id = {line["id"]: line for line in lines}
    assert [(c["kind"], c["value"]) for c in by_id["a"]["commitments"]] == [("dispatch_on", "2026-11-04")]
    assert by_id["a"]["actions"] == []
    assert by_id["b"]["commitments"] == [] and [a["reason"] for a in by_id["b"]["actions"]] == ["overdue 2 day(s)"]
    assert "78812345678901" in by_id["c"]["text"] and "78812345678901" not in by_id["a"]["text"]
    assert "78812345678901" not in by_id["d"]["text"]
    assert any(c["kind"] == "notice" and c["id"] == "n1" for c in by_id["e"]["citations"])
    assert not any(c.get("id") == "n1" for line in lines[:4] for c in line["citations"])


def test_a_shop_that_fails_to_load_is_an_error_of_each_of_its_scenarios(tmp_path: Path) -> None:
    bad = copy.deepcopy(SHOP)
    bad["policies"].append({"id": "bad id!", "text": "x"})
    scenarios = [scenario("x", "2026-11-04T11:00:00+08:00", WAITING, shop=bad),
                 scenario("y", "2026-11-04T11:00:00+08:00", WAITING, shop=bad),
                 scenario("z", "2026-11-04T11:00:00+08:00", WAITING)]
    lines: list[dict] = []
    summary = run_eval(scenarios, lines.append, data_dir=tmp_path, retrieval=False, score=False)
    assert [e["id"] for e in summary.errors] == ["x", "y"] and [line["id"] for line in lines] == ["z"]
