"""Everything the model reads comes from the prompt file: the content hash covers it, markers derive from it."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from drafter.intent import classify
from drafter.llm import build_values, repair_message
from drafter.llm_quality import problems
from drafter.situation import assess
from knowledge.demo_data import DEMO_SETTINGS, demo_orders
from prompts.loader import load_prompt, prompt_markers, render_prompt

ROOT = Path(__file__).parents[2]
CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 12, 11, tzinfo=CST)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_no_prompt_text_is_left_in_the_llm_code() -> None:
    for name in ("drafter/llm.py", "drafter/llm_compose.py"):
        code = [ln.split("#")[0] for ln in (ROOT / name).read_text(encoding="utf-8").splitlines()]
        strings = [ln for ln in code if _CJK.search(ln) and not ln.strip().startswith(('"""', "'"))]
        assert strings == [], f"{name} still holds text the model reads: {strings}"


def _situations():
    for facts, _ in demo_orders(NOW, DEMO_SETTINGS):
        yield assess(facts, DEMO_SETTINGS, [], NOW)


def test_every_rendered_word_changes_with_the_file_and_so_does_the_hash(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", root)
    path = root / "urge_reply" / "v1.yaml"
    path.write_text(path.read_text(encoding="utf-8")
                    .replace("订单里有商品缺货，还没有发货。", "库存不足，尚未发出。")
                    .replace("可以说：按规则会在{date}发出。", "允许：{date}发出。")
                    .replace("请重写回复：", "改写："), encoding="utf-8")
    original, edited = load_prompt("urge_reply", "v1"), load_prompt("urge_reply", "v1", root)
    assert original.hash != edited.hash
    intent = classify("怎么还不发货", [])
    seen_stock = seen_dispatch = False
    for s in _situations():
        vals = build_values(intent, s, message="怎么还不发货", context=[], passages=[], tone_address="亲",
                            sign_off="", redact_text=True, texts=edited.texts).values
        system, user = render_prompt(edited, vals)
        assert "订单里有商品缺货" not in user and "可以说：按规则" not in user
        seen_stock |= "库存不足，尚未发出。" in user
        seen_dispatch |= "允许：" in user
    assert seen_stock and seen_dispatch
    assert repair_message([("x", "y")], edited.texts).endswith(edited.texts.repair.split("{problems}")[1])
    assert "改写：" in repair_message([("x", "y")], edited.texts)


def test_leak_markers_come_from_the_loaded_file() -> None:
    v1, v2 = load_prompt("urge_reply", "v1"), load_prompt("urge_reply", "v2")
    assert "Allowed commitments:" in prompt_markers(v1) and "YOU MAY SAY:" in prompt_markers(v2)
    assert "可以说：" in prompt_markers(v1) and "<buyer_message>" in prompt_markers(v2)
    assert "YOU MAY SAY:" not in prompt_markers(v1)

    def kinds(text: str, pf) -> set[str]:
        return {k for k, _ in problems(text, language="zh", message="发货了吗", markers=prompt_markers(pf))}
    assert "prompt_leak" in kinds("YOU MAY SAY: 亲，已经发货了", v2)
    assert "prompt_leak" not in kinds("YOU MAY SAY: 亲，已经发货了", v1)  # v1 never said it
    assert "prompt_leak" in kinds("亲，根据Facts about this order (the only facts you may state)，已发货", v1)
    assert kinds("亲，您的包裹已经发出了，中通快递，运单号78812345678901。", v1) == set()
