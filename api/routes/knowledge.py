"""The knowledge base of the caller's shop: policies, notices and style guides, with revisions.

Reads and the retrieval preview are for every key; writes are for managers and admins, and record
the key id as the author (the store records when). Every write goes through ``KnowledgeService``,
so SQL (the truth) and the Chroma index stay in step. Another shop's items answer 404.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from api.container import Container
from api.deps import ContainerDep, ManagerKey, Principal
from core.errors import Conflict, InvalidInput, Unavailable
from drafter.pipeline import run
from drafter.request import MAX_MESSAGE, MAX_TURNS, ContextTurn, DraftRequest
from drafter.result import DraftResult
from knowledge.chunking import chunk_doc
from knowledge.errors import KnowledgeNotFound
from knowledge.index import ShopDrift, VectorHit
from knowledge.retrieve import Passage, Retriever
from knowledge.store import ID_PATTERN, KnowledgeDoc

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])

# Ids that would collide with the fixed routes below (GET /v1/knowledge/search, POST …/preview).
RESERVED_IDS = frozenset({"search", "preview"})
MAX_TITLE, MAX_TEXT = 200, 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _item_id(v: str) -> str:
    if not re.fullmatch(ID_PATTERN, v):
        raise ValueError("use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return v


def _printable(v: str) -> str:
    # NUL and other control characters: PostgreSQL cannot store NUL, and no rule needs them.
    if _CONTROL.search(v):
        raise ValueError("control characters (other than tab and newline) are not allowed")
    return v


Kind = Literal["policy", "notice", "style"]
ItemId = Annotated[str, AfterValidator(_item_id)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_printable)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(_printable)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_printable)]


# -- bodies -----------------------------------------------------------------------------------------

class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    text: Text
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    valid_from: AwareDatetime | None = Field(default=None, description="Notices only; with a UTC offset")
    valid_to: AwareDatetime | None = Field(default=None, description="Notices only; with a UTC offset")


class NewItem(_Fields):
    id: ItemId
    kind: Kind


class ItemEdit(_Fields):
    kind: Kind | None = Field(default=None, description="Default: the item's current kind")
    base_revision: int | None = Field(
        default=None, ge=1, description="The revision the edit started from: 409 if someone saved since")


class RestoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int = Field(ge=1)


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    context: list[ContextTurn] = Field(default_factory=list, max_length=MAX_TURNS)
    composer: Literal["template", "llm"] = "template"
    item: NewItem | None = Field(default=None, description="An unsaved edit (or new item) to draft with")


# -- answers ----------------------------------------------------------------------------------------

class RevisionInfo(BaseModel):
    id: str
    revision: int
    kind: str
    title: str
    tags: list[str]
    valid_from: datetime | None
    valid_to: datetime | None
    deleted: bool
    author: str | None = Field(description="The id of the key that wrote this revision")
    created_at: datetime | None = Field(description="When this revision was written")
    text_chars: int


class ItemSummary(RevisionInfo):
    excerpt: str
    active_now: bool = Field(description="In force now: not deleted and, for a notice, inside its window")


class Item(RevisionInfo):
    text: str
    active_now: bool
    current_revision: int


class WriteResult(Item):
    changed: bool = Field(description="False when the content was unchanged (no new revision)")


class ItemList(BaseModel):
    items: list[ItemSummary]
    now: datetime
    timezone: str


class RevisionList(BaseModel):
    id: str
    current_revision: int
    revisions: list[RevisionInfo] = Field(description="Oldest first")


class FieldChange(BaseModel):
    old: Any = Field(serialization_alias="from")
    new: Any = Field(serialization_alias="to")


class Diff(BaseModel):
    id: str
    from_revision: int
    to_revision: int
    changed: list[str] = Field(description="The fields that differ")
    fields: dict[str, FieldChange] = Field(description="Old and new values of changed fields other than text")
    diff: str = Field(description="Unified diff of the title and text")


class NoticeInfo(BaseModel):
    id: str
    revision: int
    title: str
    valid_from: datetime | None
    valid_to: datetime | None


class SearchResult(BaseModel):
    query: str
    k: int
    now: datetime
    passages: list[Passage] = Field(description="Best first, at most one per item; vector, BM25 and fused "
                                                "(reciprocal rank) scores with each retriever's rank")
    active_notices: list[NoticeInfo] = Field(description="Notices in force now: every draft reads these")


class PreviewItemOut(BaseModel):
    id: str
    kind: str
    active_now: bool
    retrieved: bool | None = Field(description="Policy/style: among the passages the drafter retrieved for "
                                               "this message; null for notices (they are read, not searched)")
    cited: bool = Field(description="The draft cites it")
    passage: Passage | None
    note: str


class PreviewOut(BaseModel):
    draft: DraftResult = Field(description="Not stored: its id is null and nobody can approve it")
    stored: Literal[False] = False
    query: str | None = Field(description="What the drafter searched the knowledge base with")
    passages: list[Passage] = Field(description="What it retrieved (policies and style guides)")
    notices: list[NoticeInfo] = Field(description="The notices in force now, which the drafter reads")
    item: PreviewItemOut | None = Field(description="How the unsaved item (revision 0) was used")


# -- helpers ----------------------------------------------------------------------------------------

def _zone(c: Container, shop_id: str) -> tzinfo:
    return c.shops.get(shop_id).settings.zone


def _local(dt: datetime | None, zone: tzinfo) -> datetime | None:
    return dt.astimezone(zone) if dt is not None else None


def _info(d: KnowledgeDoc, zone: tzinfo) -> dict[str, Any]:
    return {"id": d.id, "revision": d.revision, "kind": d.kind, "title": d.title, "tags": list(d.tags),
            "valid_from": _local(d.valid_from, zone), "valid_to": _local(d.valid_to, zone), "deleted": d.deleted,
            "author": d.author, "created_at": _local(d.created_at, zone), "text_chars": len(d.text)}


def _item(c: Container, d: KnowledgeDoc, zone: tzinfo, current_revision: int | None = None) -> Item:
    return Item(**_info(d, zone), text=d.text, active_now=d.active_at(c.clock.now()),
                current_revision=current_revision or d.revision)


def _notice_info(d: KnowledgeDoc, zone: tzinfo) -> NoticeInfo:
    return NoticeInfo(id=d.id, revision=d.revision, title=d.title, valid_from=_local(d.valid_from, zone),
                      valid_to=_local(d.valid_to, zone))


def _check_window(kind: str, f: _Fields) -> None:
    if kind != "notice":
        for name in ("valid_from", "valid_to"):
            if getattr(f, name) is not None:
                raise InvalidInput(f"{name} is only for notices (this item is a {kind})", field=name)
    if f.valid_from and f.valid_to and f.valid_to <= f.valid_from:
        raise InvalidInput("valid_to must be after valid_from", field="valid_to")


def _service(c: Container) -> Any:
    if c.service is None:
        raise Unavailable("the knowledge index is not running in this process")
    return c.service


def _retriever(c: Container) -> Retriever:
    if c.retriever is None:
        raise Unavailable("the knowledge index is not running in this process")
    return c.retriever  # type: ignore[no-any-return]


def _written(c: Container, shop_id: str, doc: KnowledgeDoc, changed: bool) -> WriteResult:
    return WriteResult(**_item(c, doc, _zone(c, shop_id)).model_dump(), changed=changed)


# -- routes (the fixed paths come before /{item_id}) ------------------------------------------------

@router.get("", response_model=ItemList)
def list_items(key: Principal, c: ContainerDep, kind: Kind | None = None,
               include_deleted: bool = False) -> ItemList:
    """The current revision of every item (deleted ones only with ``include_deleted``), by id."""
    zone = _zone(c, key.shop_id)
    now = c.clock.now()
    docs = c.knowledge.list(key.shop_id, kind=kind, include_deleted=include_deleted)
    items = [ItemSummary(**_info(d, zone), excerpt=d.text[:140], active_now=d.active_at(now)) for d in docs]
    return ItemList(items=items, now=now.astimezone(zone), timezone=str(zone))


@router.post("", status_code=201, response_model=WriteResult)
def create_item(body: NewItem, key: ManagerKey, c: ContainerDep) -> WriteResult:
    """Create an item (revision 1). An id that exists, even deleted, is a 409: edit or restore it instead."""
    if body.id.lower() in RESERVED_IDS:
        raise InvalidInput(f"the id {body.id!r} is reserved", field="id")
    _check_window(body.kind, body)
    try:
        old = c.knowledge.get(key.shop_id, body.id)
    except KnowledgeNotFound:
        old = None
    if old is not None:
        state = "deleted; restore it" if old.deleted else "edit it with PUT"
        raise Conflict(f"knowledge item {body.id!r} already exists ({state} or choose another id)", field="id")
    doc, changed = _service(c).upsert(key.shop_id, body.id, kind=body.kind, title=body.title, text=body.text,
                                      tags=body.tags, valid_from=body.valid_from, valid_to=body.valid_to,
                                      author=key.id)
    return _written(c, key.shop_id, doc, changed)


@router.get("/search", response_model=SearchResult)
def search(key: Principal, c: ContainerDep,
           q: Annotated[str, Query(min_length=1, max_length=MAX_MESSAGE, description="e.g. a buyer message")],
           k: Annotated[int, Query(ge=1, le=20)] = 5,
           kind: Annotated[list[Kind] | None, Query(description="Only these kinds (repeatable)")] = None,
           ) -> SearchResult:
    """Retrieval preview: what hybrid retrieval finds for ``q`` now (notices only inside their window)."""
    retriever = _retriever(c)
    zone = _zone(c, key.shop_id)
    now = c.clock.now()
    passages = retriever.retrieve(key.shop_id, q, k=k, now=now, kinds=kind)
    notices = [_notice_info(d, zone) for d in c.knowledge.active_notices(key.shop_id, now)]
    return SearchResult(query=q, k=k, now=now.astimezone(zone), passages=passages, active_notices=notices)


@router.post("/preview", response_model=PreviewOut)
def preview(body: PreviewBody, key: Principal, c: ContainerDep) -> PreviewOut:
    """The draft ``message`` would get now for ``order_id``, optionally as if ``item`` were saved.

    Nothing is stored. The unsaved item takes part as revision 0: a notice is read like the saved
    ones when it is in force now; a policy or style guide is ranked together with the saved items.
    """
    shop_id = key.shop_id
    zone = _zone(c, shop_id)
    now = c.clock.now()
    services = c.draft_services()
    knowledge: Any = c.knowledge
    base: Any = services.retriever
    doc = None
    if body.item is not None:
        it = body.item
        _check_window(it.kind, it)
        doc = KnowledgeDoc(shop_id, it.id, it.kind, 0, it.title, it.text, list(it.tags), it.valid_from,
                           it.valid_to, False, now, key.id)
        knowledge = _Overlay(c.knowledge, doc)
        if base is not None:
            base = Retriever(knowledge, _OverlayIndex(base.index, base.embedder, doc), base.embedder,  # type: ignore[arg-type]
                             candidates=base.candidates, rrf_k=base.rrf_k)
    recorder = _Recorder(base) if base is not None else None
    services = dataclasses.replace(services, knowledge=knowledge, retriever=recorder)
    request = DraftRequest(order_id=body.order_id, message=body.message, context=body.context,
                           composer=body.composer)
    result, _ = run(request, shop_id, services, composer=body.composer)
    notices = knowledge.active_notices(shop_id, now)
    passages = recorder.passages if recorder is not None else []
    item_out = None
    if doc is not None:
        item_out = _item_use(doc, result, passages, recorder is not None and recorder.query is not None, now)
    return PreviewOut(draft=result, query=recorder.query if recorder else None, passages=passages,
                      notices=[_notice_info(d, zone) for d in notices], item=item_out)


@router.get("/{item_id}", response_model=Item)
def get_item(item_id: Annotated[str, Path(pattern=ID_PATTERN)], key: Principal, c: ContainerDep,
             revision: Annotated[int | None, Query(ge=1)] = None) -> Item:
    """The current revision (a deleted item shows its tombstone), or revision ``revision``."""
    current = c.knowledge.get(key.shop_id, item_id)
    doc = current if revision is None else c.knowledge.get(key.shop_id, item_id, revision)
    return _item(c, doc, _zone(c, key.shop_id), current.revision)


@router.put("/{item_id}", response_model=WriteResult)
def edit_item(item_id: Annotated[str, Path(pattern=ID_PATTERN)], body: ItemEdit, key: ManagerKey,
              c: ContainerDep) -> WriteResult:
    """Save an edit as a new revision; unchanged content keeps the current one (``changed`` false)."""
    current = c.knowledge.get(key.shop_id, item_id)
    if current.deleted:
        raise Conflict(f"knowledge item {item_id!r} is deleted: restore a revision first", field="id")
    if body.base_revision is not None and body.base_revision != current.revision:
        raise Conflict(f"knowledge item {item_id!r} was changed since revision {body.base_revision} "
                       f"(now revision {current.revision}): reload it and edit again", field="base_revision")
    kind = body.kind or current.kind
    _check_window(kind, body)
    doc, changed = _service(c).upsert(key.shop_id, item_id, kind=kind, title=body.title, text=body.text,
                                      tags=body.tags, valid_from=body.valid_from, valid_to=body.valid_to,
                                      author=key.id)
    return _written(c, key.shop_id, doc, changed)


@router.delete("/{item_id}", response_model=WriteResult)
def delete_item(item_id: Annotated[str, Path(pattern=ID_PATTERN)], key: ManagerKey,
                c: ContainerDep) -> WriteResult:
    """Delete as a tombstone revision (restorable). Deleting a deleted item changes nothing."""
    before = c.knowledge.get(key.shop_id, item_id)
    doc = before if before.deleted else _service(c).delete(key.shop_id, item_id, author=key.id)
    return _written(c, key.shop_id, doc, not before.deleted)


@router.get("/{item_id}/revisions", response_model=RevisionList)
def revisions(item_id: Annotated[str, Path(pattern=ID_PATTERN)], key: Principal,
              c: ContainerDep) -> RevisionList:
    zone = _zone(c, key.shop_id)
    revs = c.knowledge.revisions(key.shop_id, item_id)
    return RevisionList(id=item_id, current_revision=revs[-1].revision,
                        revisions=[RevisionInfo(**_info(d, zone)) for d in revs])


@router.get("/{item_id}/diff", response_model=Diff, response_model_by_alias=True)
def diff(item_id: Annotated[str, Path(pattern=ID_PATTERN)], key: Principal, c: ContainerDep,
         from_: Annotated[int | None, Query(alias="from", ge=1, description="Default: the one before `to`")] = None,
         to: Annotated[int | None, Query(ge=1, description="Default: the current revision")] = None) -> Diff:
    """What changed between two revisions: the fields that differ and a unified diff of title and text."""
    zone = _zone(c, key.shop_id)
    current = c.knowledge.get(key.shop_id, item_id)
    to = to or current.revision
    from_ = from_ or max(1, to - 1)
    a = c.knowledge.get(key.shop_id, item_id, from_)
    b = c.knowledge.get(key.shop_id, item_id, to)
    changed: list[str] = []
    fields: dict[str, FieldChange] = {}
    for name in ("kind", "title", "text", "tags", "valid_from", "valid_to", "deleted"):
        old, new = getattr(a, name), getattr(b, name)
        if old != new:
            changed.append(name)
            if name != "text":
                if isinstance(old, datetime) or isinstance(new, datetime):
                    old, new = _local(old, zone), _local(new, zone)
                fields[name] = FieldChange(old=old, new=new)

    def lines(d: KnowledgeDoc) -> list[str]:
        return [f"# {d.title}", "", *d.text.splitlines()]

    text = "\n".join(difflib.unified_diff(lines(a), lines(b), f"{item_id}@{from_}", f"{item_id}@{to}",
                                          lineterm=""))
    return Diff(id=item_id, from_revision=from_, to_revision=to, changed=changed, fields=fields, diff=text)


@router.post("/{item_id}/restore", response_model=WriteResult)
def restore(item_id: Annotated[str, Path(pattern=ID_PATTERN)], body: RestoreBody, key: ManagerKey,
            c: ContainerDep) -> WriteResult:
    """Make an old revision's content current again, as a new revision (also undeletes)."""
    before = c.knowledge.get(key.shop_id, item_id)
    doc = _service(c).restore(key.shop_id, item_id, body.revision, author=key.id)
    return _written(c, key.shop_id, doc, doc.revision != before.revision)


# -- the preview's unsaved item ---------------------------------------------------------------------

class _Overlay:
    """The shop's knowledge as if ``doc`` were saved (reads only; for one preview)."""

    def __init__(self, store: Any, doc: KnowledgeDoc) -> None:
        self.store, self.doc, self.clock = store, doc, store.clock

    def counter(self, shop_id: str) -> int:
        return -1  # a throwaway retriever builds its state once

    def active_notices(self, shop_id: str, at: datetime) -> list[KnowledgeDoc]:
        return [d for d in self.list(shop_id, kind="notice") if d.active_at(at)]

    def list(self, shop_id: str, kind: str | None = None, include_deleted: bool = False) -> list[KnowledgeDoc]:
        docs = [d for d in self.store.list(shop_id, include_deleted=include_deleted) if d.id != self.doc.id]
        docs.append(self.doc)
        return sorted((d for d in docs if kind is None or d.kind == kind), key=lambda d: d.id)


class _OverlayIndex:
    """The Chroma index, with the unsaved ``doc``'s chunks ranked in and its saved chunks left out."""

    def __init__(self, index: Any, embedder: Any, doc: KnowledgeDoc) -> None:
        self.index, self.doc = index, doc
        self.chunks = chunk_doc(doc)
        self.vectors = embedder.embed_passages([ch.search_text for ch in self.chunks])

    def drift(self, shop_id: str, docs: Any) -> ShopDrift:
        return ShopDrift(shop_id)  # the real index is the retriever's business; nothing to repair here

    def query(self, shop_id: str, query_embedding: np.ndarray, n: int = 20,
              kinds: Any = None) -> list[VectorHit]:
        hits = [h for h in self.index.query(shop_id, query_embedding, 2 * n, kinds) if h.doc_id != self.doc.id]
        if not kinds or self.doc.kind in kinds:
            # e5 vectors are L2-normalised: cosine similarity is the dot product (Chroma: distance = 1 - cos).
            sims = self.vectors @ np.asarray(query_embedding, dtype=np.float32).reshape(-1)
            hits += [VectorHit(ch.id, ch.doc_id, ch.kind, ch.revision, ch.n, ch.title, ch.text, 1.0 - float(s))
                     for ch, s in zip(self.chunks, sims, strict=True)]
        return sorted(hits, key=lambda h: h.distance)[:n]


class _Recorder:
    """Passes retrieval through and keeps what the drafter asked and got."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.query: str | None = None
        self.passages: list[Passage] = []

    def retrieve(self, shop_id: str, query: str, k: int = 4, now: Any = None, kinds: Any = None) -> list[Any]:
        out = self.inner.retrieve(shop_id, query, k=k, now=now, kinds=kinds)
        self.query, self.passages = query, list(out)
        return out  # type: ignore[no-any-return]


def _item_use(doc: KnowledgeDoc, result: DraftResult, passages: list[Passage], searched: bool,
              now: datetime) -> PreviewItemOut:
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
        return PreviewItemOut(id=doc.id, kind=doc.kind, active_now=active, retrieved=None, cited=cited,
                              passage=None, note=note)
    hit = next((p for p in passages if p.id == doc.id), None)
    if not searched:
        note = "The drafter did not search the knowledge base for this message (not a shipping question)."
    elif hit is not None:
        rank = passages.index(hit) + 1
        note = f"Retrieved as passage {rank} of {len(passages)} for this message."
    else:
        note = f"Not among the {len(passages)} passages the drafter retrieves for this message."
    return PreviewItemOut(id=doc.id, kind=doc.kind, active_now=active, retrieved=hit is not None if searched else None,
                          cited=cited, passage=hit, note=note)
