"""Policies, notices and style guides in SQL, with revisions.

SQL is the source of truth: every edit appends a revision (nothing is overwritten), and each
write bumps the shop's ``knowledge_counter`` so that every worker's in-process lexical index
knows to refresh at its next query.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.clock import Clock
from core.db import utc
from core.errors import InvalidInput
from core.tables import knowledge_items, knowledge_revisions, shops
from knowledge.errors import KnowledgeNotFound, ShopNotFound

KINDS = ("policy", "notice", "style")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


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

    def active_at(self, at: datetime) -> bool:
        """Whether a notice is in force at ``at`` (policies always are)."""
        if self.deleted:
            return False
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_to and at > self.valid_to)

    def content_key(self) -> tuple:
        return (self.kind, self.title, self.text, tuple(self.tags), self.valid_from, self.valid_to)


def _doc(row: sa.Row) -> KnowledgeDoc:
    return KnowledgeDoc(
        shop_id=row.shop_id, id=row.item_id, kind=row.kind, revision=row.revision, title=row.title,
        text=row.text, tags=json.loads(row.tags_json), valid_from=utc(row.valid_from),
        valid_to=utc(row.valid_to), deleted=bool(row.deleted), created_at=utc(row.created_at),
        author=row.author)


def validate_doc_fields(doc_id: str, kind: str, title: str, text: str,
                        valid_from: datetime | None, valid_to: datetime | None) -> None:
    import re

    if not re.match(ID_PATTERN, doc_id or ""):
        raise InvalidInput("id must be 1-100 characters of letters, digits, '.', '_' or '-'", field="id")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not title.strip() or len(title) > 200:
        raise InvalidInput("title must be 1-200 characters", field="title")
    if not text.strip() or len(text) > 100_000:
        raise InvalidInput("text must be 1-100000 characters", field="text")
    for name, v in (("valid_from", valid_from), ("valid_to", valid_to)):
        if v is not None and v.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset (e.g. +08:00)", field=name)
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidInput("valid_to is before valid_from", field="valid_to")


class KnowledgeStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, shop_id: str, doc_id: str, *, kind: str, title: str, text: str,
               tags: Iterable[str] = (), valid_from: datetime | None = None,
               valid_to: datetime | None = None, author: str | None = None,
               conn: Connection | None = None) -> tuple[KnowledgeDoc, bool]:
        """Create or edit; returns (doc, changed). Unchanged content makes no new revision."""
        validate_doc_fields(doc_id, kind, title, text, valid_from, valid_to)
        if conn is None:
            with self.engine.begin() as c:
                return self.upsert(shop_id, doc_id, kind=kind, title=title, text=text, tags=tags,
                                   valid_from=valid_from, valid_to=valid_to, author=author, conn=c)
        self._require_shop(conn, shop_id)
        now = self.clock.now()
        tags = [str(t) for t in tags]
        item = conn.execute(sa.select(knowledge_items).where(
            knowledge_items.c.shop_id == shop_id, knowledge_items.c.id == doc_id)).first()
        new = KnowledgeDoc(shop_id, doc_id, kind, 1, title, text, tags, utc(valid_from), utc(valid_to),
                           False, now, author)
        if item is None:
            conn.execute(knowledge_items.insert().values(
                shop_id=shop_id, id=doc_id, kind=kind, current_revision=1, deleted=False,
                created_at=now, updated_at=now))
        else:
            current = self._get(conn, shop_id, doc_id, item.current_revision)
            if not item.deleted and current.content_key() == new.content_key():
                return current, False
            rev = item.current_revision + 1
            new = KnowledgeDoc(shop_id, doc_id, kind, rev, title, text, tags, utc(valid_from),
                               utc(valid_to), False, now, author)
            conn.execute(knowledge_items.update().where(
                knowledge_items.c.shop_id == shop_id, knowledge_items.c.id == doc_id).values(
                kind=kind, current_revision=rev, deleted=False, updated_at=now))
        self._insert_revision(conn, new)
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
                                cur.valid_from, cur.valid_to, True, now, author)
            self._insert_revision(conn, tomb)
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
                                 author=author, conn=conn)
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

    def active_notices(self, shop_id: str, at: datetime) -> builtins.list[KnowledgeDoc]:
        return [d for d in self.list(shop_id, kind="notice") if d.active_at(at)]

    def counter(self, shop_id: str) -> int:
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(shops.c.knowledge_counter).where(shops.c.id == shop_id)).scalar()
        return int(v or 0)

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
            valid_to=d.valid_to, deleted=d.deleted, created_at=d.created_at, author=d.author))

    def _bump(self, conn: Connection, shop_id: str) -> None:
        conn.execute(shops.update().where(shops.c.id == shop_id).values(
            knowledge_counter=shops.c.knowledge_counter + 1))
