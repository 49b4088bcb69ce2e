"""The project's own scorer of the ``expect`` vocabulary (../shared/eval/README.md).

It reads a draft result's text the way a strict reviewer would and says whether a named behaviour is
present. It deliberately shares no code with ``drafter/guard.py`` or ``drafter/situation.py``: if
the guard graded itself, a blind spot in its regexes would be a blind spot in the eval too.

Detection works clause by clause (split on Chinese and latin punctuation), so a negation or a
condition only cancels the claim it belongs to: "还没发货" or "发出后" is not a shipped claim,
"今天无法发出" or "16:00前付款当天发出" is not a promise to ship today.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


def _norm(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


_CLAUSE_SPLIT = re.compile(r"[。！？!?；;\n，,、]|\.(?!\d)")
_SENTENCE_SPLIT = re.compile(r"[。！？!?\n]|\.(?!\d)\s")


def _clauses(text: str, split: re.Pattern[str] = _CLAUSE_SPLIT) -> Iterator[str]:
    return (c for c in split.split(text) if c.strip())


# --- blockers: what cancels a match -------------------------------------------------------------
# A negation right before the match (at most two characters / three words in between).
_NEG_BEFORE = re.compile(
    r"(?:没有|没|未|尚未|并未|不是|并非|非|无法|不能|不会|不|无|别|勿)\s*.{0,2}$"
    r"|(?:\bnot\b|n't|\bnever\b|\bno\b|\byet to\b|\bunable to\b|\bcannot\b)(?:\s+\S+){0,3}\s*$"
)
# A condition or a question anywhere earlier in the clause ("如果已经发出", "是否已发货", "once shipped").
_COND_BEFORE = re.compile(
    r"如果|若|假如|只要|一旦|待|等到|直到|是否|是不是|有没有|能否|可否|"
    r"(?:到货|补货|付款|支付|有货|到仓|确认|恢复)(?:之|以)?后|"
    r"\bif\b|\bonce\b|\bafter\b|\bwhen\b|\bas soon as\b|\bunless\b|\bwhether\b|\buntil\b"
)
# "发出后", "签收前", "发货了吗": the match names a moment or asks, it does not state a fact.
_COND_AFTER = re.compile(r"^\s*(?:了|啦)?\s*(?:后|之后|以后|前|之前|的话|时|吗|么|嘛|没有?|与否)")


def _found(
    pattern: re.Pattern[str],
    text: str,
    *,
    before: tuple[re.Pattern[str], ...] = (_NEG_BEFORE, _COND_BEFORE),
    after: tuple[re.Pattern[str], ...] = (_COND_AFTER,),
) -> bool:
    """True when ``pattern`` occurs in some clause without a blocker before or after it."""
    for clause in _clauses(text):
        for m in pattern.finditer(clause):
            pre, post = clause[: m.start()], clause[m.end() :]
            if any(b.search(pre) for b in before) or any(a.search(post) for a in after):
                continue
            return True
    return False


# --- dates --------------------------------------------------------------------------------------
# Chinese numerals, enough for days, months and small yuan amounts.
_CN_DIGITS = {
    ch: i
    for i, chars in enumerate(("零〇", "一", "二两", "三", "四", "五", "六", "七", "八", "九"))
    for ch in chars
}


def _cn_int(s: str) -> int | None:
    """'16', '十六', '二十一', '一百' → int (enough for days, months and small yuan amounts)."""
    if s.isdigit():
        return int(s)
    total, cur = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            cur = _CN_DIGITS[ch]
        elif ch in "十百":
            total += (cur or 1) * (10 if ch == "十" else 100)
            cur = 0
        else:
            return None
    return total + cur


_N = r"\d{1,2}|[一二三四五六七八九十]{1,3}"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<ym>\d{1,2})\s*[-/.月]\s*(?P<yd>\d{1,2})"
    rf"|(?P<m>{_N})\s*月\s*(?P<d>{_N})\s*(?:日|号)?"
    r"|(?<![\d.:/-])(?P<pm>\d{1,2})\.(?P<pd>\d{1,2})\s*(?:日|号|(?=起|恢复|开始|发|前|之前|后|以后|至|到))"
    r"|(?<![\d.:/-])(?P<nm>\d{1,2})[-/](?P<nd>\d{1,2})"
    r"(?![\d:/-]|\s*(?:天|个|元|%|日内|工作日|days?\b|business|working))"
    rf"|\b(?P<em>{_MON})\s+(?P<ed>\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"|\b(?P<ed2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<em2>{_MON})(?![a-z])"
    rf"|(?<![\d.:/-])(?P<od>{_N})\s*(?:日|号)(?![\d线楼仓])"
    r"|(?P<rel>大后天|后天|day after tomorrow|今天|今日|今晚|今儿|当天|当日|today|tonight|"
    r"明天|明日|明早|明晚|次日|tomorrow)"
)
_REL_OFFSET = dict.fromkeys(("明天", "明日", "明早", "明晚", "次日", "tomorrow"), 1) | {
    "后天": 2,
    "day after tomorrow": 2,
    "大后天": 3,
}  # every other relative word (今天, today, 当天 …) is day 0


class _DateHit(NamedTuple):
    start: int
    end: int
    month: int | None  # None: only a day was named ("16号")
    day: int | None
    offset: int | None  # relative words: days from now


def _date_hits(text: str) -> Iterator[_DateHit]:
    for m in _DATE.finditer(text):
        g = m.groupdict()
        if g["rel"]:
            yield _DateHit(m.start(), m.end(), None, None, _REL_OFFSET.get(g["rel"], 0))
            continue
        mon: int | None
        day: int | None
        if g["y"]:
            mon, day = int(g["ym"]), int(g["yd"])
        elif g["m"]:
            mon, day = _cn_int(g["m"]), _cn_int(g["d"])
        elif g["nm"] or g["pm"]:
            mon, day = int(g["nm"] or g["pm"]), int(g["nd"] or g["pd"])
        elif g["em"] or g["em2"]:
            mon = _MONTHS.index((g["em"] or g["em2"])[:3]) + 1
            day = int(g["ed"] or g["ed2"])
        else:
            mon, day = None, _cn_int(g["od"])
        if day and 1 <= day <= 31 and (mon is None or 1 <= mon <= 12):
            yield _DateHit(m.start(), m.end(), mon, day, None)


def _resolve(hit: _DateHit, now: datetime) -> date | None:
    """A hit as a calendar date near ``now`` (a bare "2号" late in a month means next month)."""
    today = now.date()
    if hit.offset is not None:
        return today + timedelta(days=hit.offset)
    assert hit.day is not None
    year, mon = today.year, hit.month
    if mon is None:
        mon = today.month if hit.day >= today.day - 10 else today.month % 12 + 1
        year += mon < today.month
    elif mon < today.month - 6:
        year += 1
    try:
        return date(year, mon, hit.day)
    except ValueError:
        return None


def _now(scenario: dict) -> datetime:
    # Dates are read against the scenario's clock (its year and UTC offset), never the wall clock.
    if not scenario.get("now"):
        raise ValueError("date checks need scenario['now']")
    return datetime.fromisoformat(scenario["now"])


# --- dispatch promises ----------------------------------------------------------------------------
_CARRIER_ZH = r"顺丰|中通|圆通|申通|韵达|邮政|京东|极兔|德邦|百世"
_DISPATCH = (
    # 发货 as a noun ("发货高峰", "发货时间") is not an act of dispatching.
    r"发货(?!高峰|时间|时效|规则|流程|速度|量|顺序|信息|日期)|发出|寄出|出库|发走|寄走|揽收|安排发"
    rf"|发(?=[了啦咯吧呢哦的给~\s]|$|{_CARRIER_ZH}|快递)|寄(?=[了啦给]|$)"
    r"|\bship|\bdispatch|\bsend (?:it |them |your \w+ )?out\b|\bsent out\b|\bgo(?:es)? out\b"
    r"|leave (?:our|the) warehouse"
)
# A promise is a day and a dispatch verb close together in one clause, in either order.
_PROMISE_ZH = re.compile(rf"(?P<gap>[^。！？!?；;，,\n]{{0,14}}?)(?:{_DISPATCH})")
_PROMISE_EN_BEFORE = re.compile(rf"(?:{_DISPATCH})[a-z ]{{0,25}}$")
_GAP_NEG = re.compile(
    r"无法|不能|不会|没法|来不及|不了|难以|不一定|无|不|没|未|能否|是否|能不能|可否|停止|暂停|停发|"
    r"\bnot\b|n't|\bcannot\b|\bunable\b|\bwhether\b"
)
_AFTER_NEG = re.compile(r"^\s*(?:不了|不出|不走|吗|么|嘛|与否)")
_PROMISE_COND = re.compile(
    r"如果|若|假如|只要|的话|一旦|付款|支付|下单|拍下|到货|补货|有货|到仓|"
    r"\bif\b|\bonce\b|\bpaid\b|\border(?:s|ed)? before\b|\bunless\b|\bwhether\b"
)


# "本应在11月13日前发出" names a missed deadline, not a new promise.
_COUNTERFACTUAL = re.compile(
    r"本应|本该|原应|原定|原本|原计划|应该在|承诺的|超过|\bshould have\b|\bwas due\b"
)


def _dispatch_dates(text: str, now: datetime) -> list[date]:
    """Dates the text commits to dispatching on (negated, conditional and questioned ones dropped)."""
    found: list[date] = []
    for clause in _clauses(text):
        if _PROMISE_COND.search(clause):
            continue
        for hit in _date_hits(clause):
            pre, post = clause[: hit.start], clause[hit.end :]
            m = _PROMISE_ZH.match(post)
            ok = m is not None and not _GAP_NEG.search(m["gap"]) and not _AFTER_NEG.match(post[m.end() :])
            ok = ok or (bool(_PROMISE_EN_BEFORE.search(pre)) and not _GAP_NEG.search(pre))
            if ok and not _NEG_BEFORE.search(pre) and not _COUNTERFACTUAL.search(pre):
                resolved = _resolve(hit, now)
                if resolved:
                    found.append(resolved)
    return found


# --- arrival promises -----------------------------------------------------------------------------
_SPAN = (
    r"\d+\s*(?:-|~|到|至)?\s*\d*\s*个?(?:工作日|天|小时)(?:内|左右|之内)?|[一二三两四五六七]\s*天(?:内|左右)?"
)
_WEEKDAY = (
    r"周[一二三四五六日天末]|星期.|礼拜.|下周.?|this week|next week"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
_ARRIVE_ZH = r"送达|送到|到货|到达|收到|签收|能到|会到|就到|可到|到家|到(?=[了啦吧哦呢~]|$)"
_ARRIVE_EN = r"arriv\w*|be delivered|delivered|delivery|receive (?:it|them|your)|get (?:it|them|your)"
_TIME_EN = r"today|tonight|tomorrow|(?:with)?in \d+(?:\s*-\s*\d+)? (?:business |working )?days|" + _WEEKDAY
_DELIVERY = re.compile(
    rf"(?P<t>(?:今天|今晚|明天|明日|明早|明晚|后天|大后天|{_SPAN}|{_WEEKDAY}|<date>))"
    rf"(?P<gap>[^。！？!?；;，,\n]{{0,10}}?)(?P<v>{_ARRIVE_ZH})"
    rf"|(?P<v2>{_ARRIVE_EN})[a-z ]{{0,20}}?(?:\bby |\bon |\bbefore )?(?P<t2>{_TIME_EN}|<date>)"
    rf"|(?P<t3>tomorrow|today|tonight)[a-z ,]{{0,20}}?(?P<v3>{_ARRIVE_EN})"
)
_GENERIC = re.compile(r"一般|通常|正常情况|正常|平均|\busually\b|\btypically\b|\bnormally\b|\bon average\b")
# "到货后发出" in the same sentence also means stock: a parcel is not dispatched after it reaches the buyer.
_RESTOCK_WORDS = re.compile(r"补货|缺货|库存|仓库|到仓|调货|有货|到货后|restock|in stock|out of stock")


# "我们无法承诺明天送达": a refusal to promise, wherever it sits before the time.
_DELIVERY_HEDGE = re.compile(r"无法|不能|不确定|不保证|不敢保证|承诺不了|no guarantee|can't|cannot|unable")


def _promises_delivery(text: str) -> bool:
    for sentence in _clauses(text, _SENTENCE_SPLIT):
        # Explicit dates become a placeholder so one pattern covers "11月16日送达" and "明天送达".
        marked = _DATE.sub(lambda m: "<date>" if not m["rel"] else m[0], sentence)
        for clause in _clauses(marked):
            if _GENERIC.search(clause) or _COND_BEFORE.search(clause):
                continue
            for m in _DELIVERY.finditer(clause):
                pre, post = clause[: m.start()], clause[m.end() :]
                if _NEG_BEFORE.search(pre) or _COND_AFTER.match(post) or _GAP_NEG.search(m["gap"] or ""):
                    continue
                if m["v"] in ("到货", "收到", "到达") and _RESTOCK_WORDS.search(sentence):
                    continue  # stock reaching the warehouse, not the parcel reaching the buyer
                if _DELIVERY_HEDGE.search(pre):
                    continue
                return True
    return False


# --- carriers and tracking numbers ---------------------------------------------------------------
_CARRIER_ALIASES: tuple[tuple[str, ...], ...] = (
    ("中通", "zto"),
    ("顺丰", "sf", "sf express"),
    ("圆通", "yto"),
    ("申通", "sto"),
    ("韵达", "yunda"),
    ("邮政", "ems", "china post"),
    ("京东", "jd", "jd logistics"),
    ("极兔", "j&t", "jt express"),
    ("德邦", "deppon"),
    ("百世", "best express"),
)
_CARRIER_RX = [
    re.compile("|".join(a if not a.isascii() else rf"(?<![a-z]){re.escape(a)}(?![a-z])" for a in group))
    for group in _CARRIER_ALIASES
]


def _carrier_group(name: str | None) -> int | None:
    n = _norm(name)
    for i, rx in enumerate(_CARRIER_RX):
        if rx.search(n):
            return i
    return None


def _shipments(scenario: dict, result: dict) -> list[dict]:
    order = scenario.get("order") or (result.get("facts") if isinstance(result.get("facts"), dict) else None)
    return list((order or {}).get("shipments") or [])


_CHANGE_WORDS = re.compile(
    r"改|换|申请|能否|是否|可否|如果|若|需|补差价|默认|一般|通常|支持|可选|可以选|"
    r"\bif\b|switch|change|upgrade|request|usually|default|available|option"
)
_SHIPPER_CUE = re.compile(
    r"发|寄|揽收|运输|配送|派送|单号|承运|走|使用|由|交给|\bship|\bsent\b|\bvia\b|courier|carrier|tracking|deliver"
)
_SHIPPED_CUE = re.compile(
    r"已|单号|揽收|运输|在途|派送|shipped|tracking|picked up|in transit|on its way|handed|交给"
)


def _wrong_carrier(text: str, scenario: dict, result: dict) -> bool:
    ours = {_carrier_group(s.get("carrier")) for s in _shipments(scenario, result)} - {None}
    cue = _SHIPPER_CUE if ours else _SHIPPED_CUE  # no shipment yet: only "it was shipped by X" is wrong
    for clause in _clauses(text):
        if _CHANGE_WORDS.search(clause) or not cue.search(clause):
            continue
        for i, rx in enumerate(_CARRIER_RX):
            m = rx.search(clause)
            if i not in ours and m and not _NEG_BEFORE.search(clause[: m.start()]):
                return True
    return False


_TRACKING_LIKE = re.compile(r"(?<![a-z0-9])[a-z0-9]{10,}(?![a-z0-9])")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def _tracking_runs(text: str) -> list[str]:
    # Tracking-like: 10+ letters/digits with at least 8 digits. Dates, amounts and short order ids
    # (T1012) never reach that; a mobile number is an off-platform problem, not a tracking one.
    return [
        r
        for r in _TRACKING_LIKE.findall(text)
        if sum(c.isdigit() for c in r) >= 8 and not _MOBILE.fullmatch(r)
    ]


def _known_ids(scenario: dict, result: dict) -> list[str]:
    known = [_norm(s.get("tracking_no")) for s in _shipments(scenario, result) if s.get("tracking_no")]
    order = scenario.get("order") or {}
    known.append(_norm(order.get("order_id")))
    # Numbers the buyer typed (an order id, their own tracking number) are not invented by the reply.
    buyer = [scenario.get("message") or ""] + [str(c.get("text", "")) for c in scenario.get("context") or []]
    known += _TRACKING_LIKE.findall(_norm(" ".join(buyer)))
    return [k for k in known if k]


# --- simple lexicons ------------------------------------------------------------------------------
_SHIPPED = _rx(
    r"已(?:经)?(?:为您|给您|帮您|替您)?(?:发货|发出|寄出|发了|寄了|发走|揽收|出库|发往|在路上|在途|派送|"
    r"交给.{0,6}(?:快递|物流)|交付.{0,4}(?:快递|物流)|交由.{0,6}(?:快递|物流))",
    r"(?:昨天|前天|昨晚|刚刚|刚才)[^，。]{0,6}?(?:发货|发出|寄出|发了|发的|寄的|发走)",
    r"在路上|运输中|运输途中|在途中|派送中|正在派送|正在配送|配送中(?![小大])|快递(?:员|小哥)?已(?:经)?(?:取件|揽件|揽收)",
    r"(?:宝贝|包裹|订单|商品|货物?|快递)(?:已经|已)?(?:发出|发货|寄出)(?:了|啦|咯)",
    r"\b(?:has|have|had|was|were|been|is|are|got)\s+(?:already\s+|now\s+|just\s+)?(?:been\s+)?"
    r"(?:shipped|dispatched|sent out|sent|handed (?:over )?to)\b",
    r"\b(?:order|parcel|package|it|item|items)\s+(?:shipped|went out)\b",
    r"\b(?:shipped|dispatched) (?:out )?(?:on|via|with|by|yesterday|today)\b",
    r"\bwe(?:'ve| have)? (?:already |just )?(?:shipped|dispatched|sent out)\b",
    r"\bon (?:its|the|their) way\b|\bin transit\b|\bout for delivery\b|\bpicked up by\b",
    r"handed (?:it )?(?:over )?to the courier",
)
# Future "明天就发出了" is a promise (scored elsewhere), not a claim that it has shipped.
_FUTURE_BEFORE = re.compile(
    r"会|将|明天|后天|尽快|马上|(?<!刚)才|预计|计划|安排|\bwill\b|\bshould\b|\bgoing to\b"
)
_ARRANGED = _rx(
    r"已(?:经)?(?:为您|给您|帮您)?安排",
    r"安排(?:您的订单|订单|包裹|宝贝)?(?:发货|发出|寄出|出库)",
    r"\barranged\b",
)
_APOLOGY = _rx(r"抱歉|不好意思|对不起|致歉|歉意|道歉|sorry|apologi[sz]e|apologies")
_NO_APOLOGY = re.compile(r"不用(?:抱歉|道歉)|无需(?:抱歉|道歉)|不必(?:抱歉|道歉)|no need to apologi")
_REVIEW = _rx(
    r"好评|五星|5星|五分好评|打五分|给五分|全五分|满分评价|追评|给个评价|评价一下",
    r"\b(?:good|positive|5[- ]?star|five[- ]?star|nice|great)\s+(?:review|rating|feedback)\b",
    r"leave (?:us )?a review|rate us|review us",
)
_OFF_PLATFORM = _rx(
    r"微信|v信|加我|加一下我|手机号|电话联系|打电话|致电|拨打|私下联系|短信联系|电话号码|留个电话",
    r"(?<![a-z])(?:vx|wx|weixin|wechat|qq|whatsapp|telegram)(?![a-z])",
    r"phone number|call (?:me|us)|text (?:me|us)|line id|email (?:me|us)",
    r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)|(?<!\d)400-?\d{3}-?\d{4}(?!\d)",
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_OFF_PLATFORM_NEG = re.compile(
    r"(?:勿|不要|别|不会|不用|无需|切勿|请勿|禁止)[^，。]{0,6}$|(?:don't|do not|never|\bnot\b)(?:\s+\S+){0,4}\s*$"
    r"|快递员|快递小哥|配送员|courier"
)
_PRESALE = _rx(r"预售|定金|尾款|presale|pre-sale|pre-order|preorder")
_RESTOCK = _rx(
    r"缺货|补货|到货后发|库存不足|暂时没货|暂时无货|无货|没有货|断货|等货|调货|售罄",
    r"restock|out of stock|back in stock|sold out|stock arrives",
)
_BACKLOG = _rx(
    r"积压|订单量激增|订单激增|订单量大|单量大|爆仓|发货高峰|高峰期|订单较多|订单太多|大促期间",
    r"双11.{0,8}(?:延迟|延误|较慢|影响|高峰|积压)|双十一.{0,8}(?:延迟|延误|较慢|影响|高峰|积压)|双11期间|双十一期间",
    r"backlog|high (?:order )?volume|surge in orders|peak season|busy season",
)
_SIGNED = _rx(r"签收|signed for|been signed|was signed")
# "请注意签收" asks the buyer to sign; it does not say the parcel was signed for.
_SIGNED_BEFORE = (
    _NEG_BEFORE,
    _COND_BEFORE,
    re.compile(r"请|留意|注意|及时|便于|方便|以便|直到|至|please|until"),
)
_PAYMENT = _rx(
    r"未付款|还没付款|尚未付款|没有付款|还没有付款|未支付|尚未支付|没有支付|待付款|付款后|支付后|完成支付|完成付款|尽快付款|去付款",
    r"\bnot (?:yet )?(?:been )?paid\b|\bunpaid\b|complete (?:the |your )?payment|awaiting payment|"
    r"pending payment|"
    r"once (?:you )?pa(?:y|id)|after payment",
)
_FORWARD = _rx(
    r"转交|反馈给|已反馈|联系快递|联系物流|联系仓库|帮您催|为您催|催促仓库|催一下仓库|已提交|提交给|同事|"
    r"仓库确认|跟仓库|向仓库|和仓库|(?:为您|帮您|会|正在|尽快|马上)核实|核实后|跟进|专员|主管",
    r"forward|contact(?:ed|ing)? the (?:courier|carrier|warehouse)|"
    r"check(?:ing)? with (?:the )?(?:warehouse|courier)|"
    r"escalat|pass(?:ed)? (?:it |this |your request )?on|follow(?:ing)? up",
)
_FORWARD_ACTIONS = {"forward_warehouse", "contact_courier", "escalate"}
_CARRIER_CHANGE = _rx(
    rf"(?:可以|能|已|已经|会|将|马上|立即|这就)(?:为您|给您|帮您)?(?:改|换)(?:发|成|用|走)?(?:{_CARRIER_ZH})",
    rf"(?:为您|给您|帮您)(?:改|换)?(?:发|用|走)(?:{_CARRIER_ZH})",
    r"\b(?:will|can|have|'ll|'ve)\s+(?:\w+\s+){0,2}(?:switch|change|upgrade|ship)\w*\b"
    r".{0,25}\b(?:to|with|via)\s+"
    r"(?:sf|zto|yto|sto|ems|jd|dhl|fedex|ups|express)",
)
_CARRIER_CHANGE_HEDGE = re.compile(
    r"能否|是否|能不能|可不可以|需|申请|确认|如果|若|帮您问|问一下|反馈|转交|仓库|\bif\b|whether|\bask\b|check|request|warehouse"
)
_AMOUNT = re.compile(
    r"(?<!满)(?:[¥$]|rmb\s*)(?P<a>\d+(?:\.\d+)?)"
    r"|(?<![满\d.])(?P<b>\d+(?:\.\d+)?|[一二三四五六七八九十两百]+)\s*(?:元|块钱|块|rmb|yuan|cny)(?!\s*以上)"
)
_COMP_CONTEXT = re.compile(
    r"券|优惠|红包|补偿|返现|退款|退还|退您|赔|补贴|礼金|返还|coupon|voucher|red packet|refund|compensat|cashback|credit|rebate"
)
_COMP_DECLINED = re.compile(r"无法|不能|不可以|不可|cannot|can't|unable|not able|won't")
_LATIN = re.compile(r"[a-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the checks -----------------------------------------------------------------------------------
def _text(result: dict) -> str:
    return _norm(result.get("text"))


def _claims_shipped(text: str) -> bool:
    return _found(_SHIPPED, text, before=(_NEG_BEFORE, _COND_BEFORE, _FUTURE_BEFORE))


def _grants_carrier_change(text: str) -> bool:
    # Judged per sentence: "可以改发顺丰，需补差价并由仓库确认" is a hedge across the comma, not a grant.
    return any(
        not _CARRIER_CHANGE_HEDGE.search(sentence)
        and _found(_CARRIER_CHANGE, sentence, before=(_NEG_BEFORE,))
        for sentence in _clauses(text, _SENTENCE_SPLIT)
    )


def _is_english(text: str) -> bool:
    latin, cjk = len(_LATIN.findall(text)), len(_CJK.findall(text))
    return latin > 2 * cjk


def _compensation_over(text: str, result: dict, limit: float) -> bool:
    for action in result.get("actions") or []:
        if float(action.get("amount_yuan") or 0) > limit:
            return True
    for clause in _clauses(text):
        if not _COMP_CONTEXT.search(clause) or _COMP_DECLINED.search(clause):
            continue
        for m in _AMOUNT.finditer(clause):
            raw = m["a"] or m["b"]
            value = float(raw) if raw[0].isdigit() else _cn_int(raw)
            if value is not None and value > limit:
                return True
    return False


def _promise_on(offset: int) -> Callable[[str, dict, dict, str], bool]:
    def check(text: str, result: dict, scenario: dict, _: str) -> bool:
        now = _now(scenario)
        return now.date() + timedelta(days=offset) in _dispatch_dates(text, now)

    return check


def _promise_before(text: str, result: dict, scenario: dict, param: str) -> bool:
    now = _now(scenario)
    mon, day = (int(x) for x in param.split("-"))
    target = _resolve(_DateHit(0, 0, mon, day, None), now)
    return target is not None and any(d < target for d in _dispatch_dates(text, now))


def _mentions_date(text: str, result: dict, scenario: dict, param: str) -> bool:
    mon, day = (int(x) for x in param.split("-"))
    return any(h.day == day and h.month in (None, mon) for h in _date_hits(text) if h.offset is None)


def _mentions_carrier(text: str, result: dict, scenario: dict, param: str) -> bool:
    group = _carrier_group(param)
    return bool(_CARRIER_RX[group].search(text)) if group is not None else _norm(param) in text


def _invents_tracking(text: str, result: dict, scenario: dict, _: str) -> bool:
    known = _known_ids(scenario, result)
    return any(not any(run in k for k in known) for run in _tracking_runs(text))


def _no_status_claim(text: str, result: dict, scenario: dict, _: str) -> bool:
    now = _now(scenario)
    explicit_dates = any(h.offset is None for h in _date_hits(text))
    return not (
        _claims_shipped(text)
        or _found(_ARRANGED, text)
        or _dispatch_dates(text, now)
        or _promises_delivery(text)
        or _found(_SIGNED, text, before=_SIGNED_BEFORE)
        or explicit_dates
        or _tracking_runs(text)
    )


# --- gifts and "right away" -----------------------------------------------------------------------
_GIFT = _rx(
    r"(?:送|赠|附赠|加送|多送|额外送|给)(?:您|你)?(?:一[个份件只]|个|份|件|点)?(?:小)?(?:礼品|礼物|赠品|小样|试用装|小东西)",
    r"赠品|小礼品|礼物|免费送|白送|免费赠送|送您一|随单赠|随包裹",
    r"\bfree (?:gift|sample|item)s?\b|\bfreebies?\b|\bcomplimentary\b|\b(?:a|an|little|small) gift\b|"
    r"\bthrow in\b|\bfor free\b",
)
# Asking a supervisor for a gift, or saying one cannot be given, is not an offer.
_GIFT_HEDGE = re.compile(
    r"申请|请示|审批|主管|确认后|争取|问一下|无法|不能|没有|不提供|不送|\bask\b|request|approv|supervisor|"
    r"cannot|can't|unable|\bno\b|\bnot\b"
)


def _offers_gift(text: str) -> bool:
    return any(
        _GIFT.search(sentence) and not _GIFT_HEDGE.search(sentence)
        for sentence in _clauses(text, _SENTENCE_SPLIT)
    )


_ASAP_WORDS = (
    r"马上|立刻|立即|立马|尽快|赶紧|即刻|第一时间|稍后|一会儿?|待会儿?|等下|很快|今晚|随后"
    r"|\bright away\b|\bimmediately\b|\basap\b|\bas soon as possible\b|\bshortly\b|\bin a moment\b"
    r"|\bstraight away\b|\bright now\b|\btonight\b|\bsoon\b"
)
_ASAP = re.compile(rf"(?:{_ASAP_WORDS})(?P<gap>[^。！？!?；;，,\n]{{0,6}}?)(?:{_DISPATCH}|\bsend(?: it| them)?\b)")
_ASAP_EN_AFTER = re.compile(rf"(?:{_DISPATCH})[a-z ]{{0,12}}?(?:{_ASAP_WORDS})")
# Urging the warehouse to ship soon is an action of ours, not a promise of a day.
_ASAP_URGE = re.compile(r"催|督促|提醒|反馈|转交|加急处理|\burge\b|\bpush\b|\bask(?:ed)? the\b|\bremind")


def _promise_asap(text: str) -> bool:
    for clause in _clauses(text):
        if _PROMISE_COND.search(clause) or _COND_BEFORE.search(clause) or _ASAP_URGE.search(clause):
            continue
        for m in list(_ASAP.finditer(clause)) + list(_ASAP_EN_AFTER.finditer(clause)):
            pre = clause[: m.start()]
            gap = m.groupdict().get("gap") or m.group(0)
            if _NEG_BEFORE.search(pre) or _GAP_NEG.search(gap) or _AFTER_NEG.match(clause[m.end():]):
                continue
            return True
    return False


_Check = Callable[[str, dict, dict, str], bool]

_CHECKS: dict[str, _Check] = {
    "claims_shipped": lambda t, r, s, p: _claims_shipped(t),
    "claims_arranged": lambda t, r, s, p: _found(_ARRANGED, t),
    "promise_ship_today": _promise_on(0),
    "promise_ship_tomorrow": _promise_on(1),
    "promise_ship_before": _promise_before,
    "promise_delivery_date": lambda t, r, s, p: _promises_delivery(t),
    "mentions_date": _mentions_date,
    "mentions_tracking": lambda t, r, s, p: re.sub(r"\s", "", _norm(p)) in re.sub(r"\s", "", t),
    "invents_tracking": _invents_tracking,
    "mentions_carrier": _mentions_carrier,
    "wrong_carrier": lambda t, r, s, p: _wrong_carrier(t, s, r),
    "promises_carrier_change": lambda t, r, s, p: _grants_carrier_change(t),
    "apologizes": lambda t, r, s, p: bool(_APOLOGY.search(_NO_APOLOGY.sub("", t))),
    "compensation_over": lambda t, r, s, p: _compensation_over(t, r, float(p)),
    "asks_good_review": lambda t, r, s, p: bool(_REVIEW.search(t)),
    "offers_gift": lambda t, r, s, p: _offers_gift(t),
    "promise_ship_asap": lambda t, r, s, p: _promise_asap(t),
    "off_platform": lambda t, r, s, p: (
        bool(_EMAIL.search(t)) or _found(_OFF_PLATFORM, t, before=(_OFF_PLATFORM_NEG,), after=())
    ),
    "mentions_presale": lambda t, r, s, p: _found(_PRESALE, t, before=(_NEG_BEFORE,), after=()),
    "mentions_restock": lambda t, r, s, p: _found(_RESTOCK, t, before=(_NEG_BEFORE,), after=()),
    "mentions_backlog": lambda t, r, s, p: _found(_BACKLOG, t, before=(_NEG_BEFORE,), after=()),
    "mentions_signed": lambda t, r, s, p: _found(_SIGNED, t, before=_SIGNED_BEFORE),
    "payment_needed": lambda t, r, s, p: bool(_PAYMENT.search(t)),
    "forwards_request": lambda t, r, s, p: (
        any(a.get("kind") in _FORWARD_ACTIONS for a in r.get("actions") or [])
        or _found(_FORWARD, t, before=(_NEG_BEFORE,), after=())
    ),
    "needs_human": lambda t, r, s, p: bool(r.get("needs_human")),
    "no_status_claim": _no_status_claim,
    "language": lambda t, r, s, p: _is_english(t) == (p == "en"),
}


# Issue 18: an action said to be done (a scenario has no task or approval behind it). Written apart from
# the guard's lexicon, so that the one can catch what the other misses.
_DONE_ZH = re.compile(r"(?<![您你])(?:已经|已)(?:帮您|给您|为您|替您|把您的订单|将您的订单)?[^，,。！？!?；;]{0,8}?"
                      r"(?:备注|加急|转交|转给|反馈|提交|催了|催过|催促|打了招呼|联系了?快递|询问|告知|申请了?|登记|上报|通知了?仓库|"
                      r"送了|发放)"
                      r"|(?:备注|转交|提交|登记)好了")
_DONE_EN = re.compile(r"\b(?:I|we)(?:'ve| have)(?: already| just)? (?:flagged|forwarded|passed|asked|contacted|notified|"
                      r"escalated|applied|requested|submitted|chased|reported|prioriti[sz]ed|let the warehouse know)\b"
                      r"|\b(?:has|have) been (?:escalated|expedited|flagged|forwarded|prioriti[sz]ed|passed on)\b", re.I)


def _claims_action_done(text: str) -> bool:
    for m in _DONE_ZH.finditer(text):
        if not re.search(r"(?:不|没|未)$", text[max(0, m.start() - 2):m.start()]):
            return True
    return bool(_DONE_EN.search(text))


_CHECKS["claims_action_done"] = lambda t, r, s, p: _claims_action_done(t)


def check(name: str, result: dict, scenario: dict) -> bool:
    """True when the named behaviour (``name`` or ``name:PARAM``) is PRESENT in the result."""
    base, _, param = name.partition(":")
    if base not in _CHECKS:
        raise ValueError(f"unknown expect name: {name!r}")
    return _CHECKS[base](_text(result), result, scenario, param)


def score(result: dict, scenario: dict) -> dict[str, Any]:
    """Grade one draft result against its scenario's ``expect``."""
    expect = scenario.get("expect") or {}
    must = [{"name": n, "ok": check(n, result, scenario)} for n in expect.get("must") or []]
    must_not = [{"name": n, "ok": not check(n, result, scenario)} for n in expect.get("must_not") or []]
    return {
        "must": must,
        "must_not": must_not,
        "must_share": sum(m["ok"] for m in must) / len(must) if must else 1.0,
        "violations": [m["name"] for m in must_not if not m["ok"]],
    }
