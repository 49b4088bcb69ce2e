"""The reply preview of the knowledge manager: the draft a message would get now, optionally as if an
unsaved edit (or new item) were saved, and how that item took part. Nothing is stored.

The unsaved item is revision 0: a notice is read like the saved ones when it is in force now; a
policy or style guide is ranked together with the saved items (``Retriever.with_unsaved``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.result import DraftResult
from knowledge.retrieve import Passage, Retriever
from knowledge.store import KnowledgeDoc, KnowledgeStore

__all__ = ["ItemUse", "Preview", "preview_draft"]


@dataclass(frozen=True)
class ItemUse:
    """How the unsaved item was used by the draft."""

    id: str
    kind: str
    active_now: bool
    retrieved: bool | None  # None for notices (read, not searched) and when nothing was searched
    cited: bool
    passage: Passage | None
    note: str


@dataclass(frozen=True)
class Preview:
    draft: DraftResult           # not stored: its id is null and nobody can approve it
    query: str | None            # what the drafter searched the knowledge base with
    passages: list[Passage]      # what it retrieved (policies and style guides)
    notices: list[KnowledgeDoc]  # the notices in force now, which the drafter reads
    item: ItemUse | None


class _Recorder:
    """Passes retrieval through and keeps what the drafter asked and got."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.query: str | None = None
        self.passages: list[Passage] = []

    def retrieve(self, shop_id: str, query: str, k: int = 4, now: datetime | None = None,
                 kinds: Sequence[str] | None = None) -> list[Passage]:
        out = self.inner.retrieve(shop_id, query, k=k, now=now, kinds=kinds)
        self.query, self.passages = query, list(out)
        return out


def preview_draft(request: DraftRequest, shop_id: str, services: DraftServices, *, store: KnowledgeStore,
                  retriever: Retriever | None, unsaved: KnowledgeDoc | None = None,
                  composer: str = "template") -> Preview:
    """Draft ``request`` with ``store``/``retriever`` (as if ``unsaved`` were saved) in place of the services'."""
    now = services.clock.now()
    knowledge = store.with_unsaved(unsaved) if unsaved is not None else store
    base = retriever.with_unsaved(unsaved) if retriever is not None and unsaved is not None else retriever
    recorder = _Recorder(base) if base is not None else None
    services = dataclasses.replace(services, knowledge=knowledge, retriever=recorder)
    result, _ = run(request, shop_id, services, composer=composer)
    passages = recorder.passages if recorder is not None else []
    searched = recorder is not None and recorder.query is not None
    item = _item_use(unsaved, result, passages, searched, now) if unsaved is not None else None
    return Preview(draft=result, query=recorder.query if recorder else None, passages=passages,
                   notices=knowledge.active_notices(shop_id, now), item=item)


def _item_use(doc: KnowledgeDoc, result: DraftResult, passages: list[Passage], searched: bool,
              now: datetime) -> ItemUse:
    active = doc.active_at(now)
    cited = any(ct.id == doc.id and ct.kind == doc.kind for ct in result.citations)
    if doc.kind == "notice":
        if not active:
            note = "Not in force now (outside its validity window): drafts made now ignore it."
        elif cited:
            note = "In force now: the draft quotes it."
        else:
            note = ("In force now, but this draft does not use it: the template drafter quotes a delay or "
                    "closure notice when the order is still waiting to be shipped.")
        return ItemUse(id=doc.id, kind=doc.kind, active_now=active, retrieved=None, cited=cited, passage=None,
                       note=note)
    hit = next((p for p in passages if p.id == doc.id), None)
    if not searched:
        note = "The drafter did not search the knowledge base for this message (not a shipping question)."
    elif hit is not None:
        note = f"Retrieved as passage {passages.index(hit) + 1} of {len(passages)} for this message."
    else:
        note = f"Not among the {len(passages)} passages the drafter retrieves for this message."
    return ItemUse(id=doc.id, kind=doc.kind, active_now=active, retrieved=hit is not None if searched else None,
                   cited=cited, passage=hit, note=note)
