"""Policies, notices and style guides in SQL, with revisions.

SQL is the source of truth: every edit appends a revision (nothing is overwritten). The same
transaction replaces the item's search rows (``knowledge.fulltext``), so the lexical index the
database keeps is never behind SQL. ``knowledge_counter`` still counts a shop's writes (caches of
derived data, e.g. eval's, key on it).
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.clock import Clock
from core.db import utc
from core.errors import InvalidInput
from core.tables import knowledge_items, knowledge_revisions, shops
from knowledge.errors import KnowledgeNotFound, ShopNotFound
from knowledge.notice_effects import dump_effects, parse_effects

KINDS = ("policy", "notice", "style")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
MAX_TITLE, MAX_TEXT = 200, 20_000
MAX_TAG, MAX_TAGS = 50, 30
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class KnowledgeDoc:
    shop_id: str
    id: str
    kind: str
    revision: int
    title: str
    text: str
    tags: list[str] = field(default_factory=list)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    deleted: bool = False
    created_at: datetime | None = None
    author: str | None = None
    # A notice's effects on dispatch, in their JSON form (validated on write; empty = information only).
    effects: list[dict[str, Any]] = field(default_factory=list)

    def active_at(self, at: datetime) -> bool:
        """Whether a notice is in force at ``at`` (policies always are)."""
        if self.deleted:
            return False
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_to and at > self.valid_to)

    def content_key(self) -> tuple:
        return (self.kind, self.title, self.text, tuple(self.tags), self.valid_from, self.valid_to,
                json.dumps(self.effects, sort_keys=True))


def _doc(row: sa.Row) -> KnowledgeDoc:
    return KnowledgeDoc(
        shop_id=row.shop_id, id=row.item_id, kind=row.kind, revision=row.revision, title=row.title,
        text=row.text, tags=json.loads(row.tags_json), valid_from=utc(row.valid_from),
        valid_to=utc(row.valid_to), deleted=bool(row.deleted), created_at=utc(row.created_at),
        author=row.author, effects=json.loads(row.effects_json) if row.effects_json else [])


def printable(v: str) -> str:
    """``v`` unchanged, or ValueError if it holds a control character other than tab and newline.

    PostgreSQL cannot store NUL, and no rule needs the others.
    """
    if _CONTROL.search(v):
        raise ValueError("control characters (other than tab and newline) are not allowed")
    return v


def validate_window(kind: str, valid_from: datetime | None, valid_to: datetime | None) -> None:
    """A validity window belongs to notices only, needs UTC offsets, and must not be empty."""
    for name, v in (("valid_from", valid_from), ("valid_to", valid_to)):
        if v is None:
            continue
        if kind != "notice":
            raise InvalidInput(f"{name} is only for notices (this item is a {kind})", field=name)
        if v.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset (e.g. +08:00)", field=name)
    if valid_from and valid_to and valid_to <= valid_from:
        raise InvalidInput("valid_to must be after valid_from", field="valid_to")


def validate_doc_fields(doc_id: str, kind: str, title: str, text: str, valid_from: datetime | None,
                        valid_to: datetime | None, tags: Iterable[str] = ()) -> None:
    """Every rule a knowledge document's fields obey, wherever it is written from (API, import, eval)."""
    if not re.match(ID_PATTERN, doc_id or ""):
        raise InvalidInput("id must be 1-100 characters of letters, digits, '.', '_' or '-'", field="id")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    for name, value, limit in (("title", title, MAX_TITLE), ("text", text, MAX_TEXT)):
        if not value.strip() or len(value) > limit:
            raise InvalidInput(f"{name} must be 1-{limit} characters", field=name)
        if _CONTROL.search(value):
            raise InvalidInput(f"{name}: control characters (other than tab and newline) are not allowed",
                               field=name)
    tag_list = [str(t) for t in tags]
    if len(tag_list) > MAX_TAGS or any(not t.strip() or len(t) > MAX_TAG or _CONTROL.search(t) for t in tag_list):
        raise InvalidInput(f"tags: at most {MAX_TAGS}, each 1-{MAX_TAG} printable characters", field="tags")
    validate_window(kind, valid_from, valid_to)


# Shops whose notices a process keeps (see ``KnowledgeStore.active_notices``); beyond it the cache starts over.
NOTICE_CACHE_SHOPS = 4096


class KnowledgeStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        # shop -> (knowledge_counter when read, the shop's live notices): see active_notices.
        self._notices: dict[str, tuple[int, builtins.list[KnowledgeDoc]]] = {}

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, shop_id: str, doc_id: str, *, kind: str, title: str, text: str,
               tags: Iterable[str] = (), valid_from: datetime | None = None,
               valid_to: datetime | None = None, author: str | None = None,
               effects: Iterable[Any] | None = None,
               conn: Connection | None = None) -> tuple[KnowledgeDoc, bool]:
        """Create or edit; returns (doc, changed). Unchanged content makes no new revision."""
        tag_list = [str(t) for t in tags]
        validate_doc_fields(doc_id, kind, title, text, valid_from, valid_to, tag_list)
        effects_out = dump_effects(parse_effects(list(effects) if effects is not None else None, kind=kind))
        if conn is None:
            with self.engine.begin() as c:
                return self.upsert(shop_id, doc_id, kind=kind, title=title, text=text, tags=tag_list,
                                   valid_from=valid_from, valid_to=valid_to, author=author, effects=effects_out,
                                   conn=c)
        self._require_shop(conn, shop_id)
        now = self.clock.now()
        item = conn.execute(sa.select(knowledge_items).where(
            knowledge_items.c.shop_id == shop_id, knowledge_items.c.id == doc_id)).first()
        new = KnowledgeDoc(shop_id, doc_id, kind, 1, title, text, tag_list, utc(valid_from), utc(valid_to),
                           False, now, author, effects_out)
        if item is None:
            conn.execute(knowledge_items.insert().values(
                shop_id=shop_id, id=doc_id, kind=kind, current_revision=1, deleted=False,
                created_at=now, updated_at=now))
        else:
            current = self._get(conn, shop_id, doc_id, item.current_revision)
            if not item.deleted and current.content_key() == new.content_key():
                return current, False
            rev = item.current_revision + 1
            new = KnowledgeDoc(shop_id, doc_id, kind, rev, title, text, tag_list, utc(valid_from),
                               utc(valid_to), False, now, author, effects_out)
            conn.execute(knowledge_items.update().where(
                knowledge_items.c.shop_id == shop_id, knowledge_items.c.id == doc_id).values(
                kind=kind, current_revision=rev, deleted=False, updated_at=now))
        self._insert_revision(conn, new)
        self._write_search_rows(conn, new)
        self._bump(conn, shop_id)
        return new, True

    def delete(self, shop_id: str, doc_id: str, author: str | None = None) -> KnowledgeDoc:
        """A deletion is a revision too (a tombstone), so it can be restored."""
        with self.engine.begin() as conn:
            item = self._item(conn, shop_id, doc_id)
            if item.deleted:
                return self._get(conn, shop_id, doc_id, item.current_revision)
            cur = self._get(conn, shop_id, doc_id, item.current_revision)
            rev = item.current_revision + 1
            now = self.clock.now()
            tomb = KnowledgeDoc(shop_id, doc_id, cur.kind, rev, cur.title, cur.text, cur.tags,
                                cur.valid_from, cur.valid_to, True, now, author, cur.effects)
            self._insert_revision(conn, tomb)
            self._write_search_rows(conn, tomb)
            conn.execute(knowledge_items.update().where(
                knowledge_items.c.shop_id == shop_id, knowledge_items.c.id == doc_id).values(
                current_revision=rev, deleted=True, updated_at=now))
            self._bump(conn, shop_id)
            return tomb

    def restore(self, shop_id: str, doc_id: str, revision: int, author: str | None = None) -> KnowledgeDoc:
        with self.engine.begin() as conn:
            self._item(conn, shop_id, doc_id)
            old = self._get(conn, shop_id, doc_id, revision)
            doc, _ = self.upsert(shop_id, doc_id, kind=old.kind, title=old.title, text=old.text,
                                 tags=old.tags, valid_from=old.valid_from, valid_to=old.valid_to,
                                 author=author, effects=old.effects, conn=conn)
            return doc

    # -- reads ------------------------------------------------------------------------------
    def get(self, shop_id: str, doc_id: str, revision: int | None = None) -> KnowledgeDoc:
        with self.engine.connect() as conn:
            item = self._item(conn, shop_id, doc_id)
            return self._get(conn, shop_id, doc_id, revision or item.current_revision)

    def list(self, shop_id: str, kind: str | None = None, include_deleted: bool = False) -> builtins.list[KnowledgeDoc]:
        q = sa.select(knowledge_revisions).join(knowledge_items, sa.and_(
            knowledge_items.c.shop_id == knowledge_revisions.c.shop_id,
            knowledge_items.c.id == knowledge_revisions.c.item_id,
            knowledge_items.c.current_revision == knowledge_revisions.c.revision,
        )).where(knowledge_items.c.shop_id == shop_id).order_by(knowledge_items.c.id)
        if kind:
            q = q.where(knowledge_items.c.kind == kind)
        if not include_deleted:
            q = q.where(knowledge_items.c.deleted == sa.false())
        with self.engine.connect() as conn:
            return [_doc(r) for r in conn.execute(q)]

    def revisions(self, shop_id: str, doc_id: str) -> builtins.list[KnowledgeDoc]:
        with self.engine.connect() as conn:
            self._item(conn, shop_id, doc_id)
            rows = conn.execute(sa.select(knowledge_revisions).where(
                knowledge_revisions.c.shop_id == shop_id, knowledge_revisions.c.item_id == doc_id,
            ).order_by(knowledge_revisions.c.revision))
            return [_doc(r) for r in rows]

    def active_notices(self, shop_id: str, at: datetime, *, counter: int | None = None) -> builtins.list[KnowledgeDoc]:
        """The shop's notices in force at ``at``.

        Given the shop's ``knowledge_counter`` as the caller just read it (every draft reads the shop's row),
        the notices come from this process's memory while the counter is unchanged: every knowledge write
        bumps it in its own transaction, so a write is seen at the next draft on every worker, and a list read
        after the counter can only be as new as or newer than the counter it is kept under."""
        if counter is None:
            return [d for d in self.list(shop_id, kind="notice") if d.active_at(at)]
        kept = self._notices.get(shop_id)
        if kept is None or kept[0] != counter:
            if len(self._notices) >= NOTICE_CACHE_SHOPS:
                self._notices.clear()
            kept = (counter, self.list(shop_id, kind="notice"))
            self._notices[shop_id] = kept
        return [d for d in kept[1] if d.active_at(at)]

    def counter(self, shop_id: str) -> int:
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(shops.c.knowledge_counter).where(shops.c.id == shop_id)).scalar()
        return int(v or 0)

    def unsaved(self, shop_id: str, doc_id: str, *, kind: str, title: str, text: str, tags: Iterable[str] = (),
                valid_from: datetime | None = None, valid_to: datetime | None = None,
                author: str | None = None, effects: Iterable[Any] | None = None) -> KnowledgeDoc:
        """An edit (or new item) held to the same rules as a save, as revision 0: for previews, never stored."""
        tag_list = [str(t) for t in tags]
        validate_doc_fields(doc_id, kind, title, text, valid_from, valid_to, tag_list)
        effects_out = dump_effects(parse_effects(list(effects) if effects is not None else None, kind=kind))
        return KnowledgeDoc(shop_id, doc_id, kind, 0, title, text, tag_list, utc(valid_from), utc(valid_to),
                            False, self.clock.now(), author, effects_out)

    def with_unsaved(self, doc: KnowledgeDoc) -> UnsavedView:
        """The shop's knowledge as if ``doc`` (e.g. an edit being previewed) were saved; reads only."""
        return UnsavedView(self, doc)

    # -- helpers ----------------------------------------------------------------------------
    def _require_shop(self, conn: Connection, shop_id: str) -> None:
        if conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).first() is None:
            raise ShopNotFound(f"shop {shop_id!r} does not exist")

    def _item(self, conn: Connection, shop_id: str, doc_id: str) -> sa.Row:
        item = conn.execute(sa.select(knowledge_items).where(
            knowledge_items.c.shop_id == shop_id, knowledge_items.c.id == doc_id)).first()
        if item is None:
            raise KnowledgeNotFound(f"knowledge item {doc_id!r} not found")
        return item

    def _get(self, conn: Connection, shop_id: str, doc_id: str, revision: int) -> KnowledgeDoc:
        row = conn.execute(sa.select(knowledge_revisions).where(
            knowledge_revisions.c.shop_id == shop_id, knowledge_revisions.c.item_id == doc_id,
            knowledge_revisions.c.revision == revision)).first()
        if row is None:
            raise KnowledgeNotFound(f"knowledge item {doc_id!r} has no revision {revision}")
        return _doc(row)

    def _insert_revision(self, conn: Connection, d: KnowledgeDoc) -> None:
        conn.execute(knowledge_revisions.insert().values(
            shop_id=d.shop_id, item_id=d.id, revision=d.revision, kind=d.kind, title=d.title,
            text=d.text, tags_json=json.dumps(d.tags, ensure_ascii=False), valid_from=d.valid_from,
            valid_to=d.valid_to, deleted=d.deleted, created_at=d.created_at, author=d.author,
            effects_json=json.dumps(d.effects, ensure_ascii=False) if d.effects else None))

    def _write_search_rows(self, conn: Connection, d: KnowledgeDoc) -> None:
        from knowledge.fulltext import write_doc  # fulltext chunks documents: it imports this module

        write_doc(conn, d)

    def _bump(self, conn: Connection, shop_id: str) -> None:
        conn.execute(shops.update().where(shops.c.id == shop_id).values(
            knowledge_counter=shops.c.knowledge_counter + 1))


class UnsavedView:
    """Reads of a ``KnowledgeStore`` in which ``doc`` replaces (or joins) its shop's saved item.

    For one preview: nothing is written, and ``doc`` keeps whatever revision it was given (0 for
    an unsaved edit), so what a draft cites from it can be told apart from the saved item.
    """

    def __init__(self, store: KnowledgeStore, doc: KnowledgeDoc) -> None:
        self.store, self.doc, self.clock = store, doc, store.clock

    def list(self, shop_id: str, kind: str | None = None,
             include_deleted: bool = False) -> builtins.list[KnowledgeDoc]:
        docs = self.store.list(shop_id, include_deleted=include_deleted)
        if shop_id == self.doc.shop_id:
            docs = [d for d in docs if d.id != self.doc.id]
            if include_deleted or not self.doc.deleted:
                docs.append(self.doc)
        return sorted((d for d in docs if kind is None or d.kind == kind), key=lambda d: d.id)

    def active_notices(self, shop_id: str, at: datetime, *, counter: int | None = None) -> builtins.list[KnowledgeDoc]:
        # A preview reads afresh: the unsaved doc is in no counter's cache.
        return [d for d in self.list(shop_id, kind="notice") if d.active_at(at)]

    def counter(self, shop_id: str) -> int:
        return self.store.counter(shop_id)
