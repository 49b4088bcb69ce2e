"""Hybrid retrieval of a shop's policies and notices: e5 vectors (Chroma) + BM25 (jieba), fused by RRF.

What may be returned is decided by SQL, not by the index: each worker keeps, per shop, the
current documents read from ``KnowledgeStore.list`` together with a BM25 index over their
chunks, and rebuilds both when the shop's ``knowledge_counter`` moved (one cheap SQL read per
query), so every worker sees a write at its next query. Vector hits are kept only when they
match a current revision; deleted documents and notices outside their validity window at
``now`` never come back, even if Chroma lags behind SQL.

Reciprocal rank fusion is used because the two scores live on unrelated scales (e5 cosines are
compressed into 0.8-0.92; BM25 is unbounded): ranks combine, raw scores don't.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel

from knowledge.chunking import chunk_doc
from knowledge.embeddings import Embedder
from knowledge.errors import IndexUnavailable
from knowledge.index import VectorHit, VectorIndex
from knowledge.lexical import LexicalDoc, LexicalIndex
from knowledge.store import KnowledgeDoc, KnowledgeStore

log = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 20
# Documents the first query of a shop may re-embed to repair the index (see ``_ensure_indexed``).
REPAIR_LIMIT = 32


class Passage(BaseModel):
    """One retrieved chunk of a knowledge document, with how each retriever ranked it."""

    kind: str
    id: str
    revision: int
    title: str
    text: str
    chunk: int
    score: float
    vector_score: float | None = None
    bm25_score: float | None = None
    vector_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class _ShopState:
    counter: int
    docs: dict[str, KnowledgeDoc]
    chunk_text: dict[str, tuple[str, int, str]]  # chunk id -> (doc id, chunk number, text)
    lexical: LexicalIndex


@dataclass
class _Fused:
    score: float = 0.0
    vector_score: float | None = None
    bm25_score: float | None = None
    vector_rank: int | None = None
    bm25_rank: int | None = None


class Retriever:
    def __init__(self, store: KnowledgeStore, index: VectorIndex, embedder: Embedder, *,
                 candidates: int = CANDIDATES, rrf_k: int = RRF_K, repair_limit: int = REPAIR_LIMIT) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.repair_limit = repair_limit
        self._states: dict[str, _ShopState] = {}
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    # -- per-shop state ---------------------------------------------------------------------
    def _state(self, shop_id: str) -> _ShopState:
        counter = self.store.counter(shop_id)
        state = self._states.get(shop_id)
        if state is not None and state.counter == counter:
            return state
        with self._lock:
            state = self._states.get(shop_id)
            if state is not None and state.counter == counter:
                return state
            # Counter first, then the documents: a write in between only causes one more rebuild.
            docs = {d.id: d for d in self._documents(shop_id)}
            chunks = [c for d in docs.values() for c in chunk_doc(d)]
            lexical = LexicalIndex.build(
                LexicalDoc(c.id, c.doc_id, c.search_text) for c in chunks)
            state = _ShopState(counter, docs, {c.id: (c.doc_id, c.n, c.text) for c in chunks}, lexical)
            self._states[shop_id] = state
            return state

    def _documents(self, shop_id: str) -> list[KnowledgeDoc]:
        """What may be retrieved: the shop's current documents in SQL."""
        return self.store.list(shop_id)

    def with_unsaved(self, doc: KnowledgeDoc) -> Retriever:
        """This retriever as if ``doc`` were saved (for a preview): it is ranked among the saved items,
        and the saved revision of the same id is left out. Nothing is written to SQL or Chroma."""
        return _WithUnsaved(self, doc)

    def _ensure_indexed(self, shop_id: str) -> None:
        # Once per shop and process: repairs an index that was dropped (model change) or lost
        # (a fresh data dir) without waiting for someone to run ``kb reindex``. Only small repairs
        # happen here, in a request: re-embedding a large shop takes minutes and is a job for
        # ``kb reindex``; until then BM25 still finds what the vectors miss.
        if shop_id in self._verified:
            return
        self._verified.add(shop_id)
        try:
            docs = self.store.list(shop_id)
            report = self.index.drift(shop_id, docs)
            if report.ok:
                return
            todo = len(report.docs_to_reindex()) + len(report.orphans)
            if todo > self.repair_limit:
                log.warning("index for shop %s differs from SQL in %d documents: run `replydesk kb reindex`",
                            shop_id, todo)
                return
            self.index.sync_shop(shop_id, docs, report)
            log.warning("index for shop %s was out of sync with SQL, repaired: %s", shop_id, report.as_dict())
        except IndexUnavailable as e:
            log.warning("cannot verify the index for shop %s: %s", shop_id, e)

    # -- retrieval --------------------------------------------------------------------------
    def retrieve(self, shop_id: str, query: str, k: int = 4, now: datetime | None = None,
                 kinds: Sequence[str] | None = None) -> list[Passage]:
        """The ``k`` best passages (at most one per document) for ``query`` in one shop."""
        if not query.strip() or k <= 0:
            return []
        now = now or self.store.clock.now()
        state = self._state(shop_id)
        kind_set = set(kinds) if kinds else None

        def allowed(doc_id: str) -> bool:
            doc = state.docs.get(doc_id)
            return (doc is not None and doc.active_at(now)
                    and (kind_set is None or doc.kind in kind_set))

        lexical_hits = state.lexical.search(query, self.candidates, allow=allowed)
        vector_hits = self._vector_hits(shop_id, query, state, kinds, allowed)

        fused: dict[str, _Fused] = {}
        for rank, (cid, sim) in enumerate(vector_hits, start=1):
            f = fused.setdefault(cid, _Fused())
            f.score += 1.0 / (self.rrf_k + rank)
            f.vector_rank, f.vector_score = rank, sim
        for rank, hit in enumerate(lexical_hits, start=1):
            f = fused.setdefault(hit.chunk_id, _Fused())
            f.score += 1.0 / (self.rrf_k + rank)
            f.bm25_rank, f.bm25_score = rank, hit.score

        passages: list[Passage] = []
        seen: set[str] = set()
        for cid, f in sorted(fused.items(), key=lambda kv: (-kv[1].score, kv[0])):
            doc_id, n, text = state.chunk_text[cid]
            if doc_id in seen:  # the composer cites documents: one passage each leaves room for others
                continue
            seen.add(doc_id)
            doc = state.docs[doc_id]
            passages.append(Passage(
                kind=doc.kind, id=doc.id, revision=doc.revision, title=doc.title, text=text, chunk=n,
                score=f.score, vector_score=f.vector_score, bm25_score=f.bm25_score,
                vector_rank=f.vector_rank, bm25_rank=f.bm25_rank))
            if len(passages) >= k:
                break
        return passages

    def _vector_hits(self, shop_id: str, query: str, state: _ShopState, kinds: Sequence[str] | None,
                     allowed: Callable[[str], bool]) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of current, allowed chunks, nearest first."""
        self._ensure_indexed(shop_id)
        try:
            hits = self._nearest(shop_id, self.embedder.embed_query(query), kinds)
        except IndexUnavailable as e:
            # Still answer from BM25 over SQL: a draft without vector recall beats no draft.
            log.warning("vector index unavailable, lexical retrieval only: %s", e)
            return []
        out = []
        for h in hits:
            # A chunk of another revision is stale (Chroma lags a write): SQL is the truth.
            if h.chunk_id in state.chunk_text and allowed(h.doc_id):
                out.append((h.chunk_id, h.similarity))
        return out

    def _nearest(self, shop_id: str, query_embedding: np.ndarray, kinds: Sequence[str] | None) -> list[VectorHit]:
        return self.index.query(shop_id, query_embedding, self.candidates, kinds)


class _WithUnsaved(Retriever):
    """A throwaway retriever for one preview: ``doc``'s chunks are embedded here and ranked with the index's."""

    def __init__(self, base: Retriever, doc: KnowledgeDoc) -> None:
        super().__init__(base.store, base.index, base.embedder, candidates=base.candidates, rrf_k=base.rrf_k,
                         repair_limit=base.repair_limit)
        self.view = base.store.with_unsaved(doc)
        self.doc = doc
        self.chunks = chunk_doc(doc)
        self.vectors = base.embedder.embed_passages([c.search_text for c in self.chunks])

    def _documents(self, shop_id: str) -> list[KnowledgeDoc]:
        return self.view.list(shop_id)

    def _ensure_indexed(self, shop_id: str) -> None:
        return  # repairing the shared index is the saved retriever's business, not a preview's

    def _nearest(self, shop_id: str, query_embedding: np.ndarray, kinds: Sequence[str] | None) -> list[VectorHit]:
        n = self.candidates
        if shop_id != self.doc.shop_id:
            return super()._nearest(shop_id, query_embedding, kinds)
        # Twice as many from the index, since the saved revision of ``doc`` may take some places.
        hits = [h for h in self.index.query(shop_id, query_embedding, 2 * n, kinds) if h.doc_id != self.doc.id]
        if not kinds or self.doc.kind in kinds:
            # e5 vectors are L2-normalised: cosine similarity is the dot product (Chroma: distance = 1 - cos).
            sims = self.vectors @ np.asarray(query_embedding, dtype=np.float32).reshape(-1)
            hits += [VectorHit(c.id, c.doc_id, c.kind, c.revision, c.n, c.title, c.text, 1.0 - float(s))
                     for c, s in zip(self.chunks, sims, strict=True)]
        return sorted(hits, key=lambda h: h.distance)[:n]
