"""The claim check: find every claim in a draft text and hold it against the situation.

It reads text written by anyone (template, language model, or an agent's edit) and knows
nothing about how it was written. A claim is supported only by a fact in the situation; a
claim with no support is a violation. The guard never rewrites text: it reports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import BaseModel, Field

from drafter.situation import Situation

__all__ = ["Claim", "GuardReport", "Violation", "check", "find_dates"]


class Claim(BaseModel):
    kind: str
    text: str
    supported_by: str | None = None
    # Where the claim is in the text as given (Unicode code points, end exclusive), so an editor can mark it.
    start: int | None = None
    end: int | None = None


class Violation(BaseModel):
    kind: str
    text: str
    reason: str
    start: int | None = None
    end: int | None = None


class GuardReport(BaseModel):
    ok: bool = True
    claims: list[Claim] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    repaired: bool = False
    fell_back: bool = False
    reasons: list[str] = Field(default_factory=list)


# -- lexicons -----------------------------------------------------------------------------------

_CLAUSE_END = "。！？!?；;\n"
_NEG = re.compile(r"(没有?|未|不|无法|不能|暂时?不|还没|尚未|暂未|别|not|n't|never|cannot|unable|yet to)\s*$", re.I)
_NEG_NEAR = re.compile(r"没有?|未|无法|不能|不会|不了|还没|尚未|暂未|暂时无法|停止|暂停|停发|not|n't|cannot|unable", re.I)
_COND_AFTER = re.compile(r"^\s*(后|以后|之后|的时候|时|吗|么|没|了吗|\?|？)")
_QUESTION_AFTER = re.compile(r"^[^。！!]{0,4}(吗|么|\?|？)")

_SHIPPED = re.compile(
    r"已经?(?:为您|给您|帮您)?(?:发货|发出|寄出|出库|揽收|交给快递|交付快递)|(?:发货|发出|寄出|揽收)了"
    r"|(?:正在|已在)(?:路上|运输|派送)|在路上了?|运输途中|运输中|派送中"
    r"|has (?:been )?(?:shipped|dispatched|sent)|was (?:shipped|dispatched|sent)|(?:is|it's) on (?:its|the) way"
    r"|in transit|handed (?:over )?to the (?:courier|carrier)|picked up by|already shipped|shipped out"
    r"|已经?(?:为您|给您|帮您)?打包(?:好|完)?|打包好了|(?:包裹|宝贝|货)(?:已经?)?打包|已经?(?:交给|交由|给了)快递"
    r"|快递(?:员|小哥)?(?:已经?|刚刚?)(?:取件|揽件|揽收|取走|拿走|上门取)|已经?出仓"
    r"|(?:has|have|was|is) (?:been )?(?:packed|boxed up)|(?:courier|carrier|driver) (?:has |just )?(?:collected|picked (?:it|them) up)"
    r"|collected by the (?:courier|carrier)|(?:left|out of) (?:our|the) warehouse",
    re.I,
)
# "马上发", "稍后发出", "right away", "tonight": a day (today) promised without naming a date.
_ASAP = re.compile(
    r"(?P<w>马上|立刻|立即|立马|即刻|稍后|一会儿?|待会儿?|等一?下|很快|随后|尽快|第一时间|今晚|今夜|当天)"
    r"[^。！？!?；;，,\n]{0,6}?(?:发货|发出|寄出|出库|发走|寄走|发给您|给您发|安排发|发(?![票现生送布])|寄)"
    r"|\b(?:right away|immediately|in a (?:moment|minute|bit)|shortly|straight away|right now|tonight|asap|"
    r"as soon as possible|later today|within the hour)\b[^.!?;\n]{0,20}?\b(?:ship|dispatch|send|go(?:es)? out|leave)"
    r"|\b(?:ship|dispatch|send|go(?:es)? out|leave)\w*\b[^.!?;\n]{0,20}?\b(?:right away|immediately|in a (?:moment|minute|bit)|"
    r"shortly|straight away|right now|tonight|asap|as soon as possible|later today|within the hour)\b",
    re.I,
)
# Conditions and our own actions that make an "at once" no promise: "到货后马上发出", "马上帮您催仓库".
_ASAP_OK = re.compile(r"后|之后|以后|一旦|等到|如果|只要|到货|补货|有货|到仓|恢复|催|督促|反馈|转交|核实|加急处理|once|after|when|if |as soon as (?:it|the|we)|urge|ask",
                      re.I)
_GIFT = re.compile(
    r"(?:送|赠|附赠|加送|多送|额外送|补发|补寄)(?:您|你)?(?:一[个份件只]|个|份|件|点)?(?:小)?(?:礼品|礼物|赠品|小样|试用装|小东西)"
    r"|赠品|小礼品|礼物|免费送|白送|免费赠送|随单赠|"
    r"\bfree (?:gift|sample|item)s?\b|\bfreebies?\b|\bcomplimentary\b|\b(?:a|an|little|small) gift\b|\bthrow in\b",
    re.I,
)
_ARRANGED = re.compile(
    r"已经?(?:为您|给您|帮您)?安排(?:好了?)?(?:发货|发出|寄出|出库)?|安排好了|已在安排|正在安排发|"
    r"(?:has|have) been arranged|arranged (?:for )?(?:shipping|dispatch|shipment)",
    re.I,
)
_REVIEW = re.compile(
    r"好评|五星|5星|五颗星|五分|满分|晒图|晒单|评价(?:返|送|有礼|奖励|领|得)|带图评价|给个评价|写个?评价|追评|评论返|返现|"
    r"good review|positive review|5[- ]?star|five[- ]star|rate us|leave (?:us )?a (?:\w+ )?review|review (?:us|for)|"
    r"in exchange for (?:a )?review|cash ?back",
    re.I,
)
_OFF_PLATFORM = re.compile(
    r"微信|weixin|wechat|\bvx\b|\bwx\b|\bQQ\b|加我|加个好友|私聊|手机号|电话联系|打电话|拨打|致电|whatsapp|telegram|"
    r"line id|phone number|call (?:me|us)|(?<!\d)1[3-9]\d{9}(?!\d)|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    re.I,
)
_MONEY = re.compile(
    r"(?:¥|￥|RMB\s?|US\$|\$|USD\s?)\s*(\d+(?:\.\d+)?)"
    r"|(\d+(?:\.\d+)?)\s*(?:元|块钱|块(?![儿发送寄走到])|rmb|yuan|CNY|USD|dollars?|bucks)"
    r"|([零〇一二两三四五六七八九十百千]+)\s*(?:元|块钱|块(?![儿发送寄走到]))",
    re.I,
)
_CN_DIGITS = {c: i for i, cs in enumerate(("零〇", "一", "二两", "三", "四", "五", "六", "七", "八", "九")) for c in cs}
_COMP_CONTEXT = re.compile(r"券|红包|补偿|返现|赔|退款|退还|返还|补贴|coupon|voucher|credit|refund|compensat|cash ?back", re.I)
_APPROVAL = re.compile(r"申请|审批|审核|主管|确认后|approval|approve|request", re.I)

_REASONS = {
    "backlog": re.compile(r"积压|爆仓|订单量(?:激增|大|多)|单量(?:大|多)|backlog", re.I),
    "presale": re.compile(r"预售|pre-?sale|pre-?order", re.I),
    "out_of_stock": re.compile(r"缺货|断货|没货|无货|库存不足|补货|out of stock|restock|back in stock", re.I),
    "signed": re.compile(r"签收|signed for|marked (?:as )?delivered", re.I),
    "closure": re.compile(r"放假|停止发货|暂停发货|停发|holiday|closed for", re.I),
    "unpaid": re.compile(r"未付款|还没付款|没有付款|尚未付款|未支付|还没支付|待付款|not (?:been )?paid|unpaid|complete (?:the )?payment", re.I),
}

CARRIERS: dict[str, tuple[str, ...]] = {
    "中通快递": ("中通", "ZTO"),
    "顺丰速运": ("顺丰", "SF Express", "SF"),
    "圆通速递": ("圆通", "YTO"),
    "申通快递": ("申通", "STO"),
    "韵达快递": ("韵达", "Yunda"),
    "中国邮政": ("邮政", "EMS", "China Post"),
    "京东物流": ("京东快递", "京东物流", "JD Logistics"),
    "极兔速递": ("极兔", "J&T"),
    "德邦快递": ("德邦", "Deppon"),
    "百世快递": ("百世", "Best Express"),
}
_CARRIER_RE = re.compile(
    "|".join(sorted({re.escape(a) for v in CARRIERS.values() for a in v}, key=len, reverse=True)
             ).replace("SF", r"SF(?![0-9A-Za-z])").replace("EMS", r"(?<![A-Za-z])EMS(?![A-Za-z])")
)
_GRANT = re.compile(r"改发|改用|改走|改成|换成|换用|换个|升级|给您发|为您发|帮您发|给您走|帮您走|安排|可以发|就发|能发|直接走|"
                    r"switch|change (?:it )?to|upgrade|send (?:it )?(?:by|via|with)|ship (?:it )?(?:by|via|with)", re.I)
_FORWARD = re.compile(r"仓库确认|转交|反馈给|申请|需要|无法|不能|确认后|核实|备注|登记|check with|forward|pass|ask the warehouse|request", re.I)

# Actions said to be done ("已经帮您备注/转交/申请/联系…", "I have flagged/forwarded…"). Each is a claim that
# needs a done task (or, for compensation, an approval request) behind it; until then the reply says
# what WILL happen ("我这就帮您备注加急，转交仓库处理"). Future words inside the gap end the match, so
# "已经超时，我这就帮您备注" is not read as done.
_GAP = r"(?:(?!就|会|将会|马上|立即|立刻|这就|稍后|接下来|will)[^，,。！？!?；;\n]){0,12}?"
_DONE_ZH = re.compile(
    r"已经?(?:为您|给您|帮您|替您)?" + _GAP +
    r"(?P<verb>备注|加急|标记|插旗|转交|转给|转到|提交|反馈|交给|通知|登记|催(?:了|过|促)|打(?:了|过)招呼|联系|致电|询问|核实过|"
    r"上报|报备|告知|申请|发放|发了|送了|补偿了|补发)"
    r"|(?P<verb2>备注|转交|提交|反馈|登记|联系|申请|发放)(?:好)?了(?!解|吗|么)"
    r"|(?:跟|和|给)(?:仓库|快递)打(?:了|过)招呼",
)
_DONE_EN = re.compile(
    r"\b(?:I|we)(?:'ve| have)(?: already| just| now)? (?P<verb>flagged|forwarded|passed|asked|contacted|notified|escalated|marked|"
    r"noted|told|reminded|submitted|applied|requested|issued|sent you|credited|chased|reported|raised|"
    r"let (?:the|our) (?:warehouse|courier|team) know|expedited|prioriti[sz]ed)\b"
    r"|\b(?:it|this|your (?:order|request|case))(?:'s| has| is)(?: already| now)? (?:been )?"
    r"(?P<verb2>flagged|forwarded|passed on|escalated|marked|noted|submitted|reported|expedited|prioriti[sz]ed)\b",
    re.I,
)
_TO_COURIER = re.compile(r"快递(?!单)|courier|carrier", re.I)
_TO_COLLEAGUE = re.compile(r"同事|售后|主管|专员|客服主管|colleague|after-sales|supervisor|manager|team", re.I)
_COMP_WORDS = re.compile(r"补偿|券|红包|礼品|赠品|小礼|返现|coupon|voucher|gift|goodwill|compensat|credit", re.I)
_GRANT_VERBS = ("发放", "发了", "送了", "补偿了", "补发", "issued", "sent you", "credited")
_APPLY_VERBS = ("申请", "applied", "requested")


_TRACKING = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z]{1,4}\d{8,}[A-Z]{0,2}|\d{10,})(?![A-Za-z0-9])")

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DATE = re.compile(
    r"(?P<md>(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?)"
    r"|(?P<iso>(?:(?P<y2>\d{4})[-/.])?(?P<m2>\d{1,2})[-/](?P<d2>\d{1,2})(?![\d:天日个周小号月]|\s*(?:days?|hours?|weeks?)))"
    r"|(?P<dn>(?<![\d月.:-])(?P<d3>\d{1,2})[日号](?!\w*[元块]))"
    r"|(?P<en>(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+(?P<d4>\d{1,2})(?:st|nd|rd|th)?)"
    r"|(?P<en2>(?P<d5>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon2>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*)"
    r"|(?P<wd>(?P<wdp>下下|下|这|本|next\s+|this\s+)?(?:(?:周|星期|礼拜)(?P<wdz>[一二三四五六日天])"
    r"|(?P<wde>mon|tues|wednes|thurs|fri|satur|sun)day\b))"
    r"|(?P<rel>今天|今日|今儿|今晚|今夜|当天|当日|明天|明日|明儿|明早|明晚|后天|大后天|today|tonight|tomorrow|day after tomorrow)",
    re.I,
)
_WEEKDAYS_ZH = "一二三四五六"
_WEEKDAYS_EN = ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")
_REL_DAYS = {"今天": 0, "今日": 0, "今儿": 0, "今晚": 0, "今夜": 0, "当天": 0, "当日": 0, "today": 0, "tonight": 0,
             "明天": 1, "明日": 1, "明儿": 1, "明早": 1, "明晚": 1, "tomorrow": 1, "后天": 2, "day after tomorrow": 2,
             "大后天": 3}

_DISPATCH = re.compile(r"发货|发出|寄出|出库|发走|发|ship|dispatch|send|sent|go out|goes out", re.I)
_DELIVERY = re.compile(r"到货|送达|送到|到达|(?:一定|肯定|保证|应该|就能?|会|能|可以|才能?)到|到您|到家|收到|签收|到手|"
                       r"arriv|deliver|reach|get it|receive", re.I)
_RESTOCK = re.compile(r"补货|有货|进货|到仓|入库|restock|back in stock|in stock", re.I)
# "should have left our warehouse", "本应昨天发出": the missed event, said as missed, is not a claim that it happened.
_MISSED = re.compile(r"(?:本应|本该|原定|原本应?该?|should have|ought to have|was due to|were due to|supposed to have)\s*$", re.I)
_COUNTERFACTUAL = re.compile(r"本应|本该|应该在|原定|原本|承诺|约定|should have|was due|were due|promised", re.I)
_STOCKY = re.compile(r"缺货|库存|补货|仓库|restock|stock", re.I)
# Arrival promised as a window or a period, with no date in it: "3天内送到", "下周能到", "within 2 days".
_N_SPAN = r"(?:\d+|[一二两三四五六七八九十]+)\s*(?:(?:-|~|到|至)\s*(?:\d+|[一二两三四五六七八九十]+)\s*)?个?(?:工作日|天|小时)(?:内|之内|左右)?"
_PERIOD = r"下周|下个?星期|下礼拜|本周|这周|周末"
_WINDOW = re.compile(
    rf"(?:{_N_SPAN}|{_PERIOD})[^。！？!?；;，,\n]{{0,10}}?(?:送到|送达|到货|到达|收到|到家|到手|能到|会到|就到|可到|可以到)"
    r"|(?:arriv\w*|be delivered|deliver\w*|reach(?:es)? you|get (?:it|them|your \w+)|receive (?:it|them|your \w+))"
    r"[a-z ]{0,20}?\b(?:with)?in \d+(?:\s*-\s*\d+)? (?:business |working )?(?:days?|hours?)\b"
    r"|\bwithin \d+(?:\s*-\s*\d+)? (?:business |working )?(?:days?|hours?)[a-z ,']{0,20}?\b"
    r"(?:arriv|deliver|receive|get it|reach)"
    r"|(?:arriv\w*|be delivered|deliver\w*|reach(?:es)? you)[a-z ]{0,15}?\b(?:by |on |before |over )?(?:this|next) (?:week|weekend)\b",
    re.I,
)
_GENERIC = re.compile(r"一般|通常|正常情况|正常|平均|大多|usually|typically|normally|on average|in most cases", re.I)
_HEDGE = re.compile(r"无法|不能|不确定|不保证|不敢保证|承诺不了|没法|不一定|no guarantee|can't|cannot|unable|not able", re.I)
# "单号" (not 订单号), "运单", "tracking": what introduces a tracking number.
_TRACKING_CUE = re.compile(r"(?<!订)单号|运单|快递单|物流单|tracking|waybill", re.I)
# Zero-width and direction characters hide words from every lexicon below ("微\u200b信"); a reader never sees them.
_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        r"\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")


@dataclass
class DateMention:
    day: date | None
    text: str
    start: int
    end: int
    relative: bool


def find_dates(text: str, today: date) -> list[DateMention]:
    """Every date-like mention, resolved against ``today`` (None when it cannot be resolved)."""
    out: list[DateMention] = []
    for m in _DATE.finditer(text):
        day: date | None = None
        rel = False
        try:
            if m.group("md"):
                day = _mk(m.group("y"), int(m.group("m")), int(m.group("d")), today)
            elif m.group("iso"):
                day = _mk(m.group("y2"), int(m.group("m2")), int(m.group("d2")), today)
            elif m.group("dn"):
                d = int(m.group("d3"))
                day = _mk(None, today.month, d, today)
                if day and day < today - timedelta(days=10):  # "16号" late in a month means next month
                    nm = today.replace(day=1) + timedelta(days=32)
                    day = _mk(str(nm.year), nm.month, d, today)
            elif m.group("en"):
                day = _mk(None, _MONTHS[m.group("mon")[:3].lower()], int(m.group("d4")), today)
            elif m.group("en2"):
                day = _mk(None, _MONTHS[m.group("mon2")[:3].lower()], int(m.group("d5")), today)
            elif m.group("wd"):  # "周五", "下周一", "by Friday": the coming one (or next week's)
                z, e = m.group("wdz"), m.group("wde")
                target = (_WEEKDAYS_EN.index(e.lower()) if e else
                          _WEEKDAYS_ZH.index(z) if z in _WEEKDAYS_ZH else 6)
                prefix = (m.group("wdp") or "").strip().lower()
                if prefix in ("下", "下下", "next"):
                    monday = today - timedelta(days=today.weekday()) + timedelta(days=7 * (2 if prefix == "下下" else 1))
                    day = monday + timedelta(days=target)
                else:
                    day = today + timedelta(days=(target - today.weekday()) % 7)
                rel = True
            elif m.group("rel"):
                day = today + timedelta(days=_REL_DAYS[m.group("rel").lower()])
                rel = True
        except ValueError:
            day = None
        out.append(DateMention(day, m.group(0), m.start(), m.end(), rel))
    return out


def _mk(year: str | None, month: int, d: int, today: date) -> date | None:
    if not (1 <= month <= 12 and 1 <= d <= 31):
        return None
    y = int(year) if year else today.year
    day = date(y, month, d)
    if not year and day < today - timedelta(days=180):
        day = date(y + 1, month, d)
    return day


def _clause(text: str, start: int, end: int) -> tuple[str, str]:
    """The text of the clause before and after a span (stops at sentence punctuation)."""
    i = start
    while i > 0 and text[i - 1] not in _CLAUSE_END and start - i < 30:
        i -= 1
    j = end
    while j < len(text) and text[j] not in _CLAUSE_END and j - end < 30:
        j += 1
    return text[i:start], text[end:j]


def _negated(before: str) -> bool:
    return bool(_NEG.search(before[-8:]))


def _canon_carrier(name: str) -> str:
    for canon, aliases in CARRIERS.items():
        if name in aliases or name == canon or any(a.lower() == name.lower() for a in aliases):
            return canon
    return name


def _carrier_allowed(mention: str, carriers: list[str]) -> str | None:
    canon = _canon_carrier(mention)
    for i, c in enumerate(carriers):
        if _canon_carrier(c) == canon or mention in c or c in mention:
            return str(i)
    return None


# -- the check ----------------------------------------------------------------------------------

def check(text: str, s: Situation, *, known_refs: tuple[str, ...] = ()) -> GuardReport:
    """Claims in ``text`` against the situation ``s``.

    ``known_refs`` are strings that look like tracking numbers but are not claims (the order id,
    numbers the buyer wrote), so quoting them back is not inventing a tracking number.
    """
    r = GuardReport()
    today = s.now.date()
    # Read the text as a buyer sees it: full-width and styled letters folded ("ｖｘ", "𝐬𝐡𝐢𝐩𝐩𝐞𝐝"), invisible
    # characters dropped. Claims quote this canonical form; their offsets point into the text as given.
    text, origin = _canonical(text)

    quotes = _quotes(text, s)

    def claim(kind: str, span: str, support: str | None, reason: str | None = None, at: int | None = None,
              pos: int | None = None) -> None:
        if support is None and at is not None and kind not in ("asks_good_review", "off_platform", "compensation"):
            # Words quoted from the shop's own notice or the parcel's own tracking event are that fact.
            support = next((sup for a, b, sup in quotes if a <= at < b), None)
        start = at if pos is None else pos
        a, b = origin(start, len(span)) if start is not None else (None, None)
        r.claims.append(Claim(kind=kind, text=span, supported_by=support, start=a, end=b))
        if support is None:
            r.violations.append(Violation(kind=kind, text=span, reason=reason or "no fact supports this", start=a, end=b))

    # Shipped / arranged.
    for m in _SHIPPED.finditer(text):
        before, after = _clause(text, m.start(), m.end())
        if _negated(before) or _COND_AFTER.match(after) or _QUESTION_AFTER.match(after) or _MISSED.search(before[-16:]):
            continue
        support = "order:shipments[0]" if s.shipped else None
        claim("shipped", m.group(0), support, "the order has no shipment", at=m.start())
    for m in _ARRANGED.finditer(text):
        before, after = _clause(text, m.start(), m.end())
        if _negated(before) or _QUESTION_AFTER.match(after):
            continue
        support = "order:shipments[0]" if s.shipped else (
            s.dispatch_on_support if s.may_claim_arranged else None)
        claim("arranged", m.group(0), support, "nothing is arranged: stock, payment or dispatch is not confirmed",
              at=m.start())

    # Dates: dispatch, delivery, restock, or bare.
    known_dates = _known_dates(s)
    for dm in find_dates(text, today):
        before, after = _clause(text, dm.start, dm.end)
        role, negated = _date_role(before, after)
        if role == "delivery":
            if not negated:
                claim("delivery_date", dm.text, None, "no one can promise when the courier delivers", at=dm.start)
            continue
        if dm.day is None:
            claim("date", dm.text, None, "not a valid date", at=dm.start)
            continue
        iso = dm.day.isoformat()
        if role == "dispatch":
            if negated:
                continue  # "今天发不了" is an honest no, not a promise
            if iso in known_dates and not dm.relative and _COUNTERFACTUAL.search(before[-12:]):
                claim("dispatch_date", dm.text, known_dates[iso], pos=dm.start)  # "本应在…前发出": the missed promise
            elif s.not_before and dm.day < s.not_before:
                claim("dispatch_date", dm.text, None,
                      f"cannot ship before {s.not_before.isoformat()} ({s.not_before_support})", at=dm.start)
            elif iso in s.allowed_dates:
                claim("dispatch_date", dm.text, s.allowed_dates[iso], at=dm.start)
            elif s.dispatch_by and dm.day <= s.dispatch_by and not dm.relative and _by_phrase(after):
                claim("dispatch_date", dm.text, "order:promised_ship_by", at=dm.start)
            elif iso in known_dates and not dm.relative and (
                    _past_tense(after) or _COUNTERFACTUAL.search(before[-12:])):
                claim("dispatch_date", dm.text, known_dates[iso], at=dm.start)
            else:
                claim("dispatch_date", dm.text, None, "no fact allows promising dispatch on this day", at=dm.start)
        elif role == "restock":
            ok = next((p for p in s.pending_items if p.restock_eta == dm.day and not p.stale), None)
            claim("restock_date", dm.text, f"order:items[{ok.index}].restock_eta" if ok else None,
                  "no restock date in the order says this", at=dm.start)
        else:
            if dm.relative:
                continue  # "今天" alone ("今天给您催了") is not a date claim
            support = s.allowed_dates.get(iso) or known_dates.get(iso)
            claim("date", dm.text, support, "a date that no fact in the order or notices gives", at=dm.start)

    # Arrival windows and periods ("3天内送到", "下周能到", "within 2 days") promise delivery as much as a date.
    for m in _WINDOW.finditer(text):
        before, _after = _clause(text, m.start(), m.end())
        if _GENERIC.search(before + m.group(0)) or _HEDGE.search(before) or _negated(before):
            continue
        claim("delivery_date", m.group(0), None, "no one can promise when the courier delivers", at=m.start())

    # "At once" promises ("马上发", "稍后发出", "right away", "tonight"): only when today is the day.
    for m in _ASAP.finditer(text):
        before, after = _clause(text, m.start(), m.end())
        rest = m.group(0)[len(m.group("w") or ""):]
        if _negated(before) or _ASAP_OK.search(before[-10:] + rest) or _QUESTION_AFTER.match(after) or (
                _NEG_NEAR.search(after[:4])):
            continue
        today_ok = s.dispatch_on == today and s.estimate is not None and s.estimate.certainty == "on"
        claim("dispatch_date", m.group(0), s.dispatch_on_support if today_ok else None,
              "no fact allows promising dispatch at once", at=m.start())

    # Gifts: a remedy that needs approval unless the shop's settings allow it.
    for m in _GIFT.finditer(text):
        before, after = _clause(text, m.start(), m.end())
        if _negated(before) or _NEG_NEAR.search(before[-6:]):
            continue
        asked = bool(_APPROVAL.search(before + after) or re.search(r"争取|问一下|ask|request", before + after, re.I))
        if s.gift is None:
            claim("gift", m.group(0), None, "the shop has no gift to offer", pos=m.start())
        elif s.compensation_needs_approval and not asked:
            claim("gift", m.group(0), None, "a gift needs approval; propose it as an action", pos=m.start())
        else:
            claim("gift", m.group(0), "settings:compensation.gift", pos=m.start())

    # Tracking numbers: only the order's own.
    allowed = set(s.allowed_tracking)
    for m in _TRACKING.finditer(text):
        tok = m.group(0)
        if tok in allowed:
            claim("tracking_no", tok, f"order:shipments[{s.allowed_tracking.index(tok)}].tracking_no", pos=m.start())
        elif tok in known_refs and not re.fullmatch(r"1[3-9]\d{9}", tok):
            before, _after = _clause(text, m.start(), m.end())
            if _TRACKING_CUE.search(before[-12:]) and not _NEG_NEAR.search(before[-12:]):
                # The buyer's number handed back as the parcel's tracking number ("新单号YT…"): not a fact.
                claim("tracking_no", tok, None, "a number the buyer wrote is not a tracking number of this order", pos=m.start())
            continue  # the order id / the buyer's own numbers quoted back
        elif re.fullmatch(r"1[3-9]\d{9}", tok):
            continue  # phone numbers are caught below
        else:
            claim("tracking_no", tok, None, "not a tracking number of this order", pos=m.start())

    # Carriers.
    for m in _CARRIER_RE.finditer(text):
        name = m.group(0)
        before, after = _clause(text, m.start(), m.end())
        clause = before + name + after
        idx = _carrier_allowed(name, s.allowed_carriers)
        if idx is not None:
            claim("carrier", name, f"order:shipments[{idx}].carrier", pos=m.start())
            continue
        if any(a <= m.start() < b for a, b, _ in quotes):
            claim("carrier", name, next(sup for a, b, sup in quotes if a <= m.start() < b), pos=m.start())
            continue
        granted = _GRANT.search(clause) and not _FORWARD.search(clause) and not _NEG_NEAR.search(before[-6:])
        if granted and not s.shipped:
            claim("carrier_change", name, None, "only the warehouse can grant a carrier change", pos=m.start())
        elif s.shipped:
            if _NEG_NEAR.search(before[-6:]) or _FORWARD.search(clause):
                claim("carrier", name, "policy:carriers", pos=m.start())
            else:
                claim("carrier", name, None, "the parcel travels with another carrier", pos=m.start())
        elif _carrier_allowed(name, s.policy_carriers) is not None or _FORWARD.search(clause):
            claim("carrier", name, "policy:default_carriers", pos=m.start())
        elif s.facts_known:
            claim("carrier", name, None, "not one of the shop's carriers", pos=m.start())
        else:
            claim("carrier", name, None, "order status unknown: no carrier may be named", pos=m.start())

    # Actions said to be done: only with a done task / an approval request behind them.
    for rx in (_DONE_ZH, _DONE_EN):
        for m in rx.finditer(text):
            before, after = _clause(text, m.start(), m.end())
            if _negated(before) or _QUESTION_AFTER.match(after):
                continue
            if re.search(r"(?<![帮给为替])[您你]\s*$|\byou(?:'ve| have)?\s*$", before, re.I):
                continue  # the buyer did it ("您已经催了好几次")
            found = _done_claim(m, before + m.group(0) + after, s)
            if found is not None:
                claim(found[0], m.group(0), found[1], found[2], pos=m.start())

    # Money.
    for m in _MONEY.finditer(text):
        before, after = _clause(text, m.start(), m.end())
        if not _COMP_CONTEXT.search(before + m.group(0) + after):
            continue
        amount = float(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else _cn_number(m.group(3))
        if amount > s.coupon_max:
            claim("compensation", m.group(0), None, f"over the shop's limit of {s.coupon_max:g} yuan", pos=m.start())
        elif s.compensation_needs_approval and not _APPROVAL.search(before + after):
            claim("compensation", m.group(0), None, "compensation needs approval; propose it as an action", pos=m.start())
        else:
            claim("compensation", m.group(0), "settings:compensation", pos=m.start())

    for m in _REVIEW.finditer(text):
        claim("asks_good_review", m.group(0), None, "asking for a (good) review is not allowed", pos=m.start())
    for m in _OFF_PLATFORM.finditer(text):
        claim("off_platform", m.group(0), None, "moving the buyer off the platform is not allowed", pos=m.start())

    # Reasons given for the status must be true.
    def said_by_notice(rx: re.Pattern[str], kinds: tuple[str, ...]) -> str | None:
        n = next((n for n in s.notices if n.kind in kinds or rx.search(n.text)), None)
        return f"notice:{n.id}" if n else None

    reason_support = {
        "backlog": said_by_notice(_REASONS["backlog"], ("backlog",)),
        "presale": "order:presale" if (s.presale_from or s.presale_by) else None,
        "out_of_stock": next((f"order:items[{p.index}].stock" for p in s.pending_items
                              if p.stock == "out_of_stock"), None),
        "signed": "order:shipments.events" if any(v.signed for v in s.shipments) else None,
        "closure": said_by_notice(_REASONS["closure"], ("closure",)),
        "unpaid": "order:status" if s.state == "unpaid" or s.closed_reason == "unpaid" else None,
    }
    for kind, rx in _REASONS.items():
        for m in rx.finditer(text):
            before, after = _clause(text, m.start(), m.end())
            if reason_support[kind] is None and (_negated(before) or _COND_AFTER.match(after)):
                continue
            claim(kind, m.group(0), reason_support[kind], f"the order is not {kind.replace('_', ' ')}", at=m.start())

    r.ok = not r.violations
    return r


def _canonical(raw: str) -> tuple[str, Callable[[int, int], tuple[int | None, int | None]]]:
    """The text as a buyer reads it, and a map from a span in it back to the span in ``raw``."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", raw))
    pieces: list[str] = []
    index: list[int] = []  # index[i]: where canonical character i came from in ``raw``
    for i, ch in enumerate(raw):
        if _INVISIBLE.fullmatch(ch):
            continue
        folded = unicodedata.normalize("NFKC", ch)
        pieces.append(folded)
        index.extend([i] * len(folded))
    exact = "".join(pieces) == text  # false only when characters combine across (e.g. "e" + U+0301)

    def origin(start: int, length: int) -> tuple[int | None, int | None]:
        if not exact or length <= 0 or start + length > len(index):
            return None, None
        return index[start], index[start + length - 1] + 1

    return text, origin


def _done_claim(m: re.Match[str], clause: str, s: Situation) -> tuple[str, str | None, str] | None:
    """What a "done" phrase claims and the done task or approval that supports it (support None: nothing
    does); None when the phrase is not about one of our actions ("已经发了" is the shipping check's)."""
    verb = (m.groupdict().get("verb") or m.groupdict().get("verb2") or "").lower()
    done = s.done_actions
    comp = bool(_COMP_WORDS.search(clause))
    if verb in _GRANT_VERBS:
        if not comp:
            return None
        return ("compensation_granted", done.get("compensation_granted"),
                "no approved compensation: say it was applied for, not given")
    if verb in _APPLY_VERBS:
        if re.search(r"退款|refund", clause, re.I):
            return "refund_applied", None, "only the buyer can apply for a refund; nothing was applied for"
        return ("compensation_applied", done.get("compensation_applied") or done.get("compensation_granted"),
                "nothing was applied for yet: say it will be")
    if verb in ("联系", "致电", "询问", "核实过", "contacted") or (
            _TO_COURIER.search(clause) and not re.search(r"仓库|warehouse", clause, re.I)):
        return "handoff_courier", done.get("contact_courier"), "nobody contacted the courier yet: say you will"
    if _TO_COLLEAGUE.search(clause) and not re.search(r"仓库|warehouse", clause, re.I):
        return ("handoff_colleague", done.get("escalate"),
                "nothing was passed to a colleague yet: say you will")
    return ("handoff_warehouse", done.get("priority") or done.get("forward_warehouse"),
            "the order was not flagged or passed to the warehouse yet: say you will")


def _cn_number(s: str) -> float:
    """'五十' → 50, '二十五' → 25, '一百' → 100, '两' → 2 (enough for amounts of money)."""
    total, cur = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            cur = _CN_DIGITS[ch]
        else:
            total += (cur or 1) * {"十": 10, "百": 100, "千": 1000}[ch]
            cur = 0
    return float(total + cur)


def _date_role(before: str, after: str) -> tuple[str, bool]:
    """What a date is about (dispatch / delivery / restock / plain date), and whether it is negated."""
    a = after[:16]
    # English words are longer: "will deliver it to your door tonight" needs more than 20 characters.
    b = before[-30:] if len(re.findall(r"[A-Za-z]", before[-30:])) > 15 else before[-20:]
    da = _DELIVERY.search(a)
    di = _DISPATCH.search(a)
    rs = _RESTOCK.search(a)

    def neg_after(m: re.Match[str]) -> bool:
        # "今天无法发出" / "今天发不了" / "won't ship today"
        return bool(_NEG_NEAR.search(a[: m.end() + 3])) or _negated(before)

    if rs and (not di or rs.start() <= di.start()) and (not da or rs.start() <= da.start()):
        return "restock", False
    if da and (not di or da.start() < di.start()):
        if da.group(0) == "到货" and _STOCKY.search(before + a[:da.start()]):
            return "restock", False
        return "delivery", neg_after(da)
    if di:
        return "dispatch", neg_after(di)
    neg_before = bool(_NEG_NEAR.search(b[-12:]))
    if _DELIVERY.search(b) and not _DISPATCH.search(b):
        return ("delivery", neg_before) if not _STOCKY.search(b) else ("restock", False)
    if _DISPATCH.search(b):
        return "dispatch", neg_before
    if _RESTOCK.search(b):
        return "restock", False
    return "date", False


def _by_phrase(after: str) -> bool:
    return bool(re.match(r"^\s*(?:\d{1,2}[:：]\d{2})?\s*(?:前|之前|以前|内|为止)", after)) or after.lstrip().lower().startswith(
        ("before", "by"))


def _past_tense(after: str) -> bool:
    return bool(re.search(r"已|了|ed\b", after[:12]))


def _quotes(text: str, s: Situation) -> list[tuple[int, int, str]]:
    """Spans of ``text`` that quote an active notice or a parcel's own last tracking event verbatim."""
    sources = [(n.text, f"notice:{n.id}") for n in s.notices]
    sources += [(v.last_event or "", f"order:shipments[{v.index}].events") for v in s.shipments]
    out: list[tuple[int, int, str]] = []
    for src, support in sources:
        src = unicodedata.normalize("NFKC", src)
        for seg in re.split(r"[，,。；;！!？?\n]|\.\s", src):
            seg = seg.strip().rstrip(".")
            if len(seg) < 4:
                continue
            start = text.find(seg)
            while start >= 0:
                out.append((start, start + len(seg), support))
                start = text.find(seg, start + 1)
    return out


def _known_dates(s: Situation) -> dict[str, str]:
    """Dates that are facts (paid, shipped, tracking events, notices) and may be quoted."""
    out: dict[str, str] = {}
    if s.paid_at:
        out[s.paid_at.date().isoformat()] = "order:paid_at"
    if s.promised_ship_by:
        out[s.promised_ship_by.date().isoformat()] = "order:promised_ship_by"
    for v in s.shipments:
        if v.shipped_at:
            out[v.shipped_at.date().isoformat()] = f"order:shipments[{v.index}].shipped_at"
        if v.last_event_at:
            out[v.last_event_at.date().isoformat()] = f"order:shipments[{v.index}].events"
    for n in s.notices:
        for dm in find_dates(n.text, s.now.date()):
            if dm.day and not dm.relative:
                out.setdefault(dm.day.isoformat(), f"notice:{n.id}")
    for p in s.pending_items:
        if p.restock_eta and not p.stale:
            out[p.restock_eta.isoformat()] = f"order:items[{p.index}].restock_eta"
    if s.presale_from:
        out.setdefault(s.presale_from.isoformat(), "order:presale.ship_from")
    if s.presale_by:
        out.setdefault(s.presale_by.isoformat(), "order:presale.ship_by")
    return out
