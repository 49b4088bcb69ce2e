"""The vector index: knowledge chunks and their e5 embeddings in Chroma.

The index is derived data. SQL (``knowledge.store``) is the truth and the index can be rebuilt
from it at any time, so this module never decides what a document says, only where its chunks
are. Embeddings are always computed here and handed to Chroma explicitly; Chroma's own default
embedding function downloads a model and must never run (the collection is still given our
embedding function so that nothing falls back to it).

One collection holds every shop; each chunk carries its ``shop`` in metadata and every read
filters on it. The embedding model id is kept in the collection metadata: vectors from two
models are not comparable, so opening the index with another model drops the collection and
sets ``needs_reindex``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np

from knowledge.chunking import Chunk, chunk_doc
from knowledge.embeddings import E5ChromaEmbeddingFunction, E5Embedder, Embedder
from knowledge.errors import IndexUnavailable
from knowledge.store import KnowledgeDoc

log = logging.getLogger(__name__)

DEFAULT_COLLECTION = "replydesk_knowledge"
EMBED_BATCH = 64
_COLLECTION_NAME = re.compile(r"^[a-zA-Z0-9._-]{3,512}$")
# Chroma's own metadata keys for the collection (index settings) are left alone when we compare.
_MODEL_KEY = "embedding_model"
_T = TypeVar("_T")

Progress = Callable[[int, int], None]
"""``progress(done, total)`` in chunks, called after each embedded batch."""


@dataclass(frozen=True)
class VectorHit:
    chunk_id: str
    doc_id: str
    kind: str
    revision: int
    chunk: int
    title: str
    text: str
    distance: float

    @property
    def similarity(self) -> float:
        # Cosine space: distance = 1 - cos. e5 similarities are compressed (0.8-0.92): rank, don't threshold.
        return 1.0 - self.distance


@dataclass
class ShopDrift:
    """How a shop's chunks in Chroma differ from SQL (empty lists = in sync)."""

    shop_id: str
    missing: list[str] = field(default_factory=list)          # in SQL, no chunk in the index
    stale: list[dict[str, Any]] = field(default_factory=list)  # indexed at another revision
    incomplete: list[str] = field(default_factory=list)       # right revision, chunks missing
    orphans: list[str] = field(default_factory=list)          # in the index, deleted/absent in SQL
    sql_docs: int = 0
    index_chunks: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.incomplete or self.orphans)

    def docs_to_reindex(self) -> set[str]:
        return set(self.missing) | {s["id"] for s in self.stale} | set(self.incomplete)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "missing": self.missing, "stale": self.stale,
                "incomplete": self.incomplete, "orphans": self.orphans,
                "sql_docs": self.sql_docs, "index_chunks": self.index_chunks}


def _epoch(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _metadata(c: Chunk) -> dict[str, Any]:
    md: dict[str, Any] = {"shop": c.shop_id, "doc_id": c.doc_id, "kind": c.kind, "revision": c.revision,
                          "chunk": c.n, "n_chunks": c.n_chunks, "title": c.title}
    # Chroma metadata cannot hold None: an open validity bound is an absent key.
    for key, v in (("valid_from", _epoch(c.valid_from)), ("valid_to", _epoch(c.valid_to))):
        if v is not None:
            md[key] = v
    return md


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` -> (host, port, ssl). Chroma's client takes no path prefix."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"chroma url must look like http://host:port, got {url!r}")
    ssl = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if ssl else 8000), ssl


class VectorIndex:
    """Chunks of every shop's current documents in one Chroma collection (cosine space)."""

    def __init__(self, embedder: Embedder | None = None, *, path: Path | str | None = None,
                 url: str | None = None, collection: str = DEFAULT_COLLECTION, overfetch: int = 4) -> None:
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (embedded Chroma) or url (Chroma server)")
        if not _COLLECTION_NAME.match(collection):
            raise ValueError("collection name must be 3-512 characters of [a-zA-Z0-9._-]")
        self.embedder: Embedder = embedder or E5Embedder()
        self.path = Path(path) if path is not None else None
        self.url = url
        # Parsed now so that a malformed setting fails at start-up as a ValueError, not later as an outage.
        self._server = parse_chroma_url(url) if url is not None else None
        self.collection_name = collection
        self.overfetch = max(1, overfetch)
        self._prefilter_shops: set[str] = set()
        self.needs_reindex = False
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.RLock()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    # -- connection -------------------------------------------------------------------------
    def _make_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self._server is not None:
                host, port, ssl = self._server
                return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
            assert self.path is not None
            self.path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path), settings=chroma_settings)
        except (ValueError, OSError, ConnectionError) as e:
            where = self.url or str(self.path)
            raise IndexUnavailable(f"cannot open the Chroma index at {where}: {e}") from e

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _get_or_create(self) -> Any:
        return self._get_client().get_or_create_collection(
            self.collection_name, metadata={_MODEL_KEY: self.model_id},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=E5ChromaEmbeddingFunction(self.embedder))

    def _open_collection(self) -> Any:
        col = self._get_or_create()
        stored = (col.metadata or {}).get(_MODEL_KEY)
        if stored != self.model_id:
            log.warning("index %s was built with %s, not %s: dropping it; reindex needed",
                        self.collection_name, stored, self.model_id)
            self._get_client().delete_collection(self.collection_name)
            self.needs_reindex = True
            col = self._get_or_create()
        return col

    def open(self) -> VectorIndex:
        """Connect now (start-up, readiness checks) rather than at the first read or write.

        After this, ``needs_reindex`` tells whether the stored vectors came from another model.
        """
        self._run(lambda col: col)
        return self

    @property
    def collection(self) -> Any:
        """The raw Chroma collection (for tools and tests; application code uses the methods)."""
        return self._run(lambda col: col)

    def _run(self, op: Callable[[Any], _T]) -> _T:
        """Run ``op(collection)``; reopen once if another worker dropped the collection meanwhile."""
        from chromadb.errors import NotFoundError

        for attempt in (0, 1):
            try:
                with self._lock:
                    if self._collection is None:
                        self._collection = self._open_collection()
                    col = self._collection
                return op(col)
            except NotFoundError:
                with self._lock:
                    self._collection = None
                if attempt:
                    raise
            except IndexUnavailable:
                raise
            except Exception as e:
                if _is_connection_error(e):
                    with self._lock:
                        self._collection = None
                    raise IndexUnavailable(f"the Chroma index is unavailable: {e}") from e
                raise
        raise AssertionError("unreachable")

    # -- writes -----------------------------------------------------------------------------
    def upsert_doc(self, doc: KnowledgeDoc) -> int:
        """Index the current revision of ``doc`` (a deleted doc is removed); returns chunks written."""
        if doc.deleted:
            self.delete_doc(doc.shop_id, doc.id)
            return 0
        chunks = chunk_doc(doc)
        vectors = self.embedder.embed_passages([c.search_text for c in chunks])
        # New ids carry the revision, so adding first and deleting the old revision after leaves
        # no moment in which the document is missing from the index.
        self.add_chunks_with_embeddings(chunks, vectors)
        # Then drop other revisions, and surplus chunk numbers should chunking ever change.
        self._run(lambda col: col.delete(where={"$and": [
            {"shop": doc.shop_id}, {"doc_id": doc.id},
            {"$or": [{"revision": {"$ne": doc.revision}}, {"chunk": {"$gte": len(chunks)}}]}]}))
        return len(chunks)

    def delete_doc(self, shop_id: str, doc_id: str) -> None:
        self._run(lambda col: col.delete(where={"$and": [{"shop": shop_id}, {"doc_id": doc_id}]}))

    def add_chunks_with_embeddings(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        """Write chunks whose vectors are already computed (rebuilds, benchmarks)."""
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        # Chroma caps a single write (~5,000 records embedded); 1,000 stays well under on every backend.
        for start in range(0, len(chunks), 1000):
            part = chunks[start:start + 1000]
            vecs = np.asarray(embeddings[start:start + 1000], dtype=np.float32)

            def write(col: Any, part: Sequence[Chunk] = part, vecs: np.ndarray = vecs) -> None:
                col.upsert(ids=[c.id for c in part], embeddings=vecs, documents=[c.text for c in part],
                           metadatas=[_metadata(c) for c in part])

            self._run(write)

    def rebuild(self, docs: Iterable[KnowledgeDoc], *, shop_id: str | None = None,
                progress: Progress | None = None) -> int:
        """Replace the index contents of ``shop_id`` (or of every shop) with ``docs``; returns chunks."""
        chunks = [c for d in docs for c in chunk_doc(d)]
        if shop_id is None:
            self._drop_all()
        else:
            if any(c.shop_id != shop_id for c in chunks):
                raise ValueError(f"rebuild of shop {shop_id!r} was given another shop's documents")
            self._run(lambda col: col.delete(where={"shop": shop_id}))
        done = 0
        for batch in _batches(chunks, EMBED_BATCH):
            vectors = self.embedder.embed_passages([c.search_text for c in batch])
            self.add_chunks_with_embeddings(batch, vectors)
            done += len(batch)
            if progress is not None:
                progress(done, len(chunks))
        if shop_id is None:
            self.needs_reindex = False
        return len(chunks)

    def _drop_all(self) -> None:
        from chromadb.errors import NotFoundError

        with self._lock:
            self._collection = None
            try:
                self._get_client().delete_collection(self.collection_name)
            except NotFoundError:
                pass
            except Exception as e:
                if _is_connection_error(e):
                    raise IndexUnavailable(f"the Chroma index is unavailable: {e}") from e
                raise

    # -- reads ------------------------------------------------------------------------------
    def query(self, shop_id: str, query_embedding: np.ndarray, n: int = 20,
              kinds: Sequence[str] | None = None) -> list[VectorHit]:
        """The ``n`` nearest chunks of one shop (optionally of some kinds), nearest first.

        Chroma applies a ``where`` filter before the vector search, and that pre-filter costs
        ~30 ms when 10,000 chunks match (the plain HNSW search: ~3 ms). So the unfiltered
        neighbourhood is searched first and filtered here: if it holds ``n`` chunks of the shop,
        they are exactly the shop's ``n`` nearest (any nearer one would be in it too). Only when
        it does not (a small shop among big ones) is the ``where`` query run.
        """
        q = np.asarray(query_embedding, dtype=np.float32).reshape(1, -1)
        kind_set = set(kinds) if kinds else None
        include = ["documents", "metadatas", "distances"]
        if shop_id not in self._prefilter_shops:
            fetch = n * self.overfetch
            res = self._run(lambda col: col.query(query_embeddings=q, n_results=fetch, include=include))
            hits = [h for h in _hits(res) if h[0] == shop_id and (kind_set is None or h[1].kind in kind_set)]
            if len(hits) >= n or len(res["ids"][0]) < fetch:  # enough, or the whole collection was seen
                return [h for _, h in hits[:n]]
            self._prefilter_shops.add(shop_id)  # a small shop among big ones: go straight to `where`

        where: dict[str, Any] = {"shop": shop_id}
        if kinds:
            where = {"$and": [where, {"kind": {"$in": list(kinds)}}]}
        res = self._run(lambda col: col.query(query_embeddings=q, n_results=n, where=where, include=include))
        return [h for _, h in _hits(res)]

    def count(self, shop_id: str | None = None) -> int:
        if shop_id is None:
            return int(self._run(lambda col: col.count()))
        return len(self._pages(shop_id, include=[]))

    # Chroma's SQLite backend fails a single get() over ~30k+ rows ("too many SQL variables"):
    # read large shops in pages.
    PAGE = 5000

    def _pages(self, shop_id: str | None, include: list[str]) -> list[tuple[str, Any]]:
        where = {"shop": shop_id} if shop_id is not None else None
        out: list[tuple[str, Any]] = []
        offset = 0
        while True:
            def page(col: Any, offset: int = offset) -> Any:
                return col.get(where=where, include=include, limit=self.PAGE, offset=offset)

            res = self._run(page)
            ids = res["ids"]
            mds = res.get("metadatas") or [None] * len(ids)
            out.extend(zip(ids, mds, strict=True))
            if len(ids) < self.PAGE:
                return out
            offset += self.PAGE

    def _chunk_metadata(self, shop_id: str | None) -> list[tuple[str, dict[str, Any]]]:
        return self._pages(shop_id, include=["metadatas"])

    def shops(self) -> set[str]:
        return {str(md["shop"]) for _, md in self._chunk_metadata(None)}

    def doc_revisions(self, shop_id: str) -> dict[str, int]:
        """doc id -> the revision indexed (the highest, if a failed write left two)."""
        out: dict[str, int] = {}
        for _, md in self._chunk_metadata(shop_id):
            d, r = str(md["doc_id"]), int(md["revision"])
            out[d] = max(r, out.get(d, r))
        return out

    # -- drift ------------------------------------------------------------------------------
    def drift(self, shop_id: str, docs: Iterable[KnowledgeDoc]) -> ShopDrift:
        """Compare one shop's index contents with its current SQL documents (``store.list``)."""
        current = {d.id: d for d in docs if not d.deleted}
        indexed: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        rows = self._chunk_metadata(shop_id)
        for cid, md in rows:
            indexed[str(md["doc_id"])][int(md["revision"])].add(cid)
        report = ShopDrift(shop_id, sql_docs=len(current), index_chunks=len(rows))
        for doc_id, doc in sorted(current.items()):
            revs = indexed.get(doc_id)
            if not revs:
                report.missing.append(doc_id)
            elif doc.revision not in revs or len(revs) > 1:
                report.stale.append({"id": doc_id, "sql_revision": doc.revision,
                                     "index_revisions": sorted(revs)})
            elif revs[doc.revision] != {c.id for c in chunk_doc(doc)}:
                report.incomplete.append(doc_id)
        report.orphans = sorted(set(indexed) - set(current))
        return report

    def sync_shop(self, shop_id: str, docs: Iterable[KnowledgeDoc],
                  report: ShopDrift | None = None) -> ShopDrift:
        """Repair what ``drift`` finds (or found: ``report``), touching only the documents that differ."""
        docs = [d for d in docs if not d.deleted]
        report = report or self.drift(shop_id, docs)
        todo = report.docs_to_reindex()
        for d in docs:
            if d.id in todo:
                self.upsert_doc(d)
        for doc_id in report.orphans:
            self.delete_doc(shop_id, doc_id)
        return report


def _hits(res: Any) -> list[tuple[str, VectorHit]]:
    """(shop, hit) pairs of a Chroma query result for one query vector."""
    out = []
    for cid, doc, md, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                                  res["distances"][0], strict=True):
        out.append((str(md["shop"]), VectorHit(cid, str(md["doc_id"]), str(md["kind"]), int(md["revision"]),
                                               int(md["chunk"]), str(md.get("title", "")), doc or "",
                                               float(dist))))
    return out


def _is_connection_error(e: Exception) -> bool:
    import httpx

    return isinstance(e, httpx.TransportError | ConnectionError | TimeoutError)
