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

from drafter.guard import CARRIERS
from drafter.intent import Intent
from drafter.result import Action, Citation
from drafter.situation import NoticeRef, Situation
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


class _Picker:
    def __init__(self, book: Phrasebook, seed: str) -> None:
        self.book, self.seed = book, seed

    def __call__(self, key: str, **values: object) -> str:
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
    today = s.now.date()
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
        cites.append(Citation(kind="notice", id=n.id, revision=n.revision))

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
    elif s.state == "stuck" or (s.state == "awaiting_dispatch" and (s.backlog or s.closure)):
        out.append(p("apology_wait"))

    st = s.state
    first = s.shipments[0] if s.shipments else None
    if st in ("unavailable", "not_found", "unpaid", "closed", "refunding", "forbidden"):
        if st == "closed":
            refund = "（退款已完成）" if lang == "zh" else " (refund completed)"
            out.append(p("closed", refund=refund if s.status and "CLOSED" in s.status else ""))
        else:
            out.append(p(st))
        if st in ("unpaid", "closed", "forbidden", "refunding"):
            cite_order("status")
    elif st == "signed" and first:
        event = re.sub(r"^\s*已签收[，,：:\s]*", "", first.last_event or "") or ("已签收" if lang == "zh" else "signed")
        out.append(p("signed", event=event))
        cite_order(f"shipments[{first.index}].events")
        if needs_human:
            out.append(p("signed_missing"))
            actions.append(Action(kind="escalate", needs_approval=False, reason="signed for but not received"))
    elif st in ("shipped", "stuck") and first:
        carrier = _carrier_label(first.carrier, lang)
        tracking = first.tracking_no
        if st == "stuck":
            hours = int((s.now - (first.last_event_at or first.shipped_at or s.now)).total_seconds() // 3600)
            out.append(p("stuck", carrier=carrier, tracking=tracking or "", hours=hours))
            actions.append(Action(kind="contact_courier", needs_approval=False,
                                  reason=f"no tracking update for {hours} h"))
        elif tracking:
            out.append(p("shipped", carrier=carrier, tracking=tracking))
            if first.last_event:
                out.append(p("last_event", event=first.last_event.rstrip("。.")))
        cite_order(f"shipments[{first.index}].tracking_no")
        cite_order(f"shipments[{first.index}].carrier")
        if asks_arrival(message):
            out.append(p("delivery_unknown"))
    elif st == "partial" and first:
        shipped_titles = "、".join(t for t in _in_stock_titles(s) if t) or ("部分商品" if lang == "zh" else "part of it")
        out.append(p("partial", shipped_part=shipped_titles, carrier=_carrier_label(first.carrier, lang),
                     tracking=first.tracking_no or "", pending_part=_pending_text(p, s, lang)))
        cite_order(f"shipments[{first.index}].tracking_no")
        for it in s.pending_items:
            if it.restock_eta:
                cite_order(f"items[{it.index}].restock_eta")
    elif st == "presale":
        out.append(p("presale", **{"from": _fmt_date(s.presale_from, lang) if s.presale_from else "",
                                    "by": _fmt_date(s.presale_by, lang) if s.presale_by else ""}))
        cite_order("presale")
    elif st == "out_of_stock":
        out.append(_pending_text(p, s, lang))
        for it in s.pending_items:
            if it.restock_eta:
                cite_order(f"items[{it.index}].restock_eta")
    else:  # awaiting dispatch (or unknown): say only what the rules and notices support
        if s.closure and s.closure.resume_on:
            txt = public_notice_text(s.closure)
            if txt:
                out.append(p("closure", notice=txt))
            cite_notice(s.closure)
        elif s.backlog:
            txt = public_notice_text(s.backlog)
            if txt:
                out.append(p("backlog", notice=txt))
            cite_notice(s.backlog)
            out.append(p("overdue_status"))
        elif s.overdue:
            out.append(p("overdue_status"))
        elif s.dispatch_on:
            if s.dispatch_on == today:
                out.append(p("dispatch_today"))
            else:
                out.append(p("dispatch_next", cutoff=settings.daily_cutoff, day=_fmt_day(s.dispatch_on, today, lang)))
            cite_order("paid_at")
            cites.append(Citation(kind="settings", field="daily_cutoff"))
        elif s.dispatch_by:
            out.append(p("dispatch_by", date=_fmt_date(s.dispatch_by, lang)))
            cite_order("promised_ship_by")
        else:
            out.append(p("overdue_status"))
        if s.overdue or s.backlog:
            actions.append(Action(kind="priority", needs_approval=False,
                                  reason=f"overdue {s.overdue_days} day(s)" if s.overdue else "backlog notice"))
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


def _in_stock_titles(s: Situation) -> list[str]:
    pending = {it.index for it in s.pending_items}
    return [t for i, t in enumerate(s.item_titles) if i not in pending and t]


def _pending_text(p: _Picker, s: Situation, lang: str) -> str:
    parts = []
    for it in s.pending_items:
        if it.stock != "out_of_stock":
            continue
        title = it.title or ("这件商品" if lang == "zh" else "item")
        if it.restock_eta:
            parts.append(p("out_of_stock", title=title, eta=_fmt_date(it.restock_eta, lang)))
        else:
            parts.append(p("out_of_stock_no_eta", title=title))
    return "".join(parts) if lang == "zh" else " ".join(parts)


def fallback_text(intent: Intent, settings: ShopSettings, seed: str) -> str:
    """The safest reply there is: no status claim at all (used when a draft fails the guard)."""
    book = load_phrasebook(intent.language)
    p = _Picker(book, seed)
    sign_off = settings.tone.sign_off or "祝您生活愉快"
    if intent.language == "en":
        return f"{p('greeting')} {p('unavailable')} Have a nice day!"
    return p("greeting", address=settings.tone.address or "亲") + p("unavailable") + p(
        "closing", sign_off=sign_off)
