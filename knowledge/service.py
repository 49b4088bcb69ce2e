"""The knowledge base's use cases: curation rules, and writes that keep the vector index in step with SQL.

Order matters: SQL commits first, because SQL is the truth; the Chroma update follows. If the
index cannot be updated (server down, disk full), the write still stands: the failure is
logged, ``check`` reports the drift, and ``reindex`` (or the retriever's own repair at its
next start) fixes it. Retrieval never returns a stale or deleted text meanwhile, because the
retriever filters vector hits against SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.errors import Conflict, InvalidInput
from knowledge.errors import KnowledgeNotFound
from knowledge.index import Progress, ShopDrift, VectorIndex
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeDoc, KnowledgeStore, validate_doc_fields

log = logging.getLogger(__name__)


# Ids that would collide with the API's fixed routes (GET /v1/knowledge/search, POST …/preview).
RESERVED_IDS = frozenset({"search", "preview", "suggest-effects", "reindex", "import"})


class KnowledgeService:
    def __init__(self, store: KnowledgeStore, index: VectorIndex) -> None:
        self.store = store
        self.index = index

    # -- the curation use cases (API, CLI) ----------------------------------------------------
    def create(self, shop_id: str, doc_id: str, *, kind: str, title: str, text: str,
               tags: Iterable[str] = (), valid_from: datetime | None = None,
               valid_to: datetime | None = None, author: str | None = None,
               effects: Iterable[Any] | None = None) -> KnowledgeDoc:
        """A new item (revision 1). An id that exists, even deleted, is a Conflict: edit or restore it."""
        if doc_id.lower() in RESERVED_IDS:
            raise InvalidInput(f"the id {doc_id!r} is reserved", field="id")
        tags = [str(t) for t in tags]
        validate_doc_fields(doc_id, kind, title, text, valid_from, valid_to, tags)
        try:
            old = self.store.get(shop_id, doc_id)
        except KnowledgeNotFound:
            old = None
        if old is not None:
            state = "deleted; restore it" if old.deleted else "edit it with PUT"
            raise Conflict(f"knowledge item {doc_id!r} already exists ({state} or choose another id)", field="id")
        doc, _ = self.upsert(shop_id, doc_id, kind=kind, title=title, text=text, tags=tags,
                             valid_from=valid_from, valid_to=valid_to, author=author, effects=effects)
        return doc

    def edit(self, shop_id: str, doc_id: str, *, title: str, text: str, kind: str | None = None,
             tags: Iterable[str] = (), valid_from: datetime | None = None, valid_to: datetime | None = None,
             base_revision: int | None = None, author: str | None = None,
             effects: Iterable[Any] | None = None) -> tuple[KnowledgeDoc, bool]:
        """Save an edit of a live item as a new revision; (doc, changed).

        ``kind`` defaults to the item's own. ``base_revision`` is the revision the editor started
        from: if someone saved since, the edit is a Conflict rather than a silent overwrite.
        """
        current = self.store.get(shop_id, doc_id)
        if current.deleted:
            raise Conflict(f"knowledge item {doc_id!r} is deleted: restore a revision first", field="id")
        if base_revision is not None and base_revision != current.revision:
            raise Conflict(f"knowledge item {doc_id!r} was changed since revision {base_revision} "
                           f"(now revision {current.revision}): reload it and edit again", field="base_revision")
        return self.upsert(shop_id, doc_id, kind=kind or current.kind, title=title, text=text, tags=tags,
                           valid_from=valid_from, valid_to=valid_to, author=author, effects=effects)

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, shop_id: str, doc_id: str, *, kind: str, title: str, text: str,
               tags: Iterable[str] = (), valid_from: datetime | None = None,
               valid_to: datetime | None = None, author: str | None = None,
               effects: Iterable[Any] | None = None) -> tuple[KnowledgeDoc, bool]:
        """Create or edit a document; returns (doc, changed). Unchanged content touches nothing."""
        doc, changed = self.store.upsert(shop_id, doc_id, kind=kind, title=title, text=text, tags=tags,
                                         valid_from=valid_from, valid_to=valid_to, author=author, effects=effects)
        if changed:
            self.index_docs([doc])
        return doc, changed

    def delete(self, shop_id: str, doc_id: str, author: str | None = None) -> tuple[KnowledgeDoc, bool]:
        """Delete as a tombstone revision (restorable); (tombstone, changed). Deleting twice changes nothing."""
        before = self.store.get(shop_id, doc_id)
        if before.deleted:
            return before, False
        tomb = self.store.delete(shop_id, doc_id, author=author)
        self.index_docs([tomb])
        return tomb, True

    def restore(self, shop_id: str, doc_id: str, revision: int,
                author: str | None = None) -> tuple[KnowledgeDoc, bool]:
        """Make an old revision current again (as a new revision; also undeletes); (doc, changed)."""
        before = self.store.get(shop_id, doc_id)
        doc = self.store.restore(shop_id, doc_id, revision, author=author)
        changed = doc.revision != before.revision
        if changed:
            self.index_docs([doc])
        return doc, changed

    def index_docs(self, docs: Iterable[KnowledgeDoc]) -> bool:
        """Mirror committed documents into the index; False (and logged) if the index failed."""
        ok = True
        for doc in docs:
            try:
                self.index.upsert_doc(doc)
            except Exception:  # any index failure: SQL already holds the truth, `check` will show drift
                log.exception("index update failed for %s/%s rev %s; run `replydesk kb reindex`",
                              doc.shop_id, doc.id, doc.revision)
                ok = False
        return ok

    # -- index maintenance ------------------------------------------------------------------
    def shop_ids(self) -> list[str]:
        return [s.id for s in ShopStore(self.store.engine, self.store.clock).list()]

    def reindex(self, shop_id: str | None = None, progress: Progress | None = None) -> int:
        """Rebuild the index from SQL for one shop, or for all (which also clears ``needs_reindex``)."""
        from knowledge.fulltext import rebuild_shop

        if shop_id is not None:
            docs = self.store.list(shop_id)
            rebuild_shop(self.store.engine, docs, shop_id)
            return self.index.rebuild(docs, shop_id=shop_id, progress=progress)
        docs = [d for s in self.shop_ids() for d in self.store.list(s)]
        for s in self.shop_ids():
            rebuild_shop(self.store.engine, [d for d in docs if d.shop_id == s], s)
        return self.index.rebuild(docs, progress=progress)

    def check(self, shop_id: str | None = None) -> dict[str, Any]:
        """Drift between SQL and the index, per shop (``ok`` is False if anything differs).

        Shops that exist only in the index (deleted from SQL, or written by another database)
        are listed as orphans too, when every shop is checked.
        """
        shops = [shop_id] if shop_id is not None else self.shop_ids()
        reports: dict[str, ShopDrift] = {s: self.index.drift(s, self.store.list(s)) for s in shops}
        orphan_shops = sorted(self.index.shops() - set(shops)) if shop_id is None else []
        if shop_id is None and not orphan_shops and all(r.ok for r in reports.values()):
            # Every shop was repaired one by one (the retriever does that at first use): the index
            # matches SQL again, whatever model it was once built with.
            self.index.needs_reindex = False
        return {
            "ok": all(r.ok for r in reports.values()) and not orphan_shops and not self.index.needs_reindex,
            "needs_reindex": self.index.needs_reindex,
            "model": self.index.model_id,
            "shops": {s: r.as_dict() for s, r in reports.items()},
            "orphan_shops": orphan_shops,
        }
