"""Is a model's text fit to show a buyer at all? (The guard checks claims; this checks the rest.)

Small or misconfigured models echo the prompt, leak its instructions, loop, or answer in another
language. None of that is a dishonest claim, so the guard would pass it; it is still unusable.
Problems found here are treated like guard violations: one repair, then the template draft.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

__all__ = ["problems"]

# Chat-template control tokens belong to no prompt file (they are the model's own format): a text
# containing one leaked the template. The prompt's own phrases come from the loaded file
# (``prompts.loader.prompt_markers``), so a new prompt version brings its markers with it.
_TEMPLATE_TOKENS = re.compile(
    r"\[/?INST\]|<<SYS>>|<start_of_turn>|<end_of_turn>|<\|im_(?:start|end)\|>|<\|(?:system|user|assistant|endoftext)\|>"
    r"|</?\s*(?:buyer_message|conversation)\b|system prompt|系统提示",
    re.I,
)
# The prompt forbids offering money: compensation is proposed as an action for a human to approve, so a
# model's text never names an amount next to a coupon, red packet, refund or compensation.
_AMOUNT = re.compile(
    r"(?:[¥$]|rmb|usd)\s*\d|\d+(?:\.\d+)?\s*(?:元|块钱|块(?![儿发送寄走到])|(?:yuan|rmb|cny|usd|dollars?|bucks)\b)"
    r"|[一二两三四五六七八九十百千]+\s*(?:元|块钱|块(?![儿发送寄走到]))",
    re.I,
)
_COMPENSATION = re.compile(r"券|红包|补偿|返现|赔|退款|退还|返还|补贴|礼金|coupon|voucher|credit|refund|compensat|cash ?back|rebate",
                           re.I)
_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        r"\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
MAX_CHARS = 500


def problems(text: str, *, language: str, message: str, prompt_text: str = "",
             markers: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kind, detail) for every reason the text cannot go to a buyer.

    ``markers``: the prompt file's own phrases; ``prompt_text``: the rendered system prompt.
    """
    out: list[tuple[str, str]] = []
    seen = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))  # as the buyer would read it
    folded = seen.casefold()
    leaked = next((mk for mk in markers if mk.strip() and unicodedata.normalize("NFKC", mk).casefold() in folded), None)
    if m := _TEMPLATE_TOKENS.search(seen):
        out.append(("prompt_leak", m.group(0)))
    elif leaked:
        out.append(("prompt_leak", leaked))
    elif prompt_text and _shares_run(text, prompt_text, 24):
        out.append(("prompt_leak", "repeats the instructions"))
    msg = message.strip()
    if len(msg) >= 6 and msg in text:
        out.append(("echo", "repeats the buyer's message"))
    if not out:  # amounts inside an echoed prompt or message are not offers; that text fails anyway
        for sentence in re.split(r"[。！？!?\n；;]", seen):
            if (a := _AMOUNT.search(sentence)) and _COMPENSATION.search(sentence):
                out.append(("offers_money", a.group(0)))
                break
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    if language == "zh" and (cjk < max(4, latin // 2) or _KANA.search(text)):
        out.append(("wrong_language", "not a Chinese reply"))
    if language == "en" and cjk > latin // 3:
        out.append(("wrong_language", "not an English reply"))
    if len(text) > MAX_CHARS:
        out.append(("too_long", f"{len(text)} characters"))
    parts = [p.strip() for p in re.split(r"[。！？!?\n]", text) if len(p.strip()) >= 4]
    if parts and Counter(parts).most_common(1)[0][1] >= 3:
        out.append(("repetitive", Counter(parts).most_common(1)[0][0][:30]))
    return out


def _shares_run(text: str, prompt: str, n: int) -> bool:
    """Whether ``text`` contains any ``n``-character run of the prompt's instructions."""
    if len(text) < n:
        return False
    runs = {prompt[i:i + n] for i in range(0, max(0, len(prompt) - n + 1), 4)}
    return any(r in text for r in runs if r.strip())
