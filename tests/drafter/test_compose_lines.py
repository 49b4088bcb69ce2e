"""How the template composer describes individual order lines."""

from __future__ import annotations

from drafter.compose import compose
from drafter.intent import classify
from tests.drafter.factories import SETTINGS, order, situation


def test_a_completed_line_refund_is_not_described_as_in_progress() -> None:
    facts = order(paid="11-04 09:20", items=[
        {"sku": "MUG-01", "title": "陶瓷马克杯", "quantity": 1, "stock": "in_stock"},
        {"sku": "LID-2", "title": "杯盖", "quantity": 1, "stock": "out_of_stock", "status": "TRADE_CLOSED",
         "refund_status": "SUCCESS"}])
    s = situation(facts, "11-04 11:00")
    text = compose(classify("杯盖退了，杯子什么时候发"), s, SETTINGS, message="杯盖退了，杯子什么时候发", seed="x").text
    assert "杯盖已经退款" in text and "在处理" not in text
