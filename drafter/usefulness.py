"""Does a model's text do the job? (The guard asks "is it honest?"; this asks "is it worth sending?")

A small model can write text that claims nothing false and still helps nobody: it echoes the
buyer's question, writes as the buyer ("我还没收到啊"), talks to the agent ("回复买家："), leaks
the prompt's vocabulary ("允许的承诺"), tells the buyer to do the shop's work ("请尽快发货"), or
refuses ("我无法回答"). And it can leave out the one thing the buyer needs: the restock date and
the choice to wait or refund, the tracking number, that the order is not paid yet…

What a reply must convey is derived from the situation (never from a scenario's expectations),
in the buyer's language, and kept only when the honest template draft conveys it too: the
template is the reference for what may and can be said, so a requirement never asks the model for
more than the facts support. Problems are returned as kinds with parameters; the prompt file
words them for the repair call (``texts.problems`` / ``texts.what``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from drafter.intent import Intent
from drafter.situation import Situation

__all__ = ["Problem", "Requirement", "check", "requirements"]


@dataclass(frozen=True)
class Requirement:
    key: str                                  # a key of the prompt file's ``texts.what``
    test: Callable[[str], bool]
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    kind: str                                 # missing | echo | as_buyer | to_agent | instructions | shop_work | refusal | deflects
    quote: str                                # the offending words (or, for missing, the requirement key)
    params: dict[str, str] = field(default_factory=dict)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


def _has(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda t: bool(rx.search(_norm(t)))


def _all(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda t: all(x(t) for x in tests)


def _any(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda t: any(x(t) for x in tests)


def _contains_compact(value: str) -> Callable[[str], bool]:
    """The value in the text, spaces ignored (a tracking number may be written in groups)."""
    v = value.lower()
    return lambda t: v in re.sub(r"\s", "", _norm(t))


_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]


def _date_rx(d: date) -> re.Pattern[str]:
    """That day in the ways a reply writes it: 11月16日, 11月16号, 16号, 11-16, 11/16, Nov 16, 16 Nov."""
    m, dd = d.month, d.day
    mon = _MONTHS[m - 1]
    return _rx(rf"(?<!\d)0?{m}\s*月\s*0?{dd}(?!\d)", rf"(?<![\d月])0?{dd}\s*[号日](?!\d)",
               rf"(?<!\d)0?{m}\s*[-/.]\s*0?{dd}(?!\d)", rf"\b{mon[:3]}[a-z]*\.?\s*0?{dd}(?!\d)",
               rf"(?<!\d)0?{dd}(?:st|nd|rd|th)?\s*(?:of\s*)?{mon[:3]}")


_REFUND = _rx(r"退款|退货|取消订单|refund|cancel")
_WAIT = _rx(r"等|补货|到货|wait|restock|back in stock")
_RESTOCK = _rx(r"缺货|补货|没货|无货|断货|到货|out of stock|restock|sold out")
_PAY = _rx(r"付款|支付|付钱|待付|未付|\bpa(?:y|id|yment)\b")
_APOLOGY = _rx(r"抱歉|对不起|不好意思|歉意|sorry|apolog")
_FORWARD = _rx(r"转达|转交|转给|转告|反馈|备注|提交给|报给|联系仓库|跟仓库|和仓库|仓库确认|同事|主管|帮您确认|帮您问",
               r"forward|pass(?:ed)? (?:it |this |your request )?on|check with|warehouse|colleague")
_PRESALE = _rx(r"预售|pre-?sale|pre-?order")
_SIGNED = _rx(r"签收|signed|delivered")
_CLOSED = _rx(r"关闭|取消|已关|closed|cancel")
_CHECK = _rx(r"核实|查询|查一下|查看|确认|跟进|联系|处理|check|look into|confirm|follow up|contact")
_TODAY = _rx(r"今天|今日|today")
_TOMORROW = _rx(r"明天|明日|tomorrow")


def requirements(s: Situation, intent: Intent) -> list[Requirement]:
    """What a reply to this buyer, in this situation, has to tell them."""
    out: list[Requirement] = []
    if not s.facts_known:
        out.append(Requirement("will_check", _has(_CHECK)))
        return out
    waiting = [p for p in s.pending_items if p.stock == "out_of_stock"]
    for p in waiting:
        if p.restock_eta and not p.stale:
            out.append(Requirement("restock_date", _has(_date_rx(p.restock_eta)),
                                   {"date": f"{p.restock_eta.month}月{p.restock_eta.day}日"}))
    if waiting:
        out.append(Requirement("restock", _has(_RESTOCK)))
        out.append(Requirement("wait_or_refund", _all(_has(_REFUND), _has(_WAIT))))
    for k in s.commitments:
        if k.kind == "share_tracking":
            digits = re.sub(r"\s", "", k.value)
            out.append(Requirement("tracking", _contains_compact(digits), {"value": k.value}))
        elif k.kind == "dispatch_on":
            day = date.fromisoformat(k.value)
            today = s.now.date()
            tests = [_has(_date_rx(day))]
            if day == today:
                tests.append(_has(_TODAY))
            elif (day - today).days == 1:
                tests.append(_has(_TOMORROW))
            out.append(Requirement("dispatch_day", _any(*tests), {"date": f"{day.month}月{day.day}日"}))
    if s.state == "unpaid":
        out.append(Requirement("payment_needed", _has(_PAY)))
    if s.overdue:
        out.append(Requirement("apology", _has(_APOLOGY)))
        reasons = [n for n in s.notices if n.kind in ("backlog", "closure", "uncertain")]
        if reasons and not waiting:
            out.append(Requirement("reason", _shares_words(reasons[0].text), {"reason": reasons[0].text[:40]}))
    if s.state == "presale":
        out.append(Requirement("presale", _has(_PRESALE)))
    if s.state == "signed":
        out.append(Requirement("signed", _has(_SIGNED)))
    if s.state == "closed":
        out.append(Requirement("closed", _has(_CLOSED)))
    if s.state in ("stuck", "refunding", "forbidden", "unknown"):
        out.append(Requirement("will_check", _has(_CHECK)))
    if intent.kind == "change_request":
        out.append(Requirement("forwarded", _has(_FORWARD)))
    return out


def _shares_words(source: str) -> Callable[[str], bool]:
    """Whether a text names the notice's reason: two of its CJK bigrams, or one of its longer latin words."""
    src = _norm(source)
    bigrams = {src[i:i + 2] for i in range(len(src) - 1) if all("\u4e00" <= c <= "\u9fff" for c in src[i:i + 2])}
    words = {w for w in re.findall(r"[a-z]{5,}", src)}

    def test(text: str) -> bool:
        t = _norm(text)
        return sum(b in t for b in bigrams) >= 2 or any(w in t for w in words)
    return test


# -- texts that are not a reply from the shop to this buyer ---------------------------------------

_AS_BUYER = _rx(
    r"我(?:的)?(?:订单|包裹|快递|货|东西)(?:怎么|还|什么时候|到哪|呢|到底)",
    r"我(?:还|都)?(?:没|没有)(?:收到|拿到)", r"我(?:已经)?收到(?:了)?(?:包裹|快递|货)",
    r"我(?:买的|拍的|下单|付了|已经付|付过)", r"(?:你们|商家|卖家|店家)(?:什么时候|怎么|还不|到底|能不能|赶紧|快点|为什么)",
    r"(?:怎么|为什么|为啥)(?:还|都)(?:不|没)(?:发货|发|到|送)", r"(?:快点|赶紧|麻烦快)发", r"什么时候(?:能|才能|可以)?发货\s*[?？]",
    r"\bmy (?:order|parcel|package)\b", r"\bwhen will you (?:ship|send)\b", r"\bi (?:haven'?t|have not|didn'?t) (?:received|got)\b",
)
_TO_AGENT = _rx(
    r"买家", r"客户(?:说|问|的)", r"客服[:：]", r"(?:回复|答复)(?:买家|客户|如下|内容|[:：])", r"以下是", r"草稿",
    r"您可以(?:这样)?(?:回复|回答|告诉)", r"建议(?:回复|回答)", r"\bthe (?:buyer|customer)\b", r"\bdraft\b",
    r"here(?:'s| is) (?:the|a|my|your) (?:reply|response|rewrite)", r"\breply:",
)
_INSTRUCTIONS = _rx(
    r"允许的?承诺", r"可以说[:：]", r"不能说", r"禁止(?:说|的)", r"事实(?:清单|列表|如下)", r"提示词", r"指令", r"规则(?:要求|规定|中)",
    r"根据(?:以上|上面|上述|给出|提供)的?(?:事实|规则|信息|提示)", r"(?:给出|提供)的事实", r"订单状态和",
    r"\bprompt\b", r"\binstructions?\b", r"allowed commitments", r"\bforbidden\b", r"facts (?:given|provided|above|listed)",
)
_SHOP_WORK = _rx(
    r"请(?:您|你)?(?:尽快|马上|赶紧|立即|尽早)?(?:安排)?发货", r"请(?:您|你)?(?:尽快)?(?:处理|安排)(?:一下)?(?:发货|订单|您的订单)",
    r"请(?:您|你)?(?:告诉|告知|提供给?)我.{0,8}(?:订单状态|物流信息|发货时间|发货情况)",
    r"(?:请|麻烦)(?:您|你)?(?:联系|催)(?:一下)?(?:仓库|卖家|商家)",
    r"please (?:ship|send|dispatch) (?:it|the order|my|your order)", r"please tell me (?:the|your) order status",
)
_REFUSAL = _rx(
    r"无法回答", r"不能回答", r"无法(?:为您)?提供(?:帮助|任何|相关)", r"无法帮(?:助|您|你)", r"(?:我)?(?:不知道|不清楚)(?:您的|你的)?(?:订单|问题|怎么)",
    r"作为(?:一个)?(?:ai|人工智能|语言模型|助手)", r"\bas an ai\b", r"language model",
    r"\bi (?:can(?:no|')t|am unable to|'m unable to) (?:help|answer|assist)",
)


# Asking a buyer who asked a question what their question is: the reply hands the question back.
_DEFLECT = _rx(r"(?:请问)?(?:您|你)(?:还)?有(?:什么|哪些)(?:问题|疑问|需要|事情?)(?:或(?:者)?需要(?:什么)?帮助)?(?:吗|呢)",
               r"有什么(?:可以|能)(?:帮|为)(?:您|你)", r"\bhow can i (?:help|assist) you\b", r"\bwhat (?:can i do|is your question)\b")


def _echo(text: str, message: str) -> str | None:
    """The buyer's words played back: a run of them at least 5 characters and 60 % of the message long."""
    msg = re.sub(r"[\s，。！？,.!?~～]+", "", _norm(message))
    t = re.sub(r"[\s，。！？,.!?~～]+", "", _norm(text))
    if len(msg) < 5:
        return None
    need = max(5, round(len(msg) * 0.6))
    for i in range(0, len(msg) - need + 1):
        if msg[i:i + need] in t:
            return message.strip()[:40]
    return None


def check(text: str, s: Situation, intent: Intent, *, message: str, reference: str | None = None,
          markers: Iterable[str] = ()) -> list[Problem]:
    """Every reason ``text`` would not help this buyer; empty when it does the job.

    ``reference`` is the template draft: requirements it does not meet are not asked of the model.
    ``markers`` are the prompt file's own phrases (``prompts.loader.prompt_markers``).
    """
    out: list[Problem] = []
    seen = _norm(text)
    if (e := _echo(text, message)) is not None:
        out.append(Problem("echo", e))
    for kind, rx in (("as_buyer", _AS_BUYER), ("to_agent", _TO_AGENT), ("instructions", _INSTRUCTIONS),
                     ("shop_work", _SHOP_WORK), ("refusal", _REFUSAL)):
        if m := rx.search(seen):
            out.append(Problem(kind, m.group(0)))
    if intent.kind != "other" and (m := _DEFLECT.search(seen)):
        out.append(Problem("deflects", m.group(0)))
    if not any(p.kind == "instructions" for p in out):
        for mk in markers:
            if _norm(mk) in seen:
                out.append(Problem("instructions", mk))
                break
    for req in requirements(s, intent):
        if reference is not None and not req.test(reference):
            continue  # the honest template cannot say it either: not the model's job
        if not req.test(text):
            out.append(Problem("missing", req.key, req.params))
    return out
