"""Revisions: an edit makes a new revision, a delete is a tombstone, nothing is overwritten."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.errors import InvalidInput
from knowledge.errors import KnowledgeNotFound, ShopNotFound
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import CST, SHOP


def test_edit_adds_a_revision_and_keeps_the_old_one(store: KnowledgeStore, clock) -> None:
    d1, changed = store.upsert(SHOP, "ship-time", kind="policy", title="发货时效", text="48小时内发货", author="m1")
    assert changed and d1.revision == 1
    again, changed = store.upsert(SHOP, "ship-time", kind="policy", title="发货时效", text="48小时内发货")
    assert not changed and again.revision == 1
    clock.advance(hours=1)
    d2, changed = store.upsert(SHOP, "ship-time", kind="policy", title="发货时效", text="72小时内发货", author="m2")
    assert changed and d2.revision == 2
    revs = store.revisions(SHOP, "ship-time")
    assert [(r.revision, r.text, r.author) for r in revs] == [(1, "48小时内发货", "m1"), (2, "72小时内发货", "m2")]
    assert store.get(SHOP, "ship-time", revision=1).text == "48小时内发货"
    assert store.get(SHOP, "ship-time").text == "72小时内发货"


def test_delete_is_a_tombstone_and_restore_brings_it_back(store: KnowledgeStore) -> None:
    store.upsert(SHOP, "p", kind="policy", title="T", text="one")
    store.delete(SHOP, "p")
    assert store.list(SHOP) == []
    assert [d.id for d in store.list(SHOP, include_deleted=True)] == ["p"]
    restored = store.restore(SHOP, "p", 1)
    assert restored.revision == 3 and restored.text == "one" and not restored.deleted
    assert [r.deleted for r in store.revisions(SHOP, "p")] == [False, True, False]


def test_every_write_bumps_the_counter(store: KnowledgeStore) -> None:
    c0 = store.counter(SHOP)
    store.upsert(SHOP, "p", kind="policy", title="T", text="one")
    store.upsert(SHOP, "p", kind="policy", title="T", text="one")  # unchanged: no bump
    store.delete(SHOP, "p")
    assert store.counter(SHOP) == c0 + 2


def test_notices_only_inside_their_window(store: KnowledgeStore) -> None:
    start = datetime(2026, 11, 11, tzinfo=CST)
    store.upsert(SHOP, "n1", kind="notice", title="积压", text="仓库积压", valid_from=start,
                 valid_to=start + timedelta(days=3))
    assert [n.id for n in store.active_notices(SHOP, start + timedelta(days=1))] == ["n1"]
    assert store.active_notices(SHOP, start - timedelta(seconds=1)) == []
    assert store.active_notices(SHOP, start + timedelta(days=3, seconds=1)) == []


def test_notices_kept_per_counter_show_another_workers_write_at_the_next_read(store: KnowledgeStore, engine,
                                                                              clock) -> None:
    """A worker keeps a shop's notices under the shop's knowledge counter; every write moves the counter."""
    start = datetime(2026, 11, 11, tzinfo=CST)
    at = start + timedelta(days=1)
    shops = ShopStore(engine, clock)
    other = KnowledgeStore(engine, clock)  # another worker, writing
    store.upsert(SHOP, "n1", kind="notice", title="积压", text="仓库积压", valid_from=start)

    def seen() -> list[tuple[str, str]]:
        return [(n.id, n.text) for n in store.active_notices(SHOP, at, counter=shops.get(SHOP).knowledge_counter)]

    assert seen() == [("n1", "仓库积压")]
    other.upsert(SHOP, "n2", kind="notice", title="停发", text="暂停发货", valid_from=start)
    assert seen() == [("n1", "仓库积压"), ("n2", "暂停发货")]
    other.upsert(SHOP, "n1", kind="notice", title="积压", text="积压已缓解", valid_from=start)
    assert seen() == [("n1", "积压已缓解"), ("n2", "暂停发货")]
    other.delete(SHOP, "n2")
    assert seen() == [("n1", "积压已缓解")]
    # The same counter serves the kept list: a change that bypasses KnowledgeStore (and so the counter) is
    # not read. Every write path in KnowledgeStore bumps the counter in its own transaction.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE knowledge_revisions SET text = 'bypassed' WHERE item_id = 'n1'"))
    assert seen() == [("n1", "积压已缓解")]
    assert [n.text for n in store.active_notices(SHOP, at)] == ["bypassed"]  # no counter given: read afresh


@pytest.mark.parametrize("kw,field", [
    ({"doc_id": "bad id!"}, "id"),
    ({"kind": "faq"}, "kind"),
    ({"title": ""}, "title"),
    ({"text": "  "}, "text"),
    ({"valid_from": datetime(2026, 1, 1)}, "valid_from"),
    ({"valid_from": datetime(2026, 2, 1, tzinfo=CST), "valid_to": datetime(2026, 1, 1, tzinfo=CST)}, "valid_to"),
])
def test_bad_fields_are_named(store: KnowledgeStore, kw: dict, field: str) -> None:
    args = {"doc_id": "p", "kind": "notice", "title": "T", "text": "x", **kw}
    doc_id = args.pop("doc_id")
    with pytest.raises(InvalidInput) as exc:
        store.upsert(SHOP, doc_id, **args)
    assert exc.value.field == field
    assert store.list(SHOP) == []


def test_unknown_shop_and_item(store: KnowledgeStore) -> None:
    with pytest.raises(ShopNotFound):
        store.upsert("nope", "p", kind="policy", title="T", text="x")
    with pytest.raises(KnowledgeNotFound):
        store.get(SHOP, "missing")


def test_items_written_before_the_search_rows_existed_are_backfilled(store, engine) -> None:
    """Migration 0010 creates knowledge_chunks empty: start-up fills it for items that predate it."""
    import sqlalchemy as sa

    from core.tables import knowledge_chunks
    from knowledge import fulltext
    from tests.knowledge.conftest import NOW, SHOP

    store.upsert(SHOP, "ship-time", kind="policy", title="发货时效", text="现货付款后48小时内发货。")
    store.upsert(SHOP, "gone", kind="policy", title="旧", text="旧规则。")
    store.delete(SHOP, "gone")
    with engine.begin() as conn:  # as an older version left it
        fulltext.delete_item(conn, SHOP, "ship-time")
    with engine.connect() as conn:
        assert fulltext.search(conn, SHOP, "多久发货", 5, now=NOW) == []
    assert fulltext.backfill(engine) == 1 and fulltext.backfill(engine) == 0
    with engine.connect() as conn:
        hits = fulltext.search(conn, SHOP, "多久发货", 5, now=NOW)
        assert [r.item_id for r, _ in hits] == ["ship-time"]
        assert conn.execute(sa.select(sa.func.count()).select_from(knowledge_chunks)).scalar_one() == 1
