"""Hybrid retrieval: what may be returned is decided by SQL (validity, deletion, current revision)."""

from __future__ import annotations

from datetime import datetime

import pytest

from knowledge.errors import IndexUnavailable
from knowledge.index import VectorIndex
from knowledge.retrieve import Retriever
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import CST, NOW, SHOP

pytestmark = pytest.mark.usefixtures("demo_kb")


def ids(passages) -> list[str]:
    return [p.id for p in passages]


def test_passages_carry_revision_text_and_both_ranks(retriever: Retriever) -> None:
    ps = retriever.retrieve(SHOP, "预售的什么时候能发啊", k=4)
    assert len(ps) == 4 and len(set(ids(ps))) == 4  # one passage per document
    top = ps[0]
    assert (top.id, top.kind, top.revision, top.title) == ("presale", "policy", 1, "预售规则")
    assert "预售商品" in top.text and top.chunk == 0
    assert top.vector_rank and top.bm25_rank and top.vector_score and top.bm25_score
    assert [p.score for p in ps] == sorted((p.score for p in ps), reverse=True)


def test_notices_outside_their_window_are_not_returned(retriever: Retriever) -> None:
    q = "双十一发货会不会延迟"
    assert "n-1111" in ids(retriever.retrieve(SHOP, q, k=5, now=NOW))
    after = datetime(2026, 11, 19, 0, 0, 1, tzinfo=CST)
    before = datetime(2026, 11, 10, 23, 59, tzinfo=CST)
    for at in (after, before):
        assert "n-1111" not in ids(retriever.retrieve(SHOP, q, k=18, now=at))
    # The Spring Festival notice only in its own window.
    assert "n-spring" not in ids(retriever.retrieve(SHOP, "过年还发货吗", k=18, now=NOW))
    assert "n-spring" in ids(retriever.retrieve(SHOP, "过年还发货吗", k=3,
                                                now=datetime(2027, 2, 12, tzinfo=CST)))


def test_kinds_filter(retriever: Retriever) -> None:
    ps = retriever.retrieve(SHOP, "亲，怎么还不发货", k=18, kinds=("notice",))
    assert ids(ps) == ["n-1111"]  # the only notice in force at NOW


def test_deleted_documents_are_never_returned(retriever: Retriever, service: KnowledgeService,
                                              store: KnowledgeStore) -> None:
    q = "显示签收了但我没收到啊"
    assert ids(retriever.retrieve(SHOP, q, k=1)) == ["signed-missing"]
    service.delete(SHOP, "signed-missing")
    assert "signed-missing" not in ids(retriever.retrieve(SHOP, q, k=18))
    # Even when the index missed the delete (Chroma down at that moment), SQL decides.
    store.delete(SHOP, "split-shipment")
    assert service.index.doc_revisions(SHOP).get("split-shipment") == 1
    assert "split-shipment" not in ids(retriever.retrieve(SHOP, "怎么只收到一个？另一个呢", k=18))


def test_a_write_is_visible_at_the_next_query_in_every_worker(
        store: KnowledgeStore, index: VectorIndex, embedder, service: KnowledgeService) -> None:
    worker1 = Retriever(store, index, embedder)
    worker2 = Retriever(store, index, embedder)  # another process, sharing SQL and the Chroma server
    q = "可以开发票吗，要写公司抬头"
    for w in (worker1, worker2):
        assert "invoice" not in ids(w.retrieve(SHOP, q, k=3))
    service.upsert(SHOP, "invoice", kind="policy", title="发票说明",
                   text="本店可开具电子普通发票，买家在订单页申请开票并填写抬头和税号，发货后3个工作日内开出。")
    for w in (worker1, worker2):
        assert ids(w.retrieve(SHOP, q, k=3))[0] == "invoice"
    # An edit: the next query returns the new revision's text, in both workers.
    service.upsert(SHOP, "invoice", kind="policy", title="发票说明",
                   text="本店可开具电子普通发票和专用发票，买家在订单页申请开票并填写抬头和税号。")
    for w in (worker1, worker2):
        top = w.retrieve(SHOP, q, k=1)[0]
        assert (top.id, top.revision) == ("invoice", 2) and "专用发票" in top.text


def test_a_write_the_index_missed_is_still_found_lexically(
        retriever: Retriever, store: KnowledgeStore, service: KnowledgeService) -> None:
    retriever.retrieve(SHOP, "预热", k=1)
    store.upsert(SHOP, "gift-wrap", kind="policy", title="礼品包装",
                 text="礼品包装需在下单时备注，包装费5元，包装后不影响发货时效。")  # SQL only, no Chroma
    # Every demo document is a vector candidate, so one found by BM25 alone ranks lower after fusion;
    # what matters is that it is found at all.
    ps = retriever.retrieve(SHOP, "可以帮我做礼品包装吗", k=10)
    wrap = next(p for p in ps if p.id == "gift-wrap")
    assert wrap.vector_rank is None and wrap.bm25_rank == 1
    assert service.check(SHOP)["shops"][SHOP]["missing"] == ["gift-wrap"]


def test_an_unsaved_item_is_ranked_in_without_writing_anything(
        retriever: Retriever, store: KnowledgeStore, service: KnowledgeService) -> None:
    q = "可以开发票吗，要写公司抬头"
    before = (store.counter(SHOP), service.index.count(SHOP))
    new = store.unsaved(SHOP, "invoice", kind="policy", title="发票说明",
                        text="本店可开具电子普通发票，买家在订单页申请开票并填写抬头和税号，发货后3个工作日内开出。")
    top = retriever.with_unsaved(new).retrieve(SHOP, q, k=3)[0]
    assert (top.id, top.revision) == ("invoice", 0) and top.vector_rank and top.bm25_rank
    # An edit of a saved item stands in for it: one passage, the unsaved text, revision 0.
    edit = store.unsaved(SHOP, "signed-missing", kind="policy", title="签收未收到",
                         text="显示签收但没收到：请先问门卫、驿站和快递柜，开票问题也可以一并说明。")
    ps = retriever.with_unsaved(edit).retrieve(SHOP, "显示签收了但我没收到啊", k=18)
    hits = [p for p in ps if p.id == "signed-missing"]
    assert len(hits) == 1 and hits[0].revision == 0 and "门卫" in hits[0].text
    # Nothing was written: SQL, Chroma and the saved retriever are as they were.
    assert (store.counter(SHOP), service.index.count(SHOP)) == before
    assert "invoice" not in ids(retriever.retrieve(SHOP, q, k=3))
    assert store.get(SHOP, "signed-missing").revision == 1


def test_an_unsaved_notice_is_read_only_inside_its_window(store: KnowledgeStore) -> None:
    n = store.unsaved(SHOP, "n-storm", kind="notice", title="台风", text="台风影响，快递停运两天。",
                      valid_from=NOW, valid_to=datetime(2026, 11, 14, tzinfo=CST))
    view = store.with_unsaved(n)
    assert [d.id for d in view.active_notices(SHOP, NOW)] == ["n-1111", "n-storm"]
    assert [d.id for d in view.active_notices(SHOP, datetime(2026, 11, 15, tzinfo=CST))] == ["n-1111"]
    assert [d.id for d in view.active_notices("other", NOW)] == []
    assert [d.id for d in store.active_notices(SHOP, NOW)] == ["n-1111"]


def test_index_outage_degrades_to_lexical_retrieval(retriever: Retriever, monkeypatch) -> None:
    def down(*_a, **_k):
        raise IndexUnavailable("chroma is down")

    monkeypatch.setattr(retriever.index, "query", down)
    ps = retriever.retrieve(SHOP, "能换成顺丰吗？差价我补", k=3)
    assert ids(ps)[0] == "carriers" and all(p.vector_rank is None for p in ps)


def test_first_query_repairs_a_lost_index(store: KnowledgeStore, index: VectorIndex, embedder) -> None:
    index.rebuild([], shop_id=SHOP)  # e.g. a fresh Chroma directory next to an existing database
    assert index.count(SHOP) == 0
    fresh = Retriever(store, index, embedder)
    top = fresh.retrieve(SHOP, "地址填错了，还能改吗", k=1)[0]
    assert top.id == "address-change" and top.vector_rank is not None
    assert index.count(SHOP) == len(store.list(SHOP)) + 1  # returns.md has two chunks


def test_empty_query_and_unknown_shop(retriever: Retriever) -> None:
    assert retriever.retrieve(SHOP, "   ") == []
    assert retriever.retrieve("no-such-shop", "发货") == []


def test_a_large_repair_is_left_to_reindex(store: KnowledgeStore, index: VectorIndex, embedder) -> None:
    index.rebuild([], shop_id=SHOP)
    fresh = Retriever(store, index, embedder, repair_limit=5)
    top = fresh.retrieve(SHOP, "地址填错了，还能改吗", k=1)[0]
    assert top.id == "address-change" and top.vector_rank is None  # BM25 alone, no minutes-long request
    assert index.count(SHOP) == 0
