from __future__ import annotations

from drafter.llm_quality import problems


def kinds(text: str, language: str = "zh", message: str = "发货了吗？单号多少") -> set[str]:
    return {k for k, _ in problems(text, language=language, message=message,
                                   prompt_text="You are a polite customer-service agent of an online shop on Taobao.")}


def test_a_good_reply_has_no_problems() -> None:
    assert kinds("亲，您的包裹已经发出了，中通快递，运单号78812345678901。祝您生活愉快！") == set()
    assert kinds("Hi, your parcel has shipped with SF Express, tracking SF1234567890123.", "en", "shipped?") == set()


def test_prompt_echo_leak_language_length_and_loops_are_caught() -> None:
    assert "prompt_leak" in kinds("<buyer_message>发货了吗</buyer_message> Write the reply now.")
    assert "prompt_leak" in kinds("You are a polite customer-service agent of an online shop on Taobao. 亲，好的")
    assert "echo" in kinds("发货了吗？单号多少 亲，马上")
    assert "wrong_language" in kinds("で購入した商品が届きました。亲")
    assert "wrong_language" in kinds("Your parcel has shipped.")
    assert "wrong_language" in kinds("亲，已经发货了，请您耐心等待哦", "en", "shipped?")
    assert "too_long" in kinds("亲，" + "好" * 600)
    assert "repetitive" in kinds("客服：亲，我发货了吗？\n客服：亲，我发货了吗？\n客服：亲，我发货了吗？")
