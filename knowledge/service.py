"""Knowledge writes that keep the vector index in step with SQL.

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

from knowledge.index import Progress, ShopDrift, VectorIndex
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeDoc, KnowledgeStore

log = logging.getLogger(__name__)


class KnowledgeService:
    def __init__(self, store: KnowledgeStore, index: VectorIndex) -> None:
        self.store = store
        self.index = index

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, shop_id: str, doc_id: str, *, kind: str, title: str, text: str,
               tags: Iterable[str] = (), valid_from: datetime | None = None,
               valid_to: datetime | None = None, author: str | None = None) -> tuple[KnowledgeDoc, bool]:
        """Create or edit a document; returns (doc, changed). Unchanged content touches nothing."""
        doc, changed = self.store.upsert(shop_id, doc_id, kind=kind, title=title, text=text, tags=tags,
                                         valid_from=valid_from, valid_to=valid_to, author=author)
        if changed:
            self.index_docs([doc])
        return doc, changed

    def delete(self, shop_id: str, doc_id: str, author: str | None = None) -> KnowledgeDoc:
        tomb = self.store.delete(shop_id, doc_id, author=author)
        self.index_docs([tomb])
        return tomb

    def restore(self, shop_id: str, doc_id: str, revision: int, author: str | None = None) -> KnowledgeDoc:
        """Make an old revision current again (as a new revision)."""
        doc = self.store.restore(shop_id, doc_id, revision, author=author)
        self.index_docs([doc])
        return doc

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
        if shop_id is not None:
            return self.index.rebuild(self.store.list(shop_id), shop_id=shop_id, progress=progress)
        docs = [d for s in self.shop_ids() for d in self.store.list(s)]
        return self.index.rebuild(docs, progress=progress)

    def ensure_index(self) -> bool:
        """At start-up: rebuild everything if the index was made by another model. True if it did."""
        if self.index.open().needs_reindex:
            self.reindex()
            return True
        return False

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
