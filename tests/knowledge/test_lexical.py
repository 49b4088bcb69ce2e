from __future__ import annotations

import pytest

from knowledge.lexical import LexicalDoc, LexicalIndex, tokenize

DOCS = [
    LexicalDoc("s:ship-time:1:0", "ship-time",
               "发货时效 现货商品付款后48小时内发货。每天16:00前付款的订单当天发出。"),
    LexicalDoc("s:presale:1:0", "presale",
               "预售规则 预售商品按商品页标注的发货时间发货，支付尾款后按约定时间发出。"),
    LexicalDoc("s:carriers:1:0", "carriers",
               "快递说明 默认使用中通快递发货。订单满99元可申请改发顺丰，需补差价。"),
    LexicalDoc("s:signed:1:0", "signed",
               "签收异常 物流显示已签收但买家没有收到时，请买家查看驿站、快递柜。"),
]


def test_tokens_drop_particles_punctuation_and_case() -> None:
    toks = tokenize("亲，今天能发货吗？？ Shipped!")
    assert "发货" in toks and "今天" in toks and "ship" in toks
    assert not {"亲", "吗", "能", "，", "？", " ", "!"} & set(toks)
    assert tokenize("双十一") == tokenize("双十一")  # deterministic
    assert "双11" in tokenize("双十一发货慢")  # buyers' spelling meets the notice's


def test_bm25_ranks_the_document_with_the_rare_term_first() -> None:
    idx = LexicalIndex.build(DOCS)
    assert [h.doc_id for h in idx.search("预售什么时候发", 2)][0] == "presale"
    assert idx.search("能发顺丰吗", 1)[0].doc_id == "carriers"
    assert idx.search("显示签收了没收到", 1)[0].doc_id == "signed"
    assert idx.search("完全无关的词语 xyz", 5) == []
    assert idx.search("", 5) == []
    assert LexicalIndex.build([]).search("发货", 5) == []


def test_allow_filters_before_the_cut() -> None:
    idx = LexicalIndex.build(DOCS)
    hits = idx.search("发货", 2, allow=lambda doc_id: doc_id != "ship-time")
    assert len(hits) == 2 and all(h.doc_id != "ship-time" for h in hits)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path):
    from core.db import make_engine, migrate

    url = f"sqlite:///{tmp_path}/lex.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()


def test_the_database_ranks_as_in_process_bm25_did(db) -> None:
    """knowledge.fulltext computes BM25 in SQL (PostgreSQL tsvector / SQLite FTS5) with the formula of the
    in-process index it replaced: same chunks, same order, same scores, per shop."""
    from zoneinfo import ZoneInfo

    from core.clock import FixedClock
    from knowledge import fulltext
    from knowledge.chunking import chunk_doc
    from knowledge.importer import parse_dir
    from knowledge.shops import ShopStore
    from knowledge.store import KnowledgeStore
    from tests.knowledge.conftest import DEMO_KB, NOW

    clock = FixedClock(NOW)
    store = KnowledgeStore(db, clock)
    for shop in ("a", "b"):
        ShopStore(db, clock).ensure(shop)
    for p in parse_dir(DEMO_KB, ZoneInfo("Asia/Shanghai")):
        store.upsert("a", p.id, kind=p.kind, title=p.title, text=p.text, tags=p.tags)
    # Another shop's words must not change shop a's scores (document frequencies are per shop).
    for i in range(30):
        store.upsert("b", f"x{i}", kind="policy", title="顺丰", text=f"顺丰包邮第{i}条，发货快。")
    chunks = [c for d in store.list("a") for c in chunk_doc(d)]
    ref = LexicalIndex.build(LexicalDoc(c.id, c.doc_id, c.search_text) for c in chunks)
    far_future = NOW.replace(year=2030)  # every notice out of its window: compare over policies only
    allowed = {c.id for c in chunks if c.kind != "notice"}
    for q in ("能换成顺丰吗？差价我补", "预售的什么时候能发啊", "显示签收了但我没收到啊", "Has my order shipped yet?"):
        want = [(h.chunk_id, h.score) for h in ref.search(q, 200) if h.chunk_id in allowed][:8]
        with db.connect() as conn:
            got = [(r.chunk_id, s) for r, s in fulltext.search(conn, "a", q, 8, now=far_future, kinds=["policy", "style"])]
        assert [c for c, _ in got] == [c for c, _ in want], q
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-9), q
