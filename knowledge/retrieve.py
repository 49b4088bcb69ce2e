"""Hybrid retrieval of a shop's policies and notices: e5 vectors (Chroma) + BM25 (jieba), fused by RRF.

What may be returned is decided by SQL, not by the index, and a worker keeps no per-shop state for
it: the lexical half is a query to the database's full-text engine (``knowledge.fulltext``: the
current chunks of live items, with their validity windows), and a vector hit is kept only when
its chunk is one of those current rows and in force at ``now``. So every worker sees a write at its
next query; deleted documents and notices outside their window never come back, even if Chroma
lags behind SQL.

Reciprocal rank fusion is used because the two scores live on unrelated scales (e5 cosines are
compressed into 0.8-0.92; BM25 is unbounded): ranks combine, raw scores don't.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from knowledge import fulltext
from knowledge.chunking import chunk_doc
from knowledge.embeddings import Embedder
from knowledge.errors import IndexUnavailable
from knowledge.fulltext import ChunkRow
from knowledge.index import VectorHit, VectorIndex
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
        # Shops whose vector index this process has checked once (not search state: see _ensure_indexed).
        self._verified: set[str] = set()

    def with_unsaved(self, doc: KnowledgeDoc) -> Retriever:
        """This retriever as if ``doc`` were saved (for a preview): it is ranked among the saved items,
        and the saved revision of the same id is left out. Nothing is written to SQL or Chroma."""
        return _WithUnsaved(self, doc)

    def _ensure_indexed(self, shop_id: str) -> None:
        # Once per shop and process, inside the shop's first query, so it must cost next to nothing:
        # it looks only for a shop whose collection is missing (a fresh data dir, or dropped because
        # it came from another embedding model) although SQL holds its documents, and re-embeds it
        # if it is small. Re-embedding a large shop takes minutes and is a job (``kb reindex``);
        # until then BM25 still finds what the vectors miss. Finer drift (a missed write) is
        # ``kb check``'s to find and a reindex's to repair; SQL decides what is returned meanwhile.
        if shop_id in self._verified:
            return
        self._verified.add(shop_id)
        try:
            if self.index.exists(shop_id):
                return
            docs = self.store.list(shop_id)
            if not docs:
                return
            if len(docs) > self.repair_limit:
                log.warning("shop %s has no vector index for its %d documents: run `replydesk kb reindex`",
                            shop_id, len(docs))
                return
            report = self.index.sync_shop(shop_id, docs)
            log.warning("index for shop %s was missing, rebuilt: %s", shop_id, report.as_dict())
        except IndexUnavailable as e:
            log.warning("cannot verify the index for shop %s: %s", shop_id, e)

    # -- retrieval --------------------------------------------------------------------------
    def retrieve(self, shop_id: str, query: str, k: int = 4, now: datetime | None = None,
                 kinds: Sequence[str] | None = None) -> list[Passage]:
        """The ``k`` best passages (at most one per document) for ``query`` in one shop."""
        if not query.strip() or k <= 0:
            return []
        now = now or self.store.clock.now()
        kind_set = set(kinds) if kinds else None
        vector_raw = self._vector_hits(shop_id, query, kinds)  # before SQL: no connection held meanwhile
        with self.store.engine.connect() as conn:
            lexical_hits = self._lexical(conn, shop_id, query, now, kinds)
            rows = {r.chunk_id: r for r, _ in lexical_hits}
            unknown = [cid for cid, _ in vector_raw if cid not in rows]
            rows.update(self._rows(conn, shop_id, unknown))
        # A chunk of another revision is stale (Chroma lags a write), a notice may be out of its window:
        # SQL is the truth.
        vector_hits = [(cid, sim) for cid, sim in vector_raw
                       if cid in rows and rows[cid].active_at(now) and (kind_set is None or rows[cid].kind in kind_set)]

        fused: dict[str, _Fused] = {}
        for rank, (cid, sim) in enumerate(vector_hits, start=1):
            f = fused.setdefault(cid, _Fused())
            f.score += 1.0 / (self.rrf_k + rank)
            f.vector_rank, f.vector_score = rank, sim
        for rank, (row, score) in enumerate(lexical_hits, start=1):
            f = fused.setdefault(row.chunk_id, _Fused())
            f.score += 1.0 / (self.rrf_k + rank)
            f.bm25_rank, f.bm25_score = rank, score

        passages: list[Passage] = []
        seen: set[str] = set()
        for cid, f in sorted(fused.items(), key=lambda kv: (-kv[1].score, kv[0])):
            row = rows[cid]
            if row.item_id in seen:  # the composer cites documents: one passage each leaves room for others
                continue
            seen.add(row.item_id)
            passages.append(Passage(
                kind=row.kind, id=row.item_id, revision=row.revision, title=row.title, text=row.text, chunk=row.n,
                score=f.score, vector_score=f.vector_score, bm25_score=f.bm25_score,
                vector_rank=f.vector_rank, bm25_rank=f.bm25_rank))
            if len(passages) >= k:
                break
        return passages

    def _lexical(self, conn: Connection, shop_id: str, query: str, now: datetime,
                 kinds: Sequence[str] | None) -> list[tuple[ChunkRow, float]]:
        return fulltext.search(conn, shop_id, query, self.candidates, now=now, kinds=kinds)

    def _rows(self, conn: Connection, shop_id: str, chunk_ids: Sequence[str]) -> dict[str, ChunkRow]:
        return fulltext.chunks_by_id(conn, shop_id, chunk_ids)

    def _vector_hits(self, shop_id: str, query: str, kinds: Sequence[str] | None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), nearest first; not yet checked against SQL."""
        self._ensure_indexed(shop_id)
        try:
            hits = self._nearest(shop_id, self.embedder.embed_query(query), kinds)
        except IndexUnavailable as e:
            # Still answer from BM25 over SQL: a draft without vector recall beats no draft.
            log.warning("vector index unavailable, lexical retrieval only: %s", e)
            return []
        return [(h.chunk_id, h.similarity) for h in hits]

    def _nearest(self, shop_id: str, query_embedding: np.ndarray, kinds: Sequence[str] | None) -> list[VectorHit]:
        return self.index.query(shop_id, query_embedding, self.candidates, kinds)


class _WithUnsaved(Retriever):
    """A throwaway retriever for one preview: ``doc``'s chunks are embedded, tokenised and ranked here
    with the saved ones (BM25 over the shop's stored tokens, the same formula as the database's)."""

    def __init__(self, base: Retriever, doc: KnowledgeDoc) -> None:
        super().__init__(base.store, base.index, base.embedder, candidates=base.candidates, rrf_k=base.rrf_k,
                         repair_limit=base.repair_limit)
        self.doc = doc
        self.chunks = chunk_doc(doc)
        self.vectors = base.embedder.embed_passages([c.search_text for c in self.chunks])
        self.unsaved_rows = {c.id: ChunkRow(c.id, c.doc_id, c.revision, c.n, c.kind, c.title, c.text,
                                            c.valid_from, c.valid_to) for c in self.chunks}

    def _ensure_indexed(self, shop_id: str) -> None:
        return  # repairing the shared index is the saved retriever's business, not a preview's

    def _lexical(self, conn: Connection, shop_id: str, query: str, now: datetime,
                 kinds: Sequence[str] | None) -> list[tuple[ChunkRow, float]]:
        if shop_id != self.doc.shop_id:
            return super()._lexical(conn, shop_id, query, now, kinds)
        return fulltext.search_with(conn, shop_id, query, self.candidates, now=now, kinds=kinds,
                                    replace_item=self.doc.id, extra=self.chunks)

    def _rows(self, conn: Connection, shop_id: str, chunk_ids: Sequence[str]) -> dict[str, ChunkRow]:
        out = {cid: self.unsaved_rows[cid] for cid in chunk_ids if cid in self.unsaved_rows}
        saved = super()._rows(conn, shop_id, [cid for cid in chunk_ids if cid not in out])
        out.update({cid: r for cid, r in saved.items() if r.item_id != self.doc.id or shop_id != self.doc.shop_id})
        return out

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
