"""The template composer: a polite, honest reply from phrasebooks, with no model and no network.

It answers first, apologises where due, states the true status, names only what the situation
allows, and proposes remedies as actions for a human to approve (the text never grants money).
Variants are picked by a stable hash of the order and message, so the same case always reads
the same way while a queue of replies does not read like a form.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from drafter.guard import CARRIERS
from drafter.intent import Intent
from drafter.result import Action, Citation
from drafter.situation import NoticeRef, ShipmentView, Situation
from knowledge.shop_settings import ShopSettings
from prompts.loader import Phrasebook, PromptRef, load_phrasebook

__all__ = ["Composition", "compose", "fallback_text", "asks_arrival"]

_ARRIVAL = re.compile(r"什么时候到|多久(?:能)?到|几天(?:能)?到|能到吗|到吗|送到|送达|到货|明天要用|急用|要用|收到货|"
                      r"when will (?:it|my \w+) (?:arrive|get here|be delivered)|arrive|deliver", re.I)
_SPECIAL = re.compile(r"顺丰|京东|指定|改发|换(?:个)?快递|加急|加钱|加价|今天(?:给我)?发|express|SF|specific courier", re.I)
_STAFF_ONLY = re.compile(r"客服|买家|内部|员工|agents?\b|staff", re.I)


@dataclass
class Composition:
    text: str
    prompt: PromptRef
    citations: list[Citation] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    needs_human: bool = False
    human_reason: str | None = None


# Phrases that promise a step ("我这就帮您备注加急…"): the step is proposed as an action, so approving
# the draft can make it a task and a later reply may say it was done (issue 18).
_PROMISED_STEPS = {
    "overdue_status": ("priority", "the reply says the order is being flagged to the warehouse"),
    "dispatch_by": ("priority", "the reply says the warehouse is being asked to hurry"),
    "dispatch_latest": ("priority", "the reply says the warehouse is being asked to hurry"),
    "dispatch_earliest": ("priority", "the reply says the warehouse is being asked to prioritise it"),
    "will_check": ("forward_warehouse", "the reply says the dispatch day is being checked with the warehouse"),
    "pending_unknown": ("forward_warehouse", "the reply says the missing line is being checked with the warehouse"),
    "stale_restock": ("forward_warehouse", "the reply says a new restock date is being asked for"),
    "out_of_stock_no_eta": ("forward_warehouse", "the reply says the restock date is being asked for"),
    "forbidden": ("escalate", "the reply says a colleague is checking the platform's hold"),
    "parcel_returned": ("escalate", "the reply says a colleague takes the returned parcel"),
}


class _Picker:
    def __init__(self, book: Phrasebook, seed: str) -> None:
        self.book, self.seed = book, seed
        self.used: list[str] = []

    def __call__(self, key: str, **values: object) -> str:
        self.used.append(key)
        variants = self.book.phrases[key]
        h = int(hashlib.sha256(f"{self.seed}|{key}".encode()).hexdigest()[:8], 16)
        return variants[h % len(variants)].format(**values)


def asks_arrival(message: str) -> bool:
    return bool(_ARRIVAL.search(message))


def public_notice_text(n: NoticeRef) -> str:
    """A notice as the buyer may read it: sentences meant for staff are left out."""
    parts = [p.strip() for p in re.split(r"[，,。；;]", n.text) if p.strip()]
    kept = [p for p in parts if not _STAFF_ONLY.search(p)]
    return ("，".join(kept) + "。") if kept else ""


def _fmt_day(d: date, today: date, lang: str) -> str:
    if lang == "en":
        label = d.strftime("%b ") + str(d.day)
        return "tomorrow (" + label + ")" if d == today + timedelta(days=1) else "on " + label
    label = f"{d.month}月{d.day}日"
    if d == today + timedelta(days=1):
        return f"明天（{label}）"
    return label


def _fmt_date(d: date | datetime, lang: str) -> str:
    return (d.strftime("%b ") + str(d.day)) if lang == "en" else f"{d.month}月{d.day}日"


def compose(intent: Intent, s: Situation, settings: ShopSettings, *, message: str,
            seed: str, passages: list[Citation] | None = None, version: str = "v1") -> Composition:
    lang = intent.language
    book = load_phrasebook(lang, version)
    p = _Picker(book, seed)
    sign_off = settings.tone.sign_off or ("祝您生活愉快" if lang == "zh" else "Have a nice day!")
    if lang == "en" and re.search(r"[\u4e00-\u9fff]", sign_off):
        sign_off = "Have a nice day!"
    address = settings.tone.address or "亲"

    out: list[str] = [p("greeting", address=address)]
    cites: list[Citation] = list(passages or [])
    actions: list[Action] = []
    needs_human, reason = s.needs_human, s.human_reason

    def cite_order(fld: str) -> None:
        c = Citation(kind="order", field=fld)
        if c not in cites:
            cites.append(c)

    def cite_notice(n: NoticeRef) -> None:
        c = Citation(kind="notice", id=n.id, revision=n.revision)
        if c not in cites:
            cites.append(c)

    if intent.kind == "other":
        out.append(p("other"))
        out.append(p("closing", sign_off=sign_off))
        return Composition(" ".join(out) if lang == "en" else "".join(out), book.ref, cites, [
            Action(kind="escalate", needs_approval=False, reason="not about shipping")],
            True, "message is not about shipping or delivery")

    if intent.threat:
        out.append(p("threat_calm"))
        needs_human, reason = True, reason or "buyer threatens refund, bad review or complaint"
    if intent.injection:
        needs_human, reason = True, reason or "message contains instructions aimed at the assistant"

    if s.overdue and s.promised_ship_by:
        out.append(p("apology_overdue", promised=_fmt_date(s.promised_ship_by, lang)))
        cite_order("promised_ship_by")
    elif intent.repeat >= 1:
        out.append(p("apology_repeat"))
    elif s.state == "stuck" or any(v.stuck or v.phase == "delivery_failed" for v in s.shipments) or (
            not s.shipped and (s.backlog or s.closure or s.uncertain)) or any(p_.stale for p_ in s.pending_items):
        out.append(p("apology_wait"))

    st = s.state
    first = s.shipments[0] if s.shipments else None
    sep = "" if lang == "zh" else " "
    if st in ("unavailable", "not_found", "unpaid", "closed", "refunding", "forbidden"):
        if st == "closed":
            out.append(p({"unpaid": "closed_unpaid", "refunded": "closed_refunded"}.get(s.closed_reason or "", "closed"),
                         refund=""))
        else:
            out.append(p(st))
        if st in ("unpaid", "closed", "forbidden", "refunding"):
            cite_order("status")
    elif st == "signed" and first and len(s.shipments) == 1:
        event = re.sub(r"^\s*已签收[，,：:\s]*", "", first.last_event or "") or ("已签收" if lang == "zh" else "signed")
        out.append(p("signed", event=event))
        cite_order(f"shipments[{first.index}].events")
        if needs_human:
            out.append(p("signed_missing"))
            actions.append(Action(kind="escalate", needs_approval=False, reason="signed for but not received"))
    elif s.shipments and st in ("shipped", "stuck", "signed", "returned", "partial"):
        if st == "partial":
            out.append(p("partial_head"))
        out.append(sep.join(_parcels_text(p, s, lang, cite_order, actions)))
        if st == "partial":
            out.append(_pending_lines_text(p, s, settings, lang, cite_order, cite_notice))
        if needs_human and any(v.signed for v in s.shipments) and "did not arrive" in (reason or ""):
            out.append(p("signed_missing"))
            actions.append(Action(kind="escalate", needs_approval=False, reason="signed for but not received"))
        if asks_arrival(message) and st != "partial":
            out.append(p("delivery_unknown"))
    else:  # nothing shipped: awaiting dispatch, presale, out of stock (or unknown)
        out.append(_pending_lines_text(p, s, settings, lang, cite_order, cite_notice))
        if s.overdue or s.backlog:
            actions.append(Action(kind="priority", needs_approval=False,
                                  reason=f"overdue {s.overdue_days} day(s)" if s.overdue else "delay notice"))
        if asks_arrival(message):
            out.append(p("delivery_unknown"))

    special = intent.kind == "change_request" or (
        _SPECIAL.search(message) and st in ("awaiting_dispatch", "presale", "out_of_stock"))
    if special and st not in ("unavailable", "not_found", "closed", "forbidden"):
        out.append(p("forward_request"))
        actions.append(Action(kind="forward_warehouse", needs_approval=False,
                              reason="buyer asks for express handling or a specific courier"))

    # Remedies are proposed for a human to approve; the text promises no amount.
    late = s.overdue or st == "stuck"
    if late and (intent.repeat >= 1 or intent.threat or s.overdue_days >= 1) and s.coupon_max > 0:
        actions.append(Action(kind="coupon", amount_yuan=float(s.coupon_max), needs_approval=True,
                              reason=f"overdue {s.overdue_days} day(s)" if s.overdue else "parcel stuck in transit"))
        if intent.repeat >= 2 and s.gift:
            actions.append(Action(kind="gift", needs_approval=True, reason=f"urged {intent.repeat + 1} times: {s.gift}"))
        out.append(p("remedy"))
        cites.append(Citation(kind="settings", field="compensation"))
    for key in dict.fromkeys(p.used):
        step = _PROMISED_STEPS.get(key)
        if step and not any(a.kind == step[0] for a in actions):
            actions.append(Action(kind=step[0], needs_approval=False, reason=step[1]))  # type: ignore[arg-type]
    if needs_human and not any(a.kind == "escalate" for a in actions):
        actions.append(Action(kind="escalate", needs_approval=False, reason=reason or "needs a human"))

    out.append(p("closing", sign_off=sign_off))
    text = " ".join(out) if lang == "en" else "".join(out)
    return Composition(text, book.ref, cites, actions, needs_human, reason)


def _carrier_label(name: str | None, lang: str) -> str:
    if not name:
        return "快递" if lang == "zh" else "the courier"
    if lang == "en":
        for canon, aliases in CARRIERS.items():
            if name == canon or name in aliases:
                return next((a for a in aliases if a.isascii() and len(a) > 3), name)
    return name


def _reason_text(supports: list[str], s: Situation, settings: ShopSettings, lang: str) -> str:
    """Why a dispatch day moved, from the estimate's supports (never a guess)."""
    zh = lang == "zh"
    rank = {"notice": 0, "settings:holidays": 1, "settings:ships_on_weekends": 2, "settings:last_pickup": 3,
            "policy:daily_cutoff": 4}
    ordered = sorted((x for x in supports if x), key=lambda x: rank.get("notice" if x.startswith("notice:") else x, 9))
    for sup in ordered:
        if sup == "settings:last_pickup":
            return (f"快递最后一次揽收（{settings.last_pickup}）已经过了" if zh
                    else f"the courier's last pickup ({settings.last_pickup}) has gone")
        if sup == "policy:daily_cutoff":
            return (f"付款时间晚于{settings.daily_cutoff}的截单时间" if zh
                    else f"payment came after the {settings.daily_cutoff} cutoff")
        if sup == "settings:holidays":
            return "中间遇到节假日，仓库不发货" if zh else "the warehouse is closed for a holiday"
        if sup == "settings:ships_on_weekends":
            return "周末仓库不发货" if zh else "the warehouse does not ship at weekends"
        if sup.startswith("notice:"):
            n = next((x for x in s.notices if f"notice:{x.id}" == sup), None)
            if n is not None and n.kind == "cutoff":
                return "店铺通知提前了截单和揽收时间" if zh else "a shop notice moved the cutoff and pickup times earlier"
            if n is not None and n.kind == "backlog":
                return "店铺通知的发货顺延" if zh else "the delay announced in a shop notice"
            return "店铺通知的暂停发货期间不发货" if zh else "dispatch is paused under a shop notice"
    return "按截单规则" if zh else "under our cutoff rule"


def _parcel_label(p: _Picker, s: Situation, v: ShipmentView, lang: str) -> str:
    if len(s.shipments) == 1 and s.state != "partial":
        return "您的包裹" if lang == "zh" else "Your parcel "
    titles: list[str] = [t for i in v.lines if i < len(s.item_titles) and (t := s.item_titles[i])]
    if not titles and s.state == "partial":
        titles = [ln.title for ln in s.lines if ln.state == "shipped" and ln.parcel in (v.index, None)
                  and ln.title is not None]
    if titles:
        return "、".join(titles) if lang == "zh" else (", ".join(titles) + " ")
    if len(s.shipments) == 1:
        return "订单里有部分商品" if lang == "zh" else "Part of your order "
    return (f"包裹{v.index + 1}") if lang == "zh" else f"Parcel {v.index + 1} "


def _parcels_text(p: _Picker, s: Situation, lang: str, cite_order: Any, actions: list[Action]) -> list[str]:
    """Each parcel on its own: its carrier and tracking number and what its own last event says."""
    parts: list[str] = []
    for v in s.shipments:
        what = _parcel_label(p, s, v, lang)
        carrier = _carrier_label(v.carrier, lang)
        event = (v.last_event or "").rstrip("。.") or ("暂无物流更新" if lang == "zh" else "no update yet")
        tracking = v.tracking_no or ("（暂无）" if lang == "zh" else "(none yet)")
        if v.phase == "signed":
            ev = re.sub(r"^\s*已签收[，,：:\s]*", "", v.last_event or "") or ("已签收" if lang == "zh" else "signed")
            # Its tracking number tells what shipped, unless another parcel is the one still on its way.
            others_moving = any(not x.signed for x in s.shipments if x.index != v.index)
            tno = "" if others_moving or not v.tracking_no else (
                f"（{carrier}，运单号{v.tracking_no}）" if lang == "zh" else f"({carrier}, tracking number {v.tracking_no}) ")
            parts.append(p("parcel_signed", what=what, event=ev, tracking=tno))
            if tno:
                cite_order(f"shipments[{v.index}].tracking_no")
            cite_order(f"shipments[{v.index}].events")
            continue
        if v.stuck:
            hours = int((s.now - (v.last_event_at or v.shipped_at or s.now)).total_seconds() // 3600)
            parts.append(p("parcel_stuck", what=what, carrier=carrier, tracking=tracking, hours=hours))
            actions.append(Action(kind="contact_courier", needs_approval=False,
                                  reason=f"parcel {v.index + 1}: no tracking update for {hours} h"))
        elif v.phase == "pickup_point":
            parts.append(p("parcel_pickup", what=what, carrier=carrier, tracking=tracking, event=event))
        elif v.phase == "out_for_delivery":
            parts.append(p("parcel_out", what=what, carrier=carrier, tracking=tracking, event=event))
        elif v.phase == "delivery_failed":
            parts.append(p("parcel_failed", what=what, carrier=carrier, tracking=tracking, event=event))
            actions.append(Action(kind="contact_courier", needs_approval=False,
                                  reason=f"parcel {v.index + 1}: delivery failed"))
        elif v.phase == "returned":
            parts.append(p("parcel_returned", what=what, carrier=carrier, tracking=tracking, event=event))
        else:
            parts.append(p("parcel_moving", what=what, carrier=carrier, tracking=tracking, event=event))
        cite_order(f"shipments[{v.index}].tracking_no")
        cite_order(f"shipments[{v.index}].carrier")
        if v.carrier_suspended_by:
            n = next((x for x in s.notices if f"notice:{x.id}" == v.carrier_suspended_by), None)
            txt = public_notice_text(n) if n else ""
            if txt:
                parts.append(p("closure", notice=txt))
    return parts


def _fmt(d: date, today: date, lang: str) -> str:
    return _fmt_day(d, today, lang)


def _estimate_text(p: _Picker, s: Situation, settings: ShopSettings, lang: str, cite_order: Any,
                   cite_notice: Any, cites: list[Citation] | None = None) -> str:
    """What the dispatch estimate lets the reply say about the not-yet-shipped part."""
    today = s.now.date()
    est = s.estimate
    out: list[str] = []
    sep = "" if lang == "zh" else " "
    for n in s.notices:
        if n.kind in ("closure", "backlog", "cutoff") and est is not None and any(
                x == f"notice:{n.id}" for x in est.supports):
            txt = public_notice_text(n)
            if txt:
                out.append(p("closure" if n.kind != "backlog" else "backlog", notice=txt))
            cite_notice(n)
    if est is None:
        return sep.join(out)
    if est.certainty == "on":
        if est.earliest == today:
            out.append(p("dispatch_today"))
        elif est.support == "policy:daily_cutoff" and len(est.supports) == 1:
            out.append(p("dispatch_next", cutoff=settings.daily_cutoff, day=_fmt(est.earliest, today, lang)))
        else:
            out.append(p("dispatch_on_day", day=_fmt(est.earliest, today, lang),
                         reason=_reason_text(est.supports, s, settings, lang)))
        cite_order("paid_at")
    elif est.certainty == "between" and est.latest is not None:
        out.append(p("dispatch_latest", day=_fmt_date(est.latest, lang)))
    elif est.certainty == "from":
        if est.earliest > today and est.support.startswith("notice:"):
            out.append(p("dispatch_not_before", day=_fmt_date(est.earliest, lang)))
        elif est.earliest > today:
            out.append(p("dispatch_earliest", day=_fmt(est.earliest, today, lang),
                         reason=_reason_text(["", *est.supports], s, settings, lang)))
    elif est.certainty == "by" and est.latest is not None and s.dispatch_by == est.latest:
        out.append(p("dispatch_by", date=_fmt_date(est.latest, lang)))
        cite_order("promised_ship_by")
    elif est.certainty == "by":
        # The policy's day has passed and the deadline is today: "by today" would promise today, which
        # the situation does not allow; say it is being checked instead of naming a day.
        out.append(p("will_check"))
    return sep.join(out)


def _pending_lines_text(p: _Picker, s: Situation, settings: ShopSettings, lang: str, cite_order: Any,
                        cite_notice: Any) -> str:
    """The lines that have not shipped, each with its own reason, then the one dispatch estimate."""
    today = s.now.date()
    sep = "" if lang == "zh" else " "
    parts: list[str] = []
    pending = [ln for ln in s.lines if ln.state not in ("shipped", "closed")]
    est = s.estimate
    if s.uncertain:
        for n in s.uncertain[:2]:
            txt = public_notice_text(n) or n.text
            parts.append(p("uncertain_notice", notice=txt))
            cite_notice(n)
    for ln in pending:
        title = ln.title or ("这件商品" if lang == "zh" else "item")
        if ln.state == "waiting_stock":
            if ln.stale_restock:
                parts.append(p("stale_restock", title=title))
            elif ln.restock_eta:
                parts.append(p("out_of_stock", title=title, eta=_fmt_date(ln.restock_eta, lang)))
                cite_order(f"items[{ln.index}].restock_eta")
            else:
                parts.append(p("out_of_stock_no_eta", title=title))
        elif ln.state == "refund_open":
            parts.append(p("pending_refund", title=title))
        elif ln.state == "refunded":
            parts.append(p("line_refunded", title=title))
        elif ln.state == "unknown" and s.state == "partial":
            parts.append(p("pending_unknown", title=title))
        elif ln.state == "awaiting" and s.state == "partial":
            parts.append(p("pending_awaiting", title=title))
    if s.uncertain:
        parts.append(p("will_check"))
        return sep.join(parts)
    if any(ln.state == "presale" for ln in pending) and est is not None:
        moved = ""
        if s.presale_from and est.earliest > s.presale_from and est.earliest > today and len(est.supports) > 1:
            moved = p("presale_moved", reason=_reason_text(est.supports, s, settings, lang))
        if est.earliest <= today:
            # The window is open: "today at the earliest" would read as a promise for today. Name the
            # last day only when the situation allows it, else say it is being checked.
            if est.latest is not None and s.dispatch_by == est.latest:
                parts.append(p("presale_open", by=_fmt_date(est.latest, lang)))
            else:
                parts.append(p("will_check"))
        elif est.latest is not None:
            parts.append(p("presale_window", **{"from": _fmt_date(est.earliest, lang),
                                                "by": _fmt_date(est.latest, lang)}) + moved)
        else:
            parts.append(p("presale_from", **{"from": _fmt_date(est.earliest, lang)}) + moved)
        cite_order("presale")
    elif est is not None and any(ln.state == "waiting_stock" for ln in pending):
        nxt = est.earliest
        eta = max((ln.restock_eta for ln in pending if ln.restock_eta), default=None)
        if eta is not None and nxt > eta + timedelta(days=1) and nxt > today:
            parts.append(p("restock_earliest", day=_fmt_date(nxt, lang),
                           reason=_reason_text(est.supports, s, settings, lang)))
    elif est is not None:
        txt = _estimate_text(p, s, settings, lang, cite_order, cite_notice)
        if txt:
            parts.append(txt)
        if est.certainty == "on" and est.support == "policy:daily_cutoff":
            pass
    elif s.state == "presale" and not s.overdue:
        parts.append(p("overdue_status"))  # an overdue presale gets it once, below
    if est is None or s.overdue:
        if not any(ln.state == "waiting_stock" for ln in pending) and s.state != "presale" or s.overdue:
            for n in s.notices:
                if n.kind in ("closure", "backlog", "cutoff"):
                    txt = public_notice_text(n)
                    if txt and est is None:
                        parts.append(p("backlog" if n.kind == "backlog" else "closure", notice=txt))
                        cite_notice(n)
            if est is None:
                parts.append(p("overdue_status"))
    return sep.join(parts)


def fallback_text(intent: Intent, settings: ShopSettings, seed: str, s: Situation | None = None) -> str:
    """The safe holding reply used when a draft fails the guard: composed from the situation, with no
    date, tracking number, carrier or amount, and nothing the situation does not make true."""
    book = load_phrasebook(intent.language)
    p = _Picker(book, seed)
    lang = intent.language
    if s is None or not s.facts_known:
        key = "not_found" if s is not None and s.state == "not_found" else "unavailable"
    elif s.state in ("unpaid", "refunding", "forbidden"):
        key = s.state
    elif s.state == "closed":
        key = {"unpaid": "closed_unpaid", "refunded": "closed_refunded"}.get(s.closed_reason or "", "closed")
    elif s.state == "partial":
        key = "safe_partial"
    elif s.state == "signed":
        key = "safe_signed"
    elif s.shipped:
        key = "safe_shipped"
    elif s.state in ("awaiting_dispatch", "presale", "out_of_stock"):
        key = "safe_not_shipped"
    else:
        key = "safe_unknown"
    body = p(key, refund="")
    if lang == "en":
        sign_off = settings.tone.sign_off if settings.tone.sign_off and settings.tone.sign_off.isascii() else "Have a nice day!"
        return f"{p('greeting')} {body} {sign_off}"
    return p("greeting", address=settings.tone.address or "亲") + body + p(
        "closing", sign_off=settings.tone.sign_off or "祝您生活愉快")
