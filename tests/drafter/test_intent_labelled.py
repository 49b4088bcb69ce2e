"""Intent on real messages: the kind distribution over ../shared/eval/real_messages.jsonl, and precision
on 100 of them labelled by hand (tests/drafter/intent_labels.py); Traditional, colloquial, mixed urges."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from drafter.intent import classify, normalize
from tests.conftest import shared_file
from tests.drafter.intent_labels import LABELS


def test_precision_on_100_hand_labelled_messages() -> None:
    msgs = {m["id"]: m for m in map(json.loads, shared_file("real_messages.jsonl").read_text(encoding="utf-8")
                                    .splitlines())}
    dist = Counter(classify(m["message"]).kind for m in msgs.values())
    pred = {i: classify(msgs[i]["message"]).kind for i in LABELS}
    right = sum(pred[i] == LABELS[i] for i in LABELS)
    report = {}
    for kind in ("urge", "logistics", "change_request", "complaint", "other"):
        got = [i for i in LABELS if pred[i] == kind]
        report[kind] = (sum(LABELS[i] == kind for i in got), len(got))
    print(f"\nreal messages ({len(msgs)}): {dict(dist)}; hand-labelled 100: {right} right; precision {report}")
    assert len(LABELS) == 100 and right >= 90
    assert dist["other"] <= len(msgs) * 0.02  # every message there is about shipping
    for kind, (ok, n) in report.items():
        if n:
            assert ok / n >= 0.85, (kind, ok, n)


@pytest.mark.parametrize(("message", "kind", "language"), [
    ("請問什麼時候出貨？", "urge", "zh"),
    ("我的訂單怎麼還沒發貨", "urge", "zh"),
    ("幫我催一下倉庫好嗎", "urge", "zh"),
    ("包裹到哪裡了", "logistics", "zh"),
    ("咋还不发", "urge", "zh"),
    ("发了没", "urge", "zh"),
    ("亲 快点发啦 急用!!!", "urge", "zh"),
    ("在吗？？东西呢", "urge", "zh"),
    ("order 什么时候ship啊", "urge", "zh"),
    ("any update? 还没发货吗", "urge", "zh"),
    ("hello when u ship my stuff", "urge", "en"),
    ("Will my order go out today?", "urge", "en"),
    ("怎么只到了一件？另一件呢", "logistics", "zh"),
    ("请务必明天下午送到", "change_request", "zh"),
    ("有货的先发吧", "change_request", "zh"),
    ("头发掉了好多", "other", "zh"),
])
def test_short_traditional_and_mixed_messages(message: str, kind: str, language: str) -> None:
    intent = classify(message)
    assert (intent.kind, intent.language) == (kind, language), message


def test_traditional_is_normalised_and_withdrawn_refunds_are_no_threat() -> None:
    assert normalize("發貨") == "发货"
    assert not classify("退款我撤销了，赶紧发货吧").threat and not classify("已经取消退款了，快发吧").threat
    assert classify("再不发我就申请退款").threat
