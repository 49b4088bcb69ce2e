from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.chunking import chunk_doc
from knowledge.embeddings import E5Embedder
from knowledge.errors import IndexUnavailable
from knowledge.index import VectorIndex, parse_chroma_url
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeDoc, KnowledgeStore
from tests.knowledge.conftest import SHOP


def _doc(shop: str, doc_id: str, text: str, revision: int = 1, kind: str = "policy") -> KnowledgeDoc:
    return KnowledgeDoc(shop_id=shop, id=doc_id, kind=kind, revision=revision, title=doc_id, text=text)


class OtherModel(E5Embedder):
    """Same vectors, another model id: what an upgrade of the embedding model looks like to the index."""

    def __init__(self) -> None:
        super().__init__()
        self.model_id = "example/another-model@2"


def test_queries_are_scoped_to_one_shop_and_carry_metadata(index: VectorIndex, embedder: E5Embedder) -> None:
    index.upsert_doc(_doc("a", "ship-time", "现货商品付款后48小时内发货。"))
    index.upsert_doc(_doc("b", "ship-time", "现货商品付款后72小时内发货。"))
    index.upsert_doc(_doc("a", "n1", "双11仓库积压，发货延迟1-2天。", kind="notice"))
    hits = index.query("a", embedder.embed_query("什么时候发货"), n=10)
    assert {h.chunk_id for h in hits} == {"a:ship-time:1:0", "a:n1:1:0"}
    assert all(0.0 < h.similarity <= 1.0 for h in hits)
    notices = index.query("a", embedder.embed_query("发货"), n=10, kinds=["notice"])
    assert [h.doc_id for h in notices] == ["n1"]
    assert index.count() == 3 and index.count("a") == 2
    assert index.doc_revisions("b") == {"ship-time": 1}


def test_a_new_revision_replaces_the_old_chunks(index: VectorIndex) -> None:
    long_text = "。".join(f"第{i}条：付款后按顺序发货，请耐心等待" for i in range(30)) + "。"
    index.upsert_doc(_doc(SHOP, "p", long_text))
    assert index.count(SHOP) == len(chunk_doc(_doc(SHOP, "p", long_text))) > 1
    index.upsert_doc(_doc(SHOP, "p", "改为72小时内发货。", revision=2))
    assert index.doc_revisions(SHOP) == {"p": 2} and index.count(SHOP) == 1
    index.upsert_doc(KnowledgeDoc(SHOP, "p", "policy", 3, "p", "x", deleted=True))
    assert index.count(SHOP) == 0


def test_model_change_drops_the_collection_and_reindex_restores_it(
        tmp_path: Path, store: KnowledgeStore, service: KnowledgeService, embedder: E5Embedder) -> None:
    service.upsert(SHOP, "ship-time", kind="policy", title="发货时效", text="付款后48小时内发货。")
    assert service.index.count() == 1 and not service.index.needs_reindex

    upgraded = _same_place(service.index, OtherModel())
    assert upgraded.open().needs_reindex  # seen at start-up in the collections' metadata
    assert upgraded.count(SHOP) == 0  # vectors of another model are not comparable: gone when opened
    svc2 = KnowledgeService(store, upgraded)
    assert not svc2.check()["ok"]
    assert svc2.reindex() == 1
    assert not upgraded.needs_reindex and svc2.check()["ok"]
    assert upgraded.collection_for(SHOP).metadata["embedding_model"] == "example/another-model@2"
    # Reopening with the same model keeps the vectors.
    again = _same_place(service.index, OtherModel()).open()
    assert not again.needs_reindex and again.count() == 1


def test_collection_name_and_url_are_validated(embedder: E5Embedder) -> None:
    with pytest.raises(ValueError):
        VectorIndex(embedder, path="x", collection="a b")
    with pytest.raises(ValueError):
        VectorIndex(embedder, path="x", url="http://h:1")
    assert parse_chroma_url("http://chroma:8001") == ("chroma", 8001, False)
    assert parse_chroma_url("https://chroma.example.com") == ("chroma.example.com", 443, True)
    assert parse_chroma_url("localhost") == ("localhost", 8000, False)
    with pytest.raises(ValueError):
        parse_chroma_url("ftp://x")


def test_unreachable_server_is_index_unavailable(embedder: E5Embedder) -> None:
    index = VectorIndex(embedder, url="http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(IndexUnavailable):
        index.count()


def test_precomputed_vectors_and_chroma_side_embedding_use_our_function(
        index: VectorIndex, embedder: E5Embedder) -> None:
    chunks = chunk_doc(_doc(SHOP, "p", "默认使用中通快递发货。"))
    with pytest.raises(ValueError):
        index.add_chunks_with_embeddings(chunks, np.zeros((2, 384), dtype=np.float32))
    index.add_chunks_with_embeddings(chunks, embedder.embed_passages([c.search_text for c in chunks]))
    # Even Chroma's text-based query path goes through our embedding function, never its default one.
    res = index.collection_for(SHOP).query(query_texts=["发什么快递"], n_results=1)
    assert res["ids"] == [["demo:p:1:0"]]


def test_each_shop_has_its_own_collection_searched_without_a_filter(
        index: VectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)

    def add(shop: str, n: int) -> np.ndarray:
        vecs = rng.normal(size=(n, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        chunks = [c for i in range(n) for c in chunk_doc(_doc(shop, f"d{i}", f"规则{i}。"))]
        index.add_chunks_with_embeddings(chunks, vecs)
        return vecs

    big = add("big", 120)
    small = add("small.shop_1", 3)
    wheres: list[object] = []
    real_query = type(index.collection_for("big")).query

    def spy(self, *a, **k):
        wheres.append(k.get("where"))
        return real_query(self, *a, **k)

    monkeypatch.setattr(type(index.collection_for("big")), "query", spy)
    hits = index.query("big", big[7], n=5)
    assert hits[0].doc_id == "d7" and len(hits) == 5 and all(h.chunk_id.startswith("big:") for h in hits)
    # The small shop next to a big one: its own collection, so its nearest are its own even for a big-shop vector.
    hits = index.query("small.shop_1", big[7], n=5)
    assert sorted(h.doc_id for h in hits) == ["d0", "d1", "d2"]
    assert index.query("small.shop_1", small[2], n=1)[0].chunk_id == "small.shop_1:d2:1:0"
    assert index.query("nobody", small[2], n=3) == []
    assert wheres == [None, None, None]  # no metadata filter at query time
    names = {c.name for c in index._own_collections()}
    assert {index.name_for("big"), index.name_for("small.shop_1")} <= names
    assert index.name_for("big") != index.name_for("small.shop_1")
    meta = index.collection_for("big").metadata
    assert meta["embedding_model"] == index.model_id and meta["shop"] == "big"
    assert index.shops() >= {"big", "small.shop_1"}


def test_a_shops_collection_is_rebuilt_aside_and_swapped_in_whole(index: VectorIndex) -> None:
    docs = [_doc("a", f"p{i}", f"第{i}条：付款后48小时内发货。") for i in range(5)]
    index.rebuild(docs[:2], shop_id="a")
    index.upsert_doc(_doc("b", "p", "72小时内发货。"))
    build = index.start_build("a", "job1")
    index.fill_build(build, docs[:3])  # interrupted here: three of five
    assert index.count("a") == 2  # queries still read the complete old collection
    again = index.start_build("a", "job1")  # the retried job finds its own staging collection
    embedded: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return index.embedder.embed_passages(texts)

    assert index.fill_build(again, docs, embed=embed) == 5
    assert len(embedded) == 2  # only what was missing
    index.publish_build(again)
    assert index.count("a") == 5 and index.count("b") == 1
    assert index.doc_revisions("a") == {f"p{i}": 1 for i in range(5)}
    assert not any("--build-" in c.name for c in index._own_collections())


def _same_place(index: VectorIndex, embedder: object) -> VectorIndex:
    """Another handle on the same collection (embedded path or server), as a second process would open it."""
    return VectorIndex(embedder, path=index.path, url=index.url, collection=index.collection_name)  # type: ignore[arg-type]


def test_large_shops_are_read_in_pages(index: VectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    # A single get() over ~30k chunks fails in Chroma's SQLite ("too many SQL variables"): pages avoid it.
    monkeypatch.setattr(VectorIndex, "PAGE", 2)
    for i in range(5):
        index.upsert_doc(_doc(SHOP, f"p{i}", f"第{i}条政策"))
    assert index.count(SHOP) == 5 and len(index.doc_revisions(SHOP)) == 5


def test_handles_opened_at_start_up_follow_a_rebuild_or_drop_by_another_process(
        index: VectorIndex, embedder: E5Embedder) -> None:
    index.upsert_doc(_doc("a", "old", "现货商品付款后48小时内发货。"))
    index.upsert_doc(_doc("b", "p", "72小时内发货。"))
    worker = _same_place(index, embedder).open()  # a fresh API worker: one listing, a handle per shop
    assert set(worker._collections) == {"a", "b"}
    calls: list[str] = []
    client = worker._get_client()
    real_get = client.get_collection

    def counting_get(*a: object, **k: object) -> object:
        calls.append("get_collection")
        return real_get(*a, **k)

    client.get_collection = counting_get
    q = embedder.embed_query("什么时候发货")
    assert [h.doc_id for h in worker.query("a", q)] == ["old"] and worker.exists("b")
    assert calls == []  # the first query of a shop needs no lookup of its collection
    # Another process (a reindex job) swaps a rebuilt collection in, and drops shop b's.
    build = index.start_build("a", "job2")
    index.fill_build(build, [_doc("a", "new", "预售商品按页面时间发货。")])
    index.publish_build(build)
    index.drop_shop("b")
    assert [h.doc_id for h in worker.query("a", q)] == ["new"]  # the stale handle was looked up again
    assert worker.query("b", q) == [] and not worker.exists("b")
    assert calls.count("get_collection") >= 2
