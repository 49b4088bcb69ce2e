from __future__ import annotations

import re

from knowledge.chunking import MAX_CHARS, chunk_doc, split_text
from knowledge.store import KnowledgeDoc

LONG_POLICY = "\n\n".join([
    "本店商品支持7天无理由退换货，自签收次日起计算。定制商品、已使用或影响二次销售的商品不支持无理由退换。",
    "买家需在订单页申请退货或换货，审核通过后按页面提供的退货地址寄回，请勿使用到付。退货时请保持商品、吊牌和包装完好，"
    "并在包裹内附上订单号。",
    "因质量问题、发错货、漏发产生的退换，来回运费由本店承担；非质量问题的退换，寄回运费由买家承担，已购买运费险的按保险规则理赔。",
    "仓库收到退货并验收后48小时内处理退款或换货发出；换货商品缺货的，按缺货处理规则告知买家，买家可改为退款。",
    "客服不得拒绝符合条件的退换货申请，也不得要求买家先给好评再处理售后。",
    "大件商品（家具、家电）退货需预约上门取件，取件费用按页面标注收取；生鲜、食品类商品签收后如有质量问题，请在24小时内拍照反馈。",
])


def _doc(text: str, **kw) -> KnowledgeDoc:
    return KnowledgeDoc(shop_id="s1", id="returns", kind="policy", revision=3, title="退换货", text=text,
                        **kw)


def test_short_text_is_one_chunk() -> None:
    text = "未付款订单不会进入发货流程。"
    assert [(c.id, c.text, c.n_chunks) for c in chunk_doc(_doc(text))] == [("s1:returns:3:0", text, 1)]


def test_long_policy_splits_on_sentence_boundaries() -> None:
    chunks = chunk_doc(_doc(LONG_POLICY))
    assert len(chunks) >= 2
    assert [c.id for c in chunks] == [f"s1:returns:3:{n}" for n in range(len(chunks))]
    assert all(c.n_chunks == len(chunks) for c in chunks)
    for c in chunks:
        assert len(c.text) <= MAX_CHARS
        assert c.text[-1] in "。！？"  # never cut mid-sentence
    # Nothing is lost: every sentence of the policy is in some chunk.
    for sentence in re.findall(r"[^。\n]+。", LONG_POLICY):
        assert any(sentence in c.text for c in chunks), sentence


def test_consecutive_chunks_overlap_by_a_short_sentence() -> None:
    text = "".join(f"第{i}条规定的内容写在这里，足够长以便切分。" for i in range(40))
    chunks = split_text(text, max_chars=120, overlap=40)
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:], strict=False):
        last_sentence = re.findall(r"[^。]+。", a)[-1]
        assert b.startswith(last_sentence)


def test_chunking_is_deterministic_and_keeps_title_in_search_text() -> None:
    a, b = chunk_doc(_doc(LONG_POLICY, tags=["退货"])), chunk_doc(_doc(LONG_POLICY, tags=["退货"]))
    assert a == b
    assert a[0].search_text.startswith("退换货（退货）\n")


def test_a_run_on_sentence_is_cut_with_overlapping_windows() -> None:
    text = "甲" * 700
    chunks = split_text(text, max_chars=300, overlap=80)
    assert all(len(c) <= 300 for c in chunks)
    assert sum(len(c) for c in chunks) >= 700


def test_deleted_doc_has_no_chunks_and_blank_text_none() -> None:
    assert chunk_doc(_doc("x。", deleted=True)) == []
    assert split_text("   \n ") == []
