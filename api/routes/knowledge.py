"""The knowledge base of the caller's shop: policies, notices and style guides, with revisions.

Reads and the retrieval preview are for every key; writes are for managers and admins, and record
the key id as the author (the store records when). Every write goes through ``KnowledgeService``,
so SQL (the truth) and the Chroma index stay in step. Another shop's items answer 404.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from api.container import Container
from api.deps import ContainerDep, ManagerKey, Principal
from core.errors import Unavailable
from drafter.preview import preview_draft
from drafter.request import MAX_MESSAGE, MAX_TURNS, ContextTurn, DraftRequest
from drafter.result import DraftResult
from knowledge.notice_effects import (
    MAX_EFFECTS,
    NoticeEffect,
    concerns_dispatch,
    dump_effects,
    suggest_notice_effects,
)
from knowledge.retrieve import Passage, Retriever
from knowledge.service import KnowledgeService
from knowledge.store import ID_PATTERN, MAX_TAG, MAX_TAGS, MAX_TEXT, MAX_TITLE, KnowledgeDoc, printable

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


def _item_id(v: str) -> str:
    if not re.fullmatch(ID_PATTERN, v):
        raise ValueError("use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return v


Kind = Literal["policy", "notice", "style"]
ItemId = Annotated[str, AfterValidator(_item_id)]
# The schema states the limits of knowledge/store.py (one set, checked again by the service) so that
# a bad body is a 422 naming the exact field, e.g. "tags.0".
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG),
                AfterValidator(printable)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(printable)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(printable)]


# -- bodies -----------------------------------------------------------------------------------------

class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    text: Text
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    valid_from: AwareDatetime | None = Field(default=None, description="Notices only; with a UTC offset")
    valid_to: AwareDatetime | None = Field(default=None, description="Notices only; with a UTC offset")
    effects: list[NoticeEffect] = Field(
        default_factory=list, max_length=MAX_EFFECTS,
        description="Notices only: what the notice does to dispatch (dispatch_pause, dispatch_delay, cutoff, "
                    "carriers); empty = information only. Never filled in from the text by the server.")


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

class SuggestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text
    valid_from: AwareDatetime | None = None


class SuggestedEffect(BaseModel):
    effect: dict[str, Any]
    evidence: str = Field(description="The words of the notice the effect was read from")


class SuggestOut(BaseModel):
    suggested: list[SuggestedEffect] = Field(description="For a manager to confirm; never applied by the server")
    concerns_dispatch: bool = Field(description="The text speaks about dispatch or logistics: without effects, "
                                                "drafts promise no day while it is in force")


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
    effects: list[dict[str, Any]] = Field(default_factory=list, description="Notices: effects on dispatch")


class ItemSummary(RevisionInfo):
    excerpt: str
    active_now: bool = Field(description="In force now: not deleted and, for a notice, inside its window")


class Item(RevisionInfo):
    text: str
    active_now: bool
    current_revision: int


class WriteResult(Item):
    changed: bool = Field(description="False when the content was unchanged (no new revision)")
    suggested_effects: list[SuggestedEffect] = Field(
        default_factory=list, description="Notices: effects read from the text that differ from the saved ones, "
                                          "for the manager to confirm with another write (never applied here)")


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
            "author": d.author, "created_at": _local(d.created_at, zone), "text_chars": len(d.text),
            "effects": list(d.effects)}


def _item(c: Container, d: KnowledgeDoc, zone: tzinfo, current_revision: int | None = None) -> Item:
    return Item(**_info(d, zone), text=d.text, active_now=d.active_at(c.clock.now()),
                current_revision=current_revision or d.revision)


def _notice_info(d: KnowledgeDoc, zone: tzinfo) -> NoticeInfo:
    return NoticeInfo(id=d.id, revision=d.revision, title=d.title, valid_from=_local(d.valid_from, zone),
                      valid_to=_local(d.valid_to, zone))


def _service(c: Container) -> KnowledgeService:
    if c.service is None:
        raise Unavailable("the knowledge index is not running in this process")
    return c.service


def _retriever(c: Container) -> Retriever:
    if c.retriever is None:
        raise Unavailable("the knowledge index is not running in this process")
    return c.retriever


def _fields(f: _Fields, author: str) -> dict[str, Any]:
    return {"title": f.title, "text": f.text, "tags": f.tags, "valid_from": f.valid_from, "valid_to": f.valid_to,
            "author": author, "effects": dump_effects(f.effects)}


def _written(c: Container, shop_id: str, doc: KnowledgeDoc, changed: bool) -> WriteResult:
    suggested: list[SuggestedEffect] = []
    if doc.kind == "notice" and not doc.deleted:
        zone = _zone(c, shop_id)
        found = suggest_notice_effects(doc.text, now=c.clock.now().astimezone(zone), valid_from=doc.valid_from)
        suggested = [SuggestedEffect(**s.as_dict()) for s in found if s.as_dict()["effect"] not in doc.effects]
    return WriteResult(**_item(c, doc, _zone(c, shop_id)).model_dump(), changed=changed, suggested_effects=suggested)


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
    doc = _service(c).create(key.shop_id, body.id, kind=body.kind, **_fields(body, key.id))
    return _written(c, key.shop_id, doc, True)


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
    zone = _zone(c, key.shop_id)
    doc = None
    if (it := body.item) is not None:
        doc = c.knowledge.unsaved(key.shop_id, it.id, kind=it.kind, **_fields(it, key.id))
    request = DraftRequest(order_id=body.order_id, message=body.message, context=body.context,
                           composer=body.composer)
    p = preview_draft(request, key.shop_id, c.draft_services(), store=c.knowledge, retriever=c.retriever,
                      unsaved=doc, composer=body.composer)
    item = PreviewItemOut.model_validate(p.item, from_attributes=True) if p.item is not None else None
    return PreviewOut(draft=p.draft, query=p.query, passages=p.passages,
                      notices=[_notice_info(d, zone) for d in p.notices], item=item)


@router.post("/suggest-effects", response_model=SuggestOut)
def suggest_effects(body: SuggestBody, key: ManagerKey, c: ContainerDep) -> SuggestOut:
    """Effects read from a notice's text (dates, closures, suspensions, postponements), for confirmation."""
    zone = _zone(c, key.shop_id)
    found = suggest_notice_effects(body.text, now=c.clock.now().astimezone(zone), valid_from=body.valid_from)
    return SuggestOut(suggested=[SuggestedEffect(**s.as_dict()) for s in found],
                      concerns_dispatch=concerns_dispatch(body.text))


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
    doc, changed = _service(c).edit(key.shop_id, item_id, kind=body.kind, base_revision=body.base_revision,
                                    **_fields(body, key.id))
    return _written(c, key.shop_id, doc, changed)


@router.delete("/{item_id}", response_model=WriteResult)
def delete_item(item_id: Annotated[str, Path(pattern=ID_PATTERN)], key: ManagerKey,
                c: ContainerDep) -> WriteResult:
    """Delete as a tombstone revision (restorable). Deleting a deleted item changes nothing."""
    doc, changed = _service(c).delete(key.shop_id, item_id, author=key.id)
    return _written(c, key.shop_id, doc, changed)


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
    for name in ("kind", "title", "text", "tags", "valid_from", "valid_to", "deleted", "effects"):
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
    doc, changed = _service(c).restore(key.shop_id, item_id, body.revision, author=key.id)
    return _written(c, key.shop_id, doc, changed)
