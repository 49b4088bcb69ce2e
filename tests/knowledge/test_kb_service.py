"""Writes go to SQL first, then to Chroma; `check` finds drift and `reindex` repairs it."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from core.errors import Conflict, InvalidInput
from knowledge.errors import IndexUnavailable
from knowledge.importer import ImportResult
from knowledge.service import KnowledgeService
from knowledge.store import MAX_TEXT, KnowledgeStore
from tests.knowledge.conftest import CST, SHOP


def test_demo_kb_is_in_sync_after_import(service: KnowledgeService, demo_kb: ImportResult) -> None:
    report = service.check()
    assert report["ok"], report
    shop = report["shops"][SHOP]
    assert shop["sql_docs"] == len(demo_kb.created) == 18
    assert shop["index_chunks"] == 19  # returns.md is long enough for two chunks


@pytest.mark.usefixtures("demo_kb")
def test_check_finds_a_chunk_deleted_in_chroma_and_reindex_repairs_it(service: KnowledgeService) -> None:
    col = service.index.collection_for(SHOP)
    col.delete(ids=[f"{SHOP}:returns:1:1"])                     # lost chunk
    col.delete(ids=[f"{SHOP}:tone:1:0"])                        # lost document
    col.upsert(ids=[f"{SHOP}:ghost:4:0"], embeddings=np.ones((1, 384), dtype=np.float32),
               documents=["旧规则"], metadatas=[{"shop": SHOP, "doc_id": "ghost", "kind": "policy",
                                                 "revision": 4, "chunk": 0, "title": "旧"}])  # orphan
    col.upsert(ids=[f"{SHOP}:unpaid:7:0"], embeddings=np.ones((1, 384), dtype=np.float32),
               documents=["旧版本"], metadatas=[{"shop": SHOP, "doc_id": "unpaid", "kind": "policy",
                                                  "revision": 7, "chunk": 0, "title": "未付款订单"}])  # stale
    service.index.collection_for("gone-shop").upsert(ids=["gone-shop:p:1:0"], embeddings=np.ones((1, 384), dtype=np.float32),
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
    service.index.collection_for(SHOP).delete(ids=[f"{SHOP}:tone:1:0"])
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
    tomb, changed = service.delete(SHOP, "p")
    assert changed and tomb.deleted and service.index.count(SHOP) == 0
    assert service.delete(SHOP, "p") == (tomb, False)  # deleting twice changes nothing
    doc, changed = service.restore(SHOP, "p", 1)
    assert changed and doc.revision == 4 and doc.text == "48小时内发货。"
    assert service.index.doc_revisions(SHOP) == {"p": 4}
    assert service.restore(SHOP, "p", 4) == (doc, False)  # restoring the current content: no new revision
    assert service.check()["ok"]


# -- the curation rules (the API's routes only translate HTTP into these) ---------------------------

def test_create_refuses_reserved_and_existing_ids(service: KnowledgeService) -> None:
    for reserved in ("search", "Preview"):
        with pytest.raises(InvalidInput) as exc:
            service.create(SHOP, reserved, kind="policy", title="T", text="x")
        assert exc.value.field == "id"
    doc = service.create(SHOP, "gift", kind="policy", title="赠品", text="满99元送小礼品。", author="k1")
    assert (doc.revision, doc.author) == (1, "k1") and service.index.doc_revisions(SHOP) == {"gift": 1}
    with pytest.raises(Conflict) as exc:
        service.create(SHOP, "gift", kind="policy", title="赠品", text="别的")
    assert exc.value.field == "id" and "edit it" in exc.value.message
    service.delete(SHOP, "gift")
    with pytest.raises(Conflict) as exc:
        service.create(SHOP, "gift", kind="policy", title="赠品", text="别的")
    assert "restore it" in exc.value.message


def test_edit_keeps_the_kind_and_refuses_stale_or_deleted_bases(service: KnowledgeService) -> None:
    service.create(SHOP, "n", kind="notice", title="积压", text="延迟1-2天")
    doc, changed = service.edit(SHOP, "n", title="积压", text="延迟2-3天", base_revision=1)
    assert changed and (doc.kind, doc.revision) == ("notice", 2)
    with pytest.raises(Conflict) as exc:
        service.edit(SHOP, "n", title="积压", text="延迟3天", base_revision=1)  # someone saved revision 2
    assert exc.value.field == "base_revision"
    assert service.store.get(SHOP, "n").revision == 2
    assert service.edit(SHOP, "n", title="积压", text="延迟2-3天") == (doc, False)
    service.delete(SHOP, "n")
    with pytest.raises(Conflict) as exc:
        service.edit(SHOP, "n", title="积压", text="延迟")
    assert exc.value.field == "id"


@pytest.mark.parametrize("kind,window,field", [
    ("policy", {"valid_from": datetime(2026, 11, 11, tzinfo=CST)}, "valid_from"),   # windows are for notices
    ("style", {"valid_to": datetime(2026, 11, 11, tzinfo=CST)}, "valid_to"),
    ("notice", {"valid_from": datetime(2026, 11, 11)}, "valid_from"),              # no UTC offset
    ("notice", {"valid_from": datetime(2026, 11, 11, tzinfo=CST),
                "valid_to": datetime(2026, 11, 11, tzinfo=CST)}, "valid_to"),        # an empty window
])
def test_one_window_rule_for_every_write_and_for_previews(service: KnowledgeService, kind: str,
                                                          window: dict, field: str) -> None:
    calls = [lambda: service.create(SHOP, "x", kind=kind, title="T", text="t", **window),
             lambda: service.upsert(SHOP, "x", kind=kind, title="T", text="t", **window),
             lambda: service.store.unsaved(SHOP, "x", kind=kind, title="T", text="t", **window)]
    for call in calls:
        with pytest.raises(InvalidInput) as exc:
            call()
        assert exc.value.field == field
    assert service.store.list(SHOP) == []


def test_one_text_limit(service: KnowledgeService) -> None:
    service.create(SHOP, "long", kind="policy", title="T", text="字" * MAX_TEXT)
    with pytest.raises(InvalidInput) as exc:
        service.create(SHOP, "longer", kind="policy", title="T", text="字" * (MAX_TEXT + 1))
    assert exc.value.field == "text"
    with pytest.raises(InvalidInput) as exc:
        service.create(SHOP, "ctl", kind="policy", title="T", text="a\x00b")
    assert exc.value.field == "text"

