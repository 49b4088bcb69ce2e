"""Knowledge files: all-or-nothing, idempotent import; errors name the file and line; export round-trips."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from knowledge.errors import ImportFileError
from knowledge.importer import export_dir, import_dir
from knowledge.service import KnowledgeService
from knowledge.shops import ShopStore
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import CST, DEMO_KB, SHOP

GOOD = """---
id: ship-time
title: 发货时效
kind: policy
tags: [发货]
---
现货商品付款后48小时内发货。
"""


def write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def test_import_is_idempotent(service: KnowledgeService, store: KnowledgeStore) -> None:
    first = import_dir(service, SHOP, DEMO_KB)
    assert first.counts == {"created": 18, "updated": 0, "unchanged": 0} and first.index_ok
    counter = store.counter(SHOP)
    again = import_dir(service, SHOP, DEMO_KB)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 18}
    assert store.counter(SHOP) == counter  # no new revision anywhere
    assert all(d.revision == 1 for d in store.list(SHOP))


def test_a_changed_file_makes_one_new_revision(tmp_path: Path, service: KnowledgeService,
                                               store: KnowledgeStore) -> None:
    kb = tmp_path / "kb"
    write(kb, "ship-time.md", GOOD)
    import_dir(service, SHOP, kb)
    write(kb, "ship-time.md", GOOD.replace("48小时", "72小时"))
    res = import_dir(service, SHOP, kb)
    assert res.counts == {"created": 0, "updated": 1, "unchanged": 0}
    assert store.get(SHOP, "ship-time").revision == 2
    assert service.index.doc_revisions(SHOP) == {"ship-time": 2}


def test_bom_and_crlf_files_import_like_any_other(tmp_path: Path, service: KnowledgeService,
                                                  store: KnowledgeStore) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "ship-time.md").write_bytes(("\ufeff" + GOOD.replace("\n", "\r\n")).encode("utf-8"))
    import_dir(service, SHOP, kb)
    assert store.get(SHOP, "ship-time").text == "现货商品付款后48小时内发货。"
    write(kb, "ship-time.md", GOOD)
    assert import_dir(service, SHOP, kb).counts["unchanged"] == 1


def test_notice_dates_with_offsets_and_bare_dates(tmp_path: Path, service: KnowledgeService,
                                                  store: KnowledgeStore) -> None:
    write(tmp_path / "kb", "n.md", "---\nid: n1\ntitle: 双11\nkind: notice\n"
                                   "valid_from: 2026-11-11T00:00:00+08:00\n"
                                   "valid_to: 2026-11-18\n---\n仓库积压，延迟1-2天。\n")
    import_dir(service, SHOP, tmp_path / "kb")
    n = store.get(SHOP, "n1")
    assert n.valid_from == datetime(2026, 11, 11, tzinfo=CST)
    assert n.valid_to == datetime(2026, 11, 18, 23, 59, 59, tzinfo=CST)  # a bare date is the whole day


BAD = [
    ("bad-yaml.md", "---\nid: x\ntitle: [unclosed\nkind: policy\n---\ntext\n", 4, "invalid YAML"),
    ("no-title.md", "---\nid: x\nkind: policy\n---\ntext\n", 1, "missing required key 'title'"),
    ("bad-kind.md", "---\nid: x\ntitle: T\nkind: faq\n---\ntext\n", 4, "kind must be one of"),
    ("bad-date.md", "---\nid: x\ntitle: T\nkind: notice\nvalid_from: 下周一\n---\ntext\n", 5, "valid_from"),
    ("naive.md", "---\nid: x\ntitle: T\nkind: notice\nvalid_to: 2026-11-18T10:00:00\n---\ntext\n", 5,
     "UTC offset"),
    ("reversed.md",
     "---\nid: x\ntitle: T\nkind: notice\nvalid_from: 2026-11-18\nvalid_to: 2026-11-11\n---\nt\n",
     6, "valid_to must be after valid_from"),
    ("bad-id.md", "---\nid: bad id!\ntitle: T\nkind: policy\n---\ntext\n", 2, "id must be"),
    ("typo.md", "---\nid: x\ntitle: T\nkind: policy\nvaild_to: 2026-11-18\n---\ntext\n", 5,
     "unknown key 'vaild_to'"),
    ("empty-body.md", "---\nid: x\ntitle: T\nkind: policy\n---\n\n", 6, "text must be"),
    ("no-front.md", "# 发货时效\n现货48小时内发货。\n", 1, "must start with a '---'"),
    ("unclosed.md", "---\nid: x\ntitle: T\n", 1, "no closing '---'"),
]


@pytest.mark.parametrize("name,text,line,needle", BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_named_with_its_line_and_nothing_is_imported(
        tmp_path: Path, service: KnowledgeService, store: KnowledgeStore,
        name: str, text: str, line: int, needle: str) -> None:
    kb = tmp_path / "kb"
    write(kb, "a-good.md", GOOD)  # sorts first: it would be written if import were not all or nothing
    bad = write(kb, name, text)
    with pytest.raises(ImportFileError) as exc:
        import_dir(service, SHOP, kb)
    err = exc.value
    assert err.path == str(bad) and err.line == line, str(err)
    assert needle in str(err) and f"{bad}:{line}:" in str(err)
    assert store.list(SHOP) == [] and store.counter(SHOP) == 0
    assert service.index.count() == 0


def test_duplicate_ids_are_refused(tmp_path: Path, service: KnowledgeService, store: KnowledgeStore) -> None:
    kb = tmp_path / "kb"
    write(kb, "a.md", GOOD)
    b = write(kb, "b.md", GOOD)
    with pytest.raises(ImportFileError, match="also used by a.md") as exc:
        import_dir(service, SHOP, kb)
    assert exc.value.path == str(b) and exc.value.line == 2
    assert store.list(SHOP) == []


def test_a_failure_in_the_sql_transaction_rolls_everything_back(tmp_path: Path, service: KnowledgeService,
                                                                 store: KnowledgeStore) -> None:
    from knowledge.errors import ShopNotFound

    with pytest.raises(ShopNotFound):
        import_dir(service, "no-such-shop", DEMO_KB)
    assert service.index.count() == 0


def test_export_then_import_is_a_no_op(tmp_path: Path, service: KnowledgeService,
                                       store: KnowledgeStore) -> None:
    import_dir(service, SHOP, DEMO_KB)
    service.delete(SHOP, "tone")
    out = tmp_path / "export"
    assert export_dir(service, SHOP, out) == 17
    assert sorted(p.stem for p in out.glob("*.md")) == sorted(d.id for d in store.list(SHOP))
    assert import_dir(service, SHOP, out).counts == {"created": 0, "updated": 0, "unchanged": 17}
    # And into another shop it reproduces the same documents.
    ShopStore(store.engine, store.clock).ensure("copy")
    assert import_dir(service, "copy", out).counts["created"] == 17
    key = lambda d: (d.id, d.content_key())  # noqa: E731
    assert sorted(map(key, store.list("copy"))) == sorted(map(key, store.list(SHOP)))
