"""Writes go to SQL first, then to Chroma; `check` finds drift and `reindex` repairs it."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.errors import IndexUnavailable
from knowledge.importer import ImportResult
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import SHOP


def test_demo_kb_is_in_sync_after_import(service: KnowledgeService, demo_kb: ImportResult) -> None:
    report = service.check()
    assert report["ok"], report
    shop = report["shops"][SHOP]
    assert shop["sql_docs"] == len(demo_kb.created) == 18
    assert shop["index_chunks"] == 19  # returns.md is long enough for two chunks


@pytest.mark.usefixtures("demo_kb")
def test_check_finds_a_chunk_deleted_in_chroma_and_reindex_repairs_it(service: KnowledgeService) -> None:
    col = service.index.collection
    col.delete(ids=[f"{SHOP}:returns:1:1"])                     # lost chunk
    col.delete(ids=[f"{SHOP}:tone:1:0"])                        # lost document
    col.upsert(ids=[f"{SHOP}:ghost:4:0"], embeddings=np.ones((1, 384), dtype=np.float32),
               documents=["旧规则"], metadatas=[{"shop": SHOP, "doc_id": "ghost", "kind": "policy",
                                                 "revision": 4, "chunk": 0, "title": "旧"}])  # orphan
    col.upsert(ids=[f"{SHOP}:unpaid:7:0"], embeddings=np.ones((1, 384), dtype=np.float32),
               documents=["旧版本"], metadatas=[{"shop": SHOP, "doc_id": "unpaid", "kind": "policy",
                                                  "revision": 7, "chunk": 0, "title": "未付款订单"}])  # stale
    col.upsert(ids=["gone-shop:p:1:0"], embeddings=np.ones((1, 384), dtype=np.float32),
               documents=["x"], metadatas=[{"shop": "gone-shop", "doc_id": "p", "kind": "policy",
                                            "revision": 1, "chunk": 0, "title": "x"}])

    report = service.check()
    shop = report["shops"][SHOP]
    assert not report["ok"]
    assert shop["incomplete"] == ["returns"]
    assert shop["missing"] == ["tone"]
    assert shop["orphans"] == ["ghost"]
    assert shop["stale"] == [{"id": "unpaid", "sql_revision": 1, "index_revisions": [1, 7]}]
    assert report["orphan_shops"] == ["gone-shop"]

    assert service.reindex() == 19
    assert service.check()["ok"]


@pytest.mark.usefixtures("demo_kb")
def test_reindex_of_one_shop_leaves_the_others(service: KnowledgeService, store: KnowledgeStore) -> None:
    from knowledge.shops import ShopStore

    ShopStore(store.engine, store.clock).ensure("other")
    service.upsert("other", "p", kind="policy", title="发货", text="72小时内发货。")
    service.index.collection.delete(ids=[f"{SHOP}:tone:1:0"])
    progress: list[tuple[int, int]] = []
    assert service.reindex(SHOP, progress=lambda done, total: progress.append((done, total))) == 19
    assert progress[-1] == (19, 19)
    assert service.index.count("other") == 1 and service.check()["ok"]


def test_sql_stands_when_the_index_write_fails(service: KnowledgeService, store: KnowledgeStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*_a, **_k):
        raise IndexUnavailable("chroma is down")

    monkeypatch.setattr(service.index, "upsert_doc", down)
    doc, changed = service.upsert(SHOP, "ship-time", kind="policy", title="发货时效", text="48小时内发货。")
    assert changed and store.get(SHOP, "ship-time").revision == 1
    monkeypatch.undo()
    assert service.check()["shops"][SHOP]["missing"] == ["ship-time"]
    service.reindex(SHOP)
    assert service.check()["ok"]


def test_delete_and_restore_follow_sql(service: KnowledgeService) -> None:
    service.upsert(SHOP, "p", kind="policy", title="发货", text="48小时内发货。")
    service.upsert(SHOP, "p", kind="policy", title="发货", text="72小时内发货。")
    service.delete(SHOP, "p")
    assert service.index.count(SHOP) == 0
    doc = service.restore(SHOP, "p", 1)
    assert doc.revision == 4 and doc.text == "48小时内发货。"
    assert service.index.doc_revisions(SHOP) == {"p": 4}
    assert service.check()["ok"]
