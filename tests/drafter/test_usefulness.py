"""The usefulness check: what a reply must convey, derived from the situation, and the useless kinds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from drafter.intent import classify
from drafter.situation import Situation, assess
from drafter.usefulness import check, requirements
from knowledge.demo_data import DEMO_SETTINGS, demo_orders

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, tzinfo=CST)
ROOT = Path(__file__).parents[2]


def _situation(order_id: str) -> Situation:
    for facts, _ in demo_orders(NOW, DEMO_SETTINGS):
        if facts.order_id == order_id:
            return assess(facts, DEMO_SETTINGS, [], NOW)
    raise KeyError(order_id)


def kinds(text: str, order_id: str, message: str = "亲，怎么还不发货？", reference: str | None = None) -> set[str]:
    s = _situation(order_id)
    return {p.kind if p.kind != "missing" else f"missing:{p.quote}"
            for p in check(text, s, classify(message, []), message=message, reference=reference)}


def test_out_of_stock_needs_the_restock_date_and_the_choice_to_wait_or_refund() -> None:
    s = _situation("T1004")
    eta = s.pending_items[0].restock_eta
    assert s.state == "out_of_stock" and eta is not None
    day = f"{eta.month}月{eta.day}日"
    assert kinds(f"亲，您拍的杯子缺货了，预计{day}补货，到货马上发；不想等也可以申请退款。", "T1004") == set()
    assert kinds(f"亲，杯子缺货了，预计{eta.day}号补货，您可以等一等，也可以退款哦", "T1004") == set()
    assert kinds("亲，杯子缺货了，补到货马上给您发。", "T1004") >= {"missing:restock_date", "missing:wait_or_refund"}


def test_shipped_needs_the_tracking_number_and_unpaid_the_payment() -> None:
    assert "missing:tracking" in kinds("亲，已经发货了，请耐心等待。", "T1006")
    assert kinds("亲，已经发出了，中通快递，运单号 7881 2345 6789 01。", "T1006") == set()
    unpaid = next(f.order_id for f, _ in demo_orders(NOW, DEMO_SETTINGS)
                  if assess(f, DEMO_SETTINGS, [], NOW).state == "unpaid")
    assert "missing:payment_needed" in kinds("亲，我们会尽快帮您处理。", unpaid)
    assert "missing:payment_needed" not in kinds("亲，这单还没有付款，付款后才会发货哦。", unpaid)


def test_a_requirement_the_template_draft_cannot_meet_is_not_asked_of_the_model() -> None:
    assert "missing:tracking" not in kinds("亲，已经发货了，请耐心等待。", "T1006", reference="亲，已经发货了。")


def test_change_requests_must_be_forwarded_and_overdue_orders_apologised_for() -> None:
    msg = "能不能给我发顺丰？"
    s = _situation("T1003")
    assert s.overdue
    assert "missing:apology" in kinds("亲，好的呢。", "T1003")
    got = kinds("亲，真抱歉让您久等了，顺丰需要仓库确认，我已经帮您转达给仓库。", "T1003", message=msg)
    assert "missing:forwarded" not in got and "missing:apology" not in got
    assert "missing:forwarded" in kinds("亲，真抱歉让您久等了。", "T1003", message=msg)
    assert any(r.key == "forwarded" for r in requirements(s, classify(msg, [])))


@pytest.mark.parametrize(("text", "kind"), [
    # the kinds quoted in issue 14, written by Qwen2.5-Coder-0.5B-Instruct
    ("我收到包裹了但还没有收到啊", "as_buyer"),
    ("亲，请尽快发货，谢谢！", "shop_work"),
    ("请告诉我您的订单状态和允许的承诺", "instructions"),
    ("我无法回答您的问题", "refusal"),
    ("亲，怎么还不发货？都三天了", "echo"),
    ("回复买家：亲，已经在安排了", "to_agent"),
    ("As an AI language model, I can't help with orders.", "refusal"),
    ("亲，您还有什么疑问吗？", "deflects"),
])
def test_the_useless_kinds_are_caught(text: str, kind: str) -> None:
    assert kind in kinds(text, "T1003", message="亲，怎么还不发货？都三天了")


def test_an_agent_speaking_for_the_shop_is_not_mistaken_for_the_buyer() -> None:
    ok = "亲，非常抱歉让您久等了，我这边已经帮您催仓库了，查到进展第一时间告诉您。有任何问题随时找我哦！"
    assert {k for k in kinds(ok, "T1003") if not k.startswith("missing")} == set()


# -- the labelled set: real outputs of both models, labelled by reading them ----------------------

LABELLED = Path(__file__).parent / "usefulness_labelled.jsonl"
# Floors measured on the set (see benchmarks/README.md); a regression below them fails.
MIN_PRECISION, MIN_RECALL = 0.85, 0.85


def _scenarios() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in [ROOT.parent / "shared" / "eval" / "dev_scenarios.jsonl",
                 Path("/work/shared/eval/dev_scenarios.jsonl"), *sorted((ROOT / "tests" / "scenarios").glob("*.jsonl"))]:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    sc = json.loads(line)
                    out.setdefault(sc["id"], sc)
    return out


def _verdict(row: dict[str, Any], sc: dict[str, Any]) -> tuple[bool, list[str]]:
    """Run the pipeline's check on a labelled text: (rejected?, kinds)."""
    from drafter.evaluate import ScenarioRunner

    runner = _RUNNER.get("r")
    if runner is None:
        import tempfile

        tmp = tempfile.mkdtemp(prefix="usefulness-labelled-")
        runner = _RUNNER["r"] = ScenarioRunner(Path(tmp), retrieval=False)
    template, situation = runner.run_with_situation(sc)
    intent = classify(sc["message"], [{"role": c.get("role", "buyer"), "text": c.get("text", "")}
                                      for c in sc.get("context") or []])
    problems = check(row["text"], situation, intent, message=sc["message"], reference=template.text)
    return bool(problems), [p.kind for p in problems]


_RUNNER: dict[str, Any] = {}


def test_precision_and_recall_on_the_labelled_set() -> None:
    rows = [json.loads(x) for x in LABELLED.read_text(encoding="utf-8").splitlines() if x.strip()]
    scenarios = _scenarios()
    usable = [r for r in rows if r["scenario"] in scenarios]
    if len(usable) < len(rows) // 2:
        pytest.skip("the labelled set's scenarios (../shared/eval) are absent")
    tp = fp = fn = tn = 0
    wrong = []
    for r in usable:
        rejected, found = _verdict(r, scenarios[r["scenario"]])
        bad = not r["useful"]
        tp += rejected and bad
        fp += rejected and not bad
        fn += bad and not rejected
        tn += not bad and not rejected
        if rejected != bad:
            wrong.append((r["scenario"], r["source"], r["useful"], found, r["text"][:60]))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"\nusefulness check on {len(usable)} labelled texts ({tp + fn} useless): precision {precision:.2f} "
          f"recall {recall:.2f} (tp {tp} fp {fp} fn {fn} tn {tn})")
    for w in wrong:
        print("  disagrees:", w)
    assert tp + fn >= 10 and tn + fp >= 10, "the labelled set needs both kinds"
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL, wrong
