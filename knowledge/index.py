"""The vector index: knowledge chunks and their e5 embeddings in Chroma.

The index is derived data. SQL (``knowledge.store``) is the truth and the index can be rebuilt
from it at any time, so this module never decides what a document says, only where its chunks
are. Embeddings are always computed here and handed to Chroma explicitly; Chroma's own default
embedding function downloads a model and must never run (the collection is still given our
embedding function so that nothing falls back to it).

Each shop has a collection of its own, so a query never needs a metadata filter (Chroma's
``where`` pre-filter cost ~30 ms at 10,000 matching chunks in the one shared collection this
replaced), and a shop's collection can be rebuilt alone: aside, in a staging collection, which
replaces the live one only when complete (``start_build`` / ``fill_build`` / ``publish_build``).
Collections rather than Chroma tenants or databases: one client (one connection pool) serves every
shop, and a collection is what Chroma's per-collection HNSW index and metadata are made for.

The embedding model id is kept in each collection's metadata: vectors from two models are not
comparable, so opening a shop's collection with another model drops it and sets ``needs_reindex``.
"""

from __future__ import annotations

import functools
import hashlib
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
_SHOP_KEY = "shop"
_SHOP_SAFE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*[a-zA-Z0-9]$|^[a-zA-Z0-9]$")
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
    """Each shop's chunks in a Chroma collection of its own (cosine space).

    Names are ``<collection>-<shop>`` (or a hash of the shop id when it has characters Chroma's names
    cannot hold); ``collection`` is the prefix shared by one deployment's collections. A shop's
    collection carries the embedding model id and the shop id in its metadata.
    """

    def __init__(self, embedder: Embedder | None = None, *, path: Path | str | None = None,
                 url: str | None = None, collection: str = DEFAULT_COLLECTION, overfetch: int = 4) -> None:
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (embedded Chroma) or url (Chroma server)")
        if not _COLLECTION_NAME.match(collection) or len(collection) > 200:
            raise ValueError("collection name must be 3-200 characters of [a-zA-Z0-9._-]")
        self.embedder: Embedder = embedder or E5Embedder()
        self.path = Path(path) if path is not None else None
        self.url = url
        # Parsed now so that a malformed setting fails at start-up as a ValueError, not later as an outage.
        self._server = parse_chroma_url(url) if url is not None else None
        self.collection_name = collection
        self.overfetch = max(1, overfetch)
        self.needs_reindex = False
        self._client: Any = None
        # shop -> its open collection handle (None: known not to exist). Handles, not search state:
        # a handle whose collection was rebuilt by another process is dropped at its first failure.
        self._collections: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def name_for(self, shop_id: str) -> str:
        """The Chroma collection name of one shop's chunks."""
        name = f"{self.collection_name}-{shop_id}"
        if _SHOP_SAFE.match(shop_id) and len(name) <= 400:
            return name
        return f"{self.collection_name}-h{hashlib.sha1(shop_id.encode()).hexdigest()[:24]}"

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
                try:
                    self._client = self._make_client()
                except IndexUnavailable:
                    raise
                except Exception as e:
                    if _is_connection_error(e):
                        raise IndexUnavailable(f"the Chroma index is unavailable: {e}") from e
                    raise
            return self._client

    def _create(self, name: str, shop_id: str) -> Any:
        return self._get_client().get_or_create_collection(
            name, metadata={_MODEL_KEY: self.model_id, _SHOP_KEY: shop_id},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=E5ChromaEmbeddingFunction(self.embedder))

    def _checked(self, col: Any, shop_id: str, *, create: bool) -> Any:
        """``col`` if its vectors come from our model; else it is dropped (and recreated if ``create``)."""
        stored = (col.metadata or {}).get(_MODEL_KEY)
        if stored == self.model_id:
            return col
        log.warning("index of shop %s was built with %s, not %s: dropping it; reindex needed",
                    shop_id, stored, self.model_id)
        self._get_client().delete_collection(col.name)
        self.needs_reindex = True
        return self._create(col.name, shop_id) if create else None

    def _open(self, shop_id: str, *, create: bool) -> Any:
        from chromadb.errors import NotFoundError

        with self._lock:
            col = self._collections.get(shop_id)
            if col is not None or (shop_id in self._collections and not create):
                return col
            name = self.name_for(shop_id)
            if create:
                col = self._checked(self._create(name, shop_id), shop_id, create=True)
            else:
                try:
                    col = self._checked(self._get_client().get_collection(
                        name, embedding_function=E5ChromaEmbeddingFunction(self.embedder)), shop_id, create=False)
                except NotFoundError:
                    col = None
            # A missing collection is remembered only briefly: another worker may create it.
            if col is not None:
                self._collections[shop_id] = col
            return col

    def open(self) -> VectorIndex:
        """Connect now (start-up) rather than at the first read or write, with a handle on every shop.

        One listing of this deployment's collections (a request per 1,000) gives each live shop's
        collection handle, so the first query of a shop in a fresh worker makes no ``get_collection``
        round trip of its own. A handle is only an id: a collection rebuilt or dropped since by another
        process fails at its first use and is looked up again by name (``_on``).

        After this, ``needs_reindex`` tells whether some shop's vectors came from another model (seen
        in the collections' metadata; each is dropped when its shop is next opened)."""
        from chromadb.api.models.Collection import Collection

        client = self._get_client()
        handles: dict[str, Any] = {}
        for model in self._own_collections():
            md = model.metadata or {}
            if "--build-" in model.name:
                continue
            if md.get(_MODEL_KEY) != self.model_id:
                self.needs_reindex = True
                continue
            shop = md.get(_SHOP_KEY)
            if shop is not None and model.name == self.name_for(str(shop)):
                handles[str(shop)] = Collection(client=client._server, model=model,
                                                embedding_function=E5ChromaEmbeddingFunction(self.embedder))  # type: ignore[arg-type]
        with self._lock:
            for shop, col in handles.items():
                self._collections.setdefault(shop, col)
        return self

    def ping(self) -> None:
        """Raise IndexUnavailable unless Chroma answers (readiness checks: one call, whatever the shop count)."""
        self._run(lambda: self._get_client().heartbeat())

    def exists(self, shop_id: str) -> bool:
        """Whether the shop has a live collection (of this model: another model's is dropped here)."""
        return self._run(lambda: self._open(shop_id, create=False)) is not None

    def collection_for(self, shop_id: str) -> Any:
        """The raw Chroma collection of one shop (for tools and tests; application code uses the methods)."""
        return self._run(lambda: self._open(shop_id, create=True))

    def _run(self, op: Callable[[], _T]) -> _T:
        try:
            return op()
        except IndexUnavailable:
            raise
        except Exception as e:
            if _is_connection_error(e):
                with self._lock:
                    self._collections.clear()
                raise IndexUnavailable(f"the Chroma index is unavailable: {e}") from e
            raise

    def _on(self, shop_id: str, op: Callable[[Any], _T], *, create: bool, missing: _T) -> _T:
        """Run ``op(collection)`` on the shop's collection; ``missing`` when it has none (reads).

        Reopens once if another process dropped or rebuilt the collection meanwhile."""
        from chromadb.errors import NotFoundError

        for attempt in (0, 1):
            try:
                col = self._run(lambda: self._open(shop_id, create=create))
                if col is None:
                    return missing
                return self._run(functools.partial(op, col))
            except (NotFoundError, _StaleHandle):
                with self._lock:
                    self._collections.pop(shop_id, None)
                if attempt:
                    raise
            except Exception as e:
                if _is_stale_handle(e):
                    with self._lock:
                        self._collections.pop(shop_id, None)
                    if attempt:
                        raise
                    continue
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
        self._on(doc.shop_id, lambda col: col.delete(where={"$and": [
            {"doc_id": doc.id},
            {"$or": [{"revision": {"$ne": doc.revision}}, {"chunk": {"$gte": len(chunks)}}]}]}),
            create=True, missing=None)
        return len(chunks)

    def delete_doc(self, shop_id: str, doc_id: str) -> None:
        self._on(shop_id, lambda col: col.delete(where={"doc_id": doc_id}), create=False, missing=None)

    def add_chunks_with_embeddings(self, chunks: Sequence[Chunk], embeddings: np.ndarray,
                                   *, collection: Any = None) -> None:
        """Write chunks whose vectors are already computed (rebuilds, benchmarks); several shops may mix."""
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        vectors = np.asarray(embeddings, dtype=np.float32)
        by_shop: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(chunks):
            by_shop[c.shop_id].append(i)
        for shop_id, idx in by_shop.items():
            # Chroma caps a single write (~5,000 records embedded); 1,000 stays well under on every backend.
            for start in range(0, len(idx), 1000):
                part = [chunks[i] for i in idx[start:start + 1000]]
                vecs = vectors[idx[start:start + 1000]]

                def write(col: Any, part: Sequence[Chunk] = part, vecs: np.ndarray = vecs) -> None:
                    col.upsert(ids=[c.id for c in part], embeddings=vecs, documents=[c.text for c in part],
                               metadatas=[_metadata(c) for c in part])

                if collection is not None:
                    self._run(functools.partial(write, collection))
                else:
                    self._on(shop_id, write, create=True, missing=None)

    def rebuild(self, docs: Iterable[KnowledgeDoc], *, shop_id: str | None = None,
                progress: Progress | None = None) -> int:
        """Replace the index contents of ``shop_id`` (or of every shop) with ``docs``; returns chunks."""
        docs = list(docs)
        if shop_id is None:
            self._drop_all()
            shops = sorted({d.shop_id for d in docs})
            total = sum(len(chunk_doc(d)) for d in docs)
            done = 0

            def step(d: int, _t: int) -> None:
                if progress is not None:
                    progress(done + d, total)

            for s in shops:
                done += self.rebuild([d for d in docs if d.shop_id == s], shop_id=s, progress=step)
            self.needs_reindex = False
            return done
        if any(d.shop_id != shop_id for d in docs):
            raise ValueError(f"rebuild of shop {shop_id!r} was given another shop's documents")
        build = self.start_build(shop_id, "rebuild")
        n = self.fill_build(build, docs, progress=progress)
        self.publish_build(build)
        if n == 0:
            self.drop_shop(shop_id)  # a shop without documents has no collection
        return n

    def drop_shop(self, shop_id: str) -> None:
        from chromadb.errors import NotFoundError

        with self._lock:
            self._collections.pop(shop_id, None)
        try:
            self._run(lambda: self._get_client().delete_collection(self.name_for(shop_id)))
        except NotFoundError:
            pass

    # -- building a shop's collection aside, then swapping it in ---------------------------------
    def start_build(self, shop_id: str, token: str) -> Any:
        """A staging collection for a rebuild of one shop (``token``: e.g. the job id, so a retried job
        finds what it already wrote). Queries keep reading the live collection until ``publish_build``."""
        if not re.match(r"^[a-zA-Z0-9_-]{1,40}$", token):
            raise ValueError("build token must be 1-40 characters of [a-zA-Z0-9_-]")
        name = f"{self.name_for(shop_id)}--build-{token}"
        return self._run(lambda: self._checked(self._create(name, shop_id), shop_id, create=True))

    def built_ids(self, build: Any) -> set[str]:
        """Chunk ids already in a staging collection (a resumed job skips them)."""
        out: set[str] = set()
        offset = 0
        while True:
            res = self._run(functools.partial(build.get, include=[], limit=self.PAGE, offset=offset))
            out.update(res["ids"])
            if len(res["ids"]) < self.PAGE:
                return out
            offset += self.PAGE

    def fill_build(self, build: Any, docs: Iterable[KnowledgeDoc], *, progress: Progress | None = None,
                   embed: Callable[[list[str]], np.ndarray] | None = None, batch: int = EMBED_BATCH) -> int:
        """Embed and write every chunk of ``docs`` missing from ``build``; returns the chunks it holds."""
        chunks = [c for d in docs for c in chunk_doc(d)]
        have = self.built_ids(build)
        todo = [c for c in chunks if c.id not in have]
        done = len(chunks) - len(todo)
        if progress is not None:
            progress(done, len(chunks))
        parts = list(_batches(todo, batch))
        texts = ([c.search_text for c in part] for part in parts)
        # An embedder that can work ahead (``stream``, a process pool) embeds the next parts while
        # this one is written; a plain function embeds them one by one.
        stream = getattr(embed, "stream", None)
        vectors_of = stream(texts) if stream is not None else map(embed or self.embedder.embed_passages, texts)
        for part, vectors in zip(parts, vectors_of, strict=True):
            self.add_chunks_with_embeddings(part, vectors, collection=build)
            done += len(part)
            if progress is not None:
                progress(done, len(chunks))
        return len(chunks)

    def publish_build(self, build: Any) -> None:
        """Make a complete staging collection the shop's live one (the old one is dropped)."""
        from chromadb.errors import NotFoundError

        shop_id = str(build.metadata[_SHOP_KEY])
        live = self.name_for(shop_id)
        client = self._get_client()
        with self._lock:
            self._collections.pop(shop_id, None)
            # Between these two calls the shop has no vectors (lexical only) for a moment; never a half index.
            try:
                self._run(lambda: client.delete_collection(live))
            except NotFoundError:
                pass
            self._run(lambda: build.modify(name=live))

    def drop_build(self, build: Any) -> None:
        from chromadb.errors import NotFoundError

        try:
            self._run(lambda: self._get_client().delete_collection(build.name))
        except NotFoundError:
            pass

    def _own_collections(self) -> list[Any]:
        """This deployment's collections as (name, metadata) models, in pages.

        Through the client's server API: ``Client.list_collections`` wraps each in a ``Collection``
        with Chroma's default embedding function, which must never be built here."""
        prefix = f"{self.collection_name}-"
        out: list[Any] = []
        offset = 0
        client = self._get_client()
        while True:
            page = self._run(functools.partial(client._server.list_collections, limit=1000, offset=offset,
                                               tenant=client.tenant, database=client.database))
            out.extend(c for c in page if c.name.startswith(prefix))
            if len(page) < 1000:
                return out
            offset += 1000

    def _drop_all(self) -> None:
        from chromadb.errors import NotFoundError

        with self._lock:
            self._collections.clear()
            for col in self._own_collections():
                try:
                    self._run(functools.partial(self._get_client().delete_collection, col.name))
                except NotFoundError:
                    pass

    # -- reads ------------------------------------------------------------------------------
    def query(self, shop_id: str, query_embedding: np.ndarray, n: int = 20,
              kinds: Sequence[str] | None = None) -> list[VectorHit]:
        """The ``n`` nearest chunks of one shop (optionally of some kinds), nearest first.

        The shop's own collection is searched with no ``where`` filter (Chroma's pre-filter cost
        ~30 ms at 10,000 matching chunks). A kinds restriction (rare) over-fetches and filters here.
        """
        q = np.asarray(query_embedding, dtype=np.float32).reshape(1, -1)
        fetch = n * self.overfetch if kinds else n
        include = ["documents", "metadatas", "distances"]
        res = self._on(shop_id, lambda col: col.query(query_embeddings=q, n_results=fetch, include=include),
                       create=False, missing=None)
        if res is None:
            return []
        hits = _hits(res)
        if kinds:
            hits = [h for h in hits if h.kind in set(kinds)]
        return hits[:n]

    def count(self, shop_id: str | None = None) -> int:
        if shop_id is None:
            return sum(self.count(shop) for shop in self.shops())
        return int(self._on(shop_id, lambda col: col.count(), create=False, missing=0))

    # Chroma's SQLite backend fails a single get() over ~30k+ rows ("too many SQL variables"):
    # read large shops in pages.
    PAGE = 5000

    def _pages(self, shop_id: str, include: list[str]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        offset = 0
        while True:
            def page(col: Any, offset: int = offset) -> Any:
                return col.get(include=include, limit=self.PAGE, offset=offset)

            res = self._on(shop_id, page, create=False, missing=None)
            if res is None:
                return out
            ids = res["ids"]
            mds = res.get("metadatas") or [None] * len(ids)
            out.extend(zip(ids, mds, strict=True))
            if len(ids) < self.PAGE:
                return out
            offset += self.PAGE

    def _chunk_metadata(self, shop_id: str) -> list[tuple[str, dict[str, Any]]]:
        return self._pages(shop_id, include=["metadatas"])

    def shops(self) -> set[str]:
        """Shops that have a live collection."""
        return {str((c.metadata or {}).get(_SHOP_KEY)) for c in self._own_collections()
                if "--build-" not in c.name and (c.metadata or {}).get(_SHOP_KEY) is not None}

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


def _hits(res: Any) -> list[VectorHit]:
    """The hits of a Chroma query result for one query vector, nearest first."""
    out = []
    for cid, doc, md, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                                  res["distances"][0], strict=True):
        out.append(VectorHit(cid, str(md["doc_id"]), str(md["kind"]), int(md["revision"]),
                             int(md["chunk"]), str(md.get("title", "")), doc or "", float(dist)))
    return out


class _StaleHandle(Exception):
    """A cached collection handle whose collection no longer exists under that id."""


def _is_stale_handle(e: Exception) -> bool:
    # Over HTTP, a collection deleted (or rebuilt) by another process answers with an error that
    # names the missing collection rather than raising NotFoundError on every Chroma version.
    text = str(e).lower()
    return "does not exist" in text or "not found" in text


def _is_connection_error(e: Exception) -> bool:
    import httpx

    return isinstance(e, httpx.TransportError | ConnectionError | TimeoutError)
