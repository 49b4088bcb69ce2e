"""What a notice does to dispatch, machine-checkable, and a suggester that reads it from the notice's text.

A notice keeps its buyer-facing text; its ``effects`` are what the drafter may rely on::

    dispatch_pause {from, until}         no dispatch on those days (shop timezone, ``until`` inclusive)
    dispatch_delay {days_min, days_max}  every dispatch estimate shifts by that many dispatch days
    cutoff {daily_cutoff, last_pickup}   a temporary payment cutoff and/or last courier pickup
    carriers {suspended: [...]}          carriers that take no parcels while the notice is in force

No effects means information only. The suggester never writes effects: it proposes them with the
words it read them from, and a manager confirms (the /kb page, or the API caller). Its reading is
deliberately narrow: a date it cannot place or a sentence it cannot parse gives no suggestion rather
than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import InvalidInput
from knowledge.shop_settings import parse_hhmm

__all__ = [
    "CARRIER_ALIASES", "CarrierSuspension", "CutoffChange", "DispatchDelay", "DispatchPause", "MAX_EFFECTS",
    "NoticeEffect", "Suggestion", "canonical_carrier", "concerns_dispatch", "dump_effects", "parse_effects",
    "suggest_effects", "suggest_notice_effects",
]

MAX_EFFECTS = 10
MAX_PAUSE_DAYS = 366
MAX_DELAY_DAYS = 60


class _Effect(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class DispatchPause(_Effect):
    kind: Literal["dispatch_pause"] = "dispatch_pause"
    from_: date = Field(alias="from")
    until: date

    @model_validator(mode="after")
    def _range(self) -> DispatchPause:
        if self.until < self.from_:
            raise ValueError("until is before from")
        if (self.until - self.from_).days >= MAX_PAUSE_DAYS:
            raise ValueError(f"a pause may last at most {MAX_PAUSE_DAYS} days")
        return self

    @classmethod
    def of(cls, start: date, until: date) -> DispatchPause:
        return cls.model_validate({"from": start, "until": until})

    def covers(self, day: date) -> bool:
        return self.from_ <= day <= self.until


class DispatchDelay(_Effect):
    kind: Literal["dispatch_delay"] = "dispatch_delay"
    days_min: int = Field(ge=0, le=MAX_DELAY_DAYS)
    days_max: int = Field(ge=1, le=MAX_DELAY_DAYS)

    @model_validator(mode="after")
    def _range(self) -> DispatchDelay:
        if self.days_max < self.days_min:
            raise ValueError("days_max is below days_min")
        return self


class CutoffChange(_Effect):
    kind: Literal["cutoff"] = "cutoff"
    daily_cutoff: str | None = None
    last_pickup: str | None = None

    @field_validator("daily_cutoff", "last_pickup")
    @classmethod
    def _hhmm(cls, v: str | None, info: Any) -> str | None:
        return None if v is None else parse_hhmm(v, info.field_name)

    @model_validator(mode="after")
    def _some(self) -> CutoffChange:
        if self.daily_cutoff is None and self.last_pickup is None:
            raise ValueError("give daily_cutoff, last_pickup or both")
        return self


Carrier = Annotated[str, Field(min_length=1, max_length=40)]


class CarrierSuspension(_Effect):
    kind: Literal["carriers"] = "carriers"
    suspended: list[Carrier] = Field(min_length=1, max_length=20)

    @field_validator("suspended")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        names = [s.strip() for s in v]
        if any(not n for n in names):
            raise ValueError("a carrier name is empty")
        return names


NoticeEffect = Annotated[DispatchPause | DispatchDelay | CutoffChange | CarrierSuspension,
                         Field(discriminator="kind")]
_EFFECTS = TypeAdapter(list[NoticeEffect])


def parse_effects(raw: Any, *, kind: str = "notice") -> list[NoticeEffect]:
    """Validate effects as sent (JSON list, front matter, scenario file); errors name the entry and field."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise InvalidInput("effects must be a list of {kind: ...} objects", field="effects")
    if raw and kind != "notice":
        raise InvalidInput(f"effects are only for notices (this item is a {kind})", field="effects")
    if len(raw) > MAX_EFFECTS:
        raise InvalidInput(f"at most {MAX_EFFECTS} effects per notice", field="effects")
    items = [e.model_dump(by_alias=True, mode="json") if isinstance(e, BaseModel) else e for e in raw]
    try:
        return _EFFECTS.validate_python(items)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if p not in ("dispatch_pause", "dispatch_delay", "cutoff", "carriers"))
        where = f"effects[{loc.split('.', 1)[0]}]" + (f".{loc.split('.', 1)[1]}" if "." in loc else "")
        raise InvalidInput(f"{where}: {err['msg']}", field="effects") from exc


def dump_effects(effects: Iterable[NoticeEffect]) -> list[dict[str, Any]]:
    """The JSON form (``from`` spelled as in the contract)."""
    return [e.model_dump(by_alias=True, mode="json", exclude_none=True) for e in effects]


# -- carriers -------------------------------------------------------------------------------------

CARRIER_ALIASES: dict[str, tuple[str, ...]] = {
    "中通快递": ("中通", "ZTO"),
    "顺丰速运": ("顺丰", "SF Express"),
    "圆通速递": ("圆通", "YTO"),
    "申通快递": ("申通", "STO"),
    "韵达快递": ("韵达", "Yunda"),
    "中国邮政": ("邮政", "EMS", "China Post"),
    "京东物流": ("京东快递", "京东物流", "JD Logistics"),
    "极兔速递": ("极兔", "J&T"),
    "德邦快递": ("德邦", "Deppon"),
    "百世快递": ("百世", "Best Express"),
}
_CARRIER_RE = re.compile("|".join(sorted({re.escape(a) for c, al in CARRIER_ALIASES.items() for a in (c, *al)},
                                         key=len, reverse=True)), re.I)


def canonical_carrier(name: str) -> str:
    """'中通' / 'ZTO' / '中通快递' → '中通快递'; an unknown name stays as it is."""
    n = name.strip().lower()
    for canon, aliases in CARRIER_ALIASES.items():
        if n == canon.lower() or any(n == a.lower() for a in aliases) or canon.lower() in n:
            return canon
    return name.strip()


# -- what a notice is about ----------------------------------------------------------------------

_DISPATCHY = re.compile(
    r"发货|发出|出货|出库|出仓|寄出|揽收|揽件|快递|物流|仓库|停发|放假|休假|停工|歇业|延迟|推迟|顺延|延后|积压|爆仓|"
    r"配送|派送|停运|截单|收派|包裹|备货|打包|排单|"
    r"\bship|\bdispatch|\bdeliver|courier|warehouse|carrier|\bdelay|logistic|parcel|postpone|backlog|"
    r"\bpickup\b|\bpick-up\b|cut-?off",
    re.I,
)


def concerns_dispatch(text: str) -> bool:
    """Whether a notice's text speaks about dispatch or logistics (then, without effects, no day is certain)."""
    return bool(_DISPATCHY.search(text or ""))


# -- the suggester -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    effect: NoticeEffect
    evidence: str          # the words of the notice it was read from

    def as_dict(self) -> dict[str, Any]:
        return {"effect": dump_effects([self.effect])[0], "evidence": self.evidence}


_CN_NUM = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9, "十": 10}
_MON_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NUM = r"\d{1,2}|[一二两三四五六七八九十]{1,3}"
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"

# One date: 2026年10月1日, 10月1日, 10月1号, 2026-10-01, 10/1, 10.1 (with a day suffix or a range
# partner), Oct 1, 1 Oct. A bare "3日" (day only) counts only as the end of a range.
_DATE_SRC = (
    rf"(?:(?P<y>\d{{4}})年)?(?P<m>{_NUM})月(?P<d>{_NUM})(?:日|号)?"
    r"|(?P<y2>\d{4})[-/.](?P<m2>\d{1,2})[-/.](?P<d2>\d{1,2})"
    r"|(?<![\d.:/])(?P<m3>\d{1,2})[./](?P<d3>\d{1,2})(?:日|号)?(?![\d:])"
    rf"|\b(?P<em>{_MON})\s*(?P<ed>\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"|\b(?P<ed2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<em2>{_MON})(?![a-z])"
)
_DATE = re.compile(_DATE_SRC, re.I)
_RANGE_SEP = r"\s*(?:至|到|~|～|-|–|—|—|to|until|till|through|thru|and)\s*"
_DAY_ONLY = rf"(?P<od>{_NUM})(?:日|号)|(?P<od2>\d{{1,2}})(?:st|nd|rd|th)?\b"

_PAUSE_WORD = re.compile(
    r"暂停发货|停止发货|暂停出库|停止出库|暂停出货|停止出货|不发货|不能发货|无法发货|不能出货|无法出货|不出货|不出库|停发|"
    r"放假|休假|休息|停工|歇业|闭仓|封仓|盘点|搬迁|暂停|停止|"
    r"\bclosed\b|\bclosure\b|\bno (?:dispatch|shipping|shipments)\b|\bnot (?:ship|dispatch)|\bpause|\bsuspend|holiday",
    re.I,
)
_RESUME = re.compile(
    r"(?:起|开始)?(?:恢复|正常|陆续|统一|按顺序|按付款顺序)?(?:发货|发出|出库|出货|寄出)|起恢复|恢复"
    r"|\b(?:resum|ship(?:ping)? again|dispatch again|reopen|back to normal)",
    re.I,
)
_DELAY_WORD = re.compile(r"延迟|推迟|顺延|延后|延期|晚|delay|postpone|later|push(?:ed)? back", re.I)
_SPAN = re.compile(
    r"(?P<a>\d+|[一二两三四五六七八九十]+)\s*(?:(?:-|~|～|–|到|至|to)\s*(?P<b>\d+|[一二两三四五六七八九十]+))?\s*"
    r"(?:个)?\s*(?:工作日|天|日|working days?|business days?|days?)",
    re.I,
)
_CUTOFF = re.compile(
    r"(?:截单|截止付款|付款截止|cut-?off)[^，,。；;\n\d]{0,20}?(?P<h>\d{1,2})\s*(?:[:：点]\s*(?P<mi>\d{2})?|(?P<ampm>am|pm))",
    re.I,
)
_PICKUP = re.compile(
    r"(?:揽收|揽件|取件|收件|pick-?up|collection)[^，,。；;\n\d]{0,20}?(?P<h>\d{1,2})\s*(?:[:：点]\s*(?P<mi>\d{2})?|(?P<ampm>am|pm))"
    r"|(?:最晚|最后|latest|last)[^，,。；;\n\d]{0,4}?(?P<h2>\d{1,2})\s*(?:[:：点]\s*(?P<mi2>\d{2})?|(?P<ampm2>am|pm))"
    r"[^，,。；;\n\d]{0,6}?(?:揽收|揽件|取件|收件|pick-?up|collection)",
    re.I,
)
_SUSPEND = re.compile(r"暂停|停运|停发|停止|不揽收|不收件|无法|不能|停收|收派|suspend|paused|not (?:available|accept)|unavailable|halt",
                      re.I)
_SENT = re.compile(r"[。！!；;\n]|(?<=[a-z])\.\s")


def _num(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    total, cur = 0, 0
    for ch in s:
        v = _CN_NUM.get(ch)
        if v is None:
            return None
        if v == 10:
            total += (cur or 1) * 10
            cur = 0
        else:
            cur = v
    return total + cur


def _place(year: int | None, month: int, day: int, ref: date) -> date | None:
    """A date without a year goes to the year that puts it nearest after ``ref`` (at most ~half a year back)."""
    try:
        if year:
            return date(year, month, day)
        d = date(ref.year, month, day)
        if d < ref - timedelta(days=183):
            d = date(ref.year + 1, month, day)
        elif d > ref + timedelta(days=183):
            d = date(ref.year - 1, month, day)
        return d
    except ValueError:
        return None


@dataclass
class _Hit:
    day: date
    start: int
    end: int


def _dates(sentence: str, ref: date) -> list[_Hit]:
    out: list[_Hit] = []
    for m in _DATE.finditer(sentence):
        g = m.groupdict()
        if g["m"]:
            mo, d, y = _num(g["m"]), _num(g["d"]), int(g["y"]) if g["y"] else None
        elif g["m2"]:
            mo, d, y = int(g["m2"]), int(g["d2"]), int(g["y2"])
        elif g["m3"]:
            mo, d, y = int(g["m3"]), int(g["d3"]), None
        elif g["em"] or g["em2"]:
            mo, d, y = _MON_EN.index((g["em"] or g["em2"])[:3].lower()) + 1, int(g["ed"] or g["ed2"]), None
        else:
            continue
        if mo is None or d is None or not (1 <= mo <= 12 and 1 <= d <= 31):
            continue
        day = _place(y, mo, d, ref)
        if day is None:
            continue
        out.append(_Hit(day, m.start(), m.end()))
        # "10月1日至7日", "Oct 1-7": the range's end names only the day.
        tail = re.match(_RANGE_SEP + rf"(?:{_DAY_ONLY})", sentence[m.end():], re.I)
        group = ("od" if tail.group("od") else "od2") if tail else ""
        if tail and not _DATE.match(sentence, m.end() + tail.start(group)):
            dd = _num(tail.group(group))
            end = _place(day.year, day.month, dd, day) if dd else None
            if end and end >= day:
                out.append(_Hit(end, m.end() + tail.start(group), m.end() + tail.end()))
    return sorted(out, key=lambda h: h.start)


def _hhmm(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    second = g.get("h") is None and g.get("h2") is not None
    h = int(g["h2"] if second else g["h"])
    mi = int((g["mi2"] if second else g["mi"]) or 0)
    if ((g["ampm2"] if second else g["ampm"]) or "").lower() == "pm" and h < 12:
        h += 12
    if not (0 <= h <= 23):
        return None
    return f"{h:02d}:{mi:02d}"


def suggest_effects(text: str, *, today: date, starts: date | None = None) -> list[Suggestion]:
    """Effects the notice's text seems to state, each with its evidence.

    ``today`` places dates written without a year; ``starts`` (the notice's first day, when it has a
    window) is where a pause that only names its resume day begins.
    """
    out: list[Suggestion] = []
    seen: set[str] = set()

    def add(effect: NoticeEffect, evidence: str) -> None:
        key = repr(dump_effects([effect]))
        if key not in seen:
            seen.add(key)
            out.append(Suggestion(effect, evidence.strip()))

    for sentence in _SENT.split(text or ""):
        if not sentence.strip():
            continue
        _pause(sentence, today, starts or today, add)
        _delay(sentence, add)
        _cutoff(sentence, add)
        _carriers(sentence, add)
    return out


def suggest_notice_effects(text: str, *, now: datetime, valid_from: datetime | None = None) -> list[Suggestion]:
    """``suggest_effects`` for a notice written at ``now`` (shop time) with an optional window start."""
    starts = valid_from.astimezone(now.tzinfo).date() if valid_from is not None and now.tzinfo else None
    return suggest_effects(text, today=now.date(), starts=starts)


def _pause(sentence: str, today: date, starts: date, add: Any) -> None:
    if not _PAUSE_WORD.search(sentence):
        return
    hits = _dates(sentence, today)
    if not hits:
        return
    # A range: two dates joined by 至/到/-/to (the first date pair that is joined).
    for a, b in zip(hits, hits[1:], strict=False):
        between = sentence[a.end:b.start]
        if re.fullmatch(_RANGE_SEP, between, re.I) and b.day >= a.day:
            add(DispatchPause.of(a.day, b.day), sentence[a.start:b.end] + _around(sentence, b.end))
            return
    # Only a resume day ("10月8日起恢复发货", "ships again from Oct 8"): paused until the day before.
    for h in hits:
        after = sentence[h.end:h.end + 12]
        before = sentence[max(0, h.start - 16):h.start]
        if re.match(r"\s*(?:起|开始|后|以后|之后)?[^，,。]{0,8}?(?:恢复|发货|发出|出库|出货|寄出)", after) or (
                re.search(r"(?:from|on)\s*$", before, re.I) and _RESUME.search(before + after)):
            start = min(starts, h.day - timedelta(days=1))
            add(DispatchPause.of(start, h.day - timedelta(days=1)), sentence[max(0, h.start - 10):h.end + 8])
            return
    # A single closed day ("10月1日放假一天").
    if len(hits) == 1 and re.search(r"放假一天|休息一天|停发一天|closed (?:on|for the day)", sentence, re.I):
        add(DispatchPause.of(hits[0].day, hits[0].day), sentence)


def _around(sentence: str, end: int) -> str:
    return sentence[end:end + 8]


def _delay(sentence: str, add: Any) -> None:
    if not _DELAY_WORD.search(sentence):
        return
    for m in _SPAN.finditer(sentence):
        window = sentence[max(0, m.start() - 14):m.end() + 10]
        if not _DELAY_WORD.search(window):
            continue
        # "付款后48小时内发货" or "3天内发出" are promises of a window, not a postponement.
        if re.search(r"内|within", sentence[m.end():m.end() + 3], re.I):
            continue
        a = _num(m.group("a"))
        b = _num(m.group("b")) if m.group("b") else a
        if a is None or b is None or not (0 <= a <= b <= MAX_DELAY_DAYS) or b == 0:
            continue
        add(DispatchDelay(days_min=a, days_max=b), window)
        return


def _cutoff(sentence: str, add: Any) -> None:
    cut = _CUTOFF.search(sentence)
    pick = _PICKUP.search(sentence)
    daily = _hhmm(cut) if cut else None
    last = _hhmm(pick) if pick and (not cut or pick.start() != cut.start()) else None
    if daily or last:
        add(CutoffChange(daily_cutoff=daily, last_pickup=last), sentence)


def _carriers(sentence: str, add: Any) -> None:
    names: list[str] = []
    for m in _CARRIER_RE.finditer(sentence):
        # The suspension word must sit in the carrier's own clause, and "改用韵达" is the replacement, not a stop.
        clause_end = re.search(r"[，,。；;]", sentence[m.end():])
        clause = sentence[max(0, m.start() - 12):m.end() + (clause_end.start() if clause_end else 20)]
        own_start = max(sentence.rfind(p, 0, m.start()) for p in "，,；;") + 1
        lead = sentence[own_start:m.start()]
        if re.search(r"改用|改走|改发|改由|改为|换成|换用|使用|switch(?:ed)? to|instead", lead, re.I):
            continue
        if _SUSPEND.search(clause):
            name = canonical_carrier(m.group(0))
            if name not in names:
                names.append(name)
    if names:
        add(CarrierSuspension(suspended=names), sentence)
