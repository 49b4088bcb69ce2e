"""What is true about an order right now, and what a reply MAY commit to.

The situation is the only place that turns facts into permissions. The composers phrase what
it allows; the guard checks any text against it. Unknown facts stay unknown: a missing field
never becomes a "no", and nothing here guesses a date, a carrier or a tracking number.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from drafter.dispatch_calendar import DispatchCalendar, DispatchEstimate, estimate_dispatch
from drafter.parcels import Phase, classify_event
from knowledge.notice_effects import canonical_carrier, concerns_dispatch
from knowledge.orders import OrderFacts, TradeStatus
from knowledge.shop_settings import ShopSettings

State = Literal[
    "unavailable", "not_found", "unknown", "unpaid", "awaiting_dispatch", "presale", "out_of_stock",
    "partial", "shipped", "stuck", "signed", "returned", "closed", "refunding", "forbidden",
]
LineState = Literal["shipped", "waiting_stock", "presale", "awaiting", "refunded", "refund_open", "closed", "unknown"]

# A parcel whose last tracking event is older than this is "stuck in transit" (a pickup point is not).
STUCK_AFTER = timedelta(hours=48)
# Refund states in which a refund is still open (Taobao's refund status values); every other known
# value (CLOSED, SUCCESS, SELLER_REFUSE_BUYER, NO_REFUND) means no refund is in progress.
OPEN_REFUNDS = frozenset({"WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS",
                          "WAIT_SELLER_SEND_GOODS", "REFUNDING", "PROCESSING"})
DONE_REFUNDS = frozenset({"SUCCESS", "REFUND_SUCCESS"})
NO_REFUNDS = frozenset({"CLOSED", "SELLER_REFUSE_BUYER", "NO_REFUND", "REFUND_CLOSED"})
_SHIPPED_LINE = frozenset({TradeStatus.WAIT_BUYER_CONFIRM_GOODS, TradeStatus.TRADE_BUYER_SIGNED,
                           TradeStatus.TRADE_FINISHED})



class NoticeRef(BaseModel):
    """An active notice as the situation reads it.

    ``kind`` comes from its effects (pause → closure, delay → backlog, cutoff, carriers); a notice
    without effects whose text concerns dispatch is ``uncertain``: no day may be promised while it holds.
    """

    id: str
    revision: int
    text: str
    kind: Literal["backlog", "closure", "cutoff", "carriers", "uncertain", "info"] = "info"
    effects: list[dict[str, Any]] = Field(default_factory=list)
    resume_on: date | None = None


class Commitment(BaseModel):
    """Something the reply may promise, with the fact that supports it."""

    kind: Literal["dispatch_on", "dispatch_by", "dispatch_from", "share_tracking", "forward_request"]
    value: str
    support: str


class ShipmentView(BaseModel):
    index: int
    carrier: str | None = None
    tracking_no: str | None = None
    shipped_at: datetime | None = None
    last_event: str | None = None
    last_event_at: datetime | None = None
    phase: Phase = "unknown"
    signed: bool = False
    stuck: bool = False
    lines: list[int] = Field(default_factory=list)        # order lines known to be in this parcel
    carrier_suspended_by: str | None = None               # notice:ID when its carrier is suspended


class PendingItem(BaseModel):
    index: int
    title: str | None
    stock: str
    restock_eta: date | None = None
    stale: bool = False          # the restock date has passed: never stated as an expectation


class LineView(BaseModel):
    """One order line: shipped in which parcel, waiting for stock, presale, awaiting dispatch, or unknown."""

    index: int
    title: str | None = None
    sku: str | None = None
    state: LineState = "unknown"
    parcel: int | None = None
    restock_eta: date | None = None
    stale_restock: bool = False


class Situation(BaseModel):
    now: datetime                      # in the shop's timezone
    state: State
    facts_known: bool
    order_error: Literal["timeout", "not_found", "unavailable"] | None = None
    status: str | None = None

    paid_at: datetime | None = None
    promised_ship_by: datetime | None = None
    overdue: bool = False
    overdue_days: int = 0

    # Dispatch: the day the policy says it goes out (only when we may say so), and limits.
    dispatch_on: date | None = None
    dispatch_on_support: str | None = None
    dispatch_by: date | None = None
    not_before: date | None = None     # no dispatch promise may name an earlier day
    not_before_support: str | None = None

    presale_from: date | None = None
    presale_by: date | None = None
    # The one dispatch estimate the reply may state for what has not shipped (None: no day may be named).
    estimate: DispatchEstimate | None = None
    closed_reason: Literal["unpaid", "refunded", "unknown"] | None = None
    lines: list[LineView] = Field(default_factory=list)
    pending_items: list[PendingItem] = Field(default_factory=list)
    item_titles: list[str | None] = Field(default_factory=list)
    shipments: list[ShipmentView] = Field(default_factory=list)
    notices: list[NoticeRef] = Field(default_factory=list)

    commitments: list[Commitment] = Field(default_factory=list)
    # Dates the text may name, each with the fact that supports it (ISO date -> support).
    allowed_dates: dict[str, str] = Field(default_factory=dict)
    allowed_carriers: list[str] = Field(default_factory=list)   # carriers that actually carry it
    policy_carriers: list[str] = Field(default_factory=list)    # shop defaults (may be named as policy)
    allowed_tracking: list[str] = Field(default_factory=list)
    coupon_max: float = 0
    compensation_needs_approval: bool = True
    gift: str | None = None
    # Actions already carried out for this order, each with what shows it (``task:t_…``,
    # ``approval:c_…``): priority, forward_warehouse, contact_courier, escalate, compensation_applied,
    # compensation_granted. Only these may be said to be done ("已经帮您备注…").
    done_actions: dict[str, str] = Field(default_factory=dict)

    needs_human: bool = False
    human_reason: str | None = None

    @property
    def shipped(self) -> bool:
        return bool(self.shipments)

    @property
    def backlog(self) -> NoticeRef | None:
        return next((n for n in self.notices if n.kind == "backlog"), None)

    @property
    def closure(self) -> NoticeRef | None:
        return next((n for n in self.notices if n.kind == "closure"), None)

    @property
    def uncertain(self) -> list[NoticeRef]:
        return [n for n in self.notices if n.kind == "uncertain"]

    @property
    def may_claim_arranged(self) -> bool:
        return self.state == "awaiting_dispatch" and self.dispatch_on is not None


class Notice(BaseModel):
    """The slice of a notice the situation needs (the knowledge layer has the full record)."""

    id: str
    revision: int = 1
    text: str
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    effects: list[dict[str, Any]] = Field(default_factory=list)

    def active_at(self, at: datetime) -> bool:
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_to and at > self.valid_to)


# -- calendar (thin wrappers kept for callers; the rules live in drafter/dispatch_calendar.py) ---------

def is_working_day(day: date, settings: ShopSettings) -> bool:
    return DispatchCalendar.build(settings).is_working_day(day)


def policy_dispatch_day(paid_at_local: datetime, settings: ShopSettings) -> date:
    """The day the shop's cutoff rule sends out an in-stock order paid at ``paid_at_local``."""
    day = DispatchCalendar.build(settings).rule_day(paid_at_local)
    if day is None:
        raise ValueError("the shop has no working day in the next two years")
    return day


# -- notices ------------------------------------------------------------------------------------

def read_notice(n: Notice, today: date) -> NoticeRef:
    """Classify an active notice by its effects; without effects only its topic is read (never a date)."""
    kinds = [e.get("kind") for e in n.effects]
    kind: Literal["backlog", "closure", "cutoff", "carriers", "uncertain", "info"] = "info"
    resume: date | None = None
    if "dispatch_pause" in kinds:
        kind = "closure"
        ends = [date.fromisoformat(e["until"]) for e in n.effects if e.get("kind") == "dispatch_pause"]
        resume = max(ends) + timedelta(days=1) if ends else None
    elif "dispatch_delay" in kinds:
        kind = "backlog"
    elif "cutoff" in kinds:
        kind = "cutoff"
    elif "carriers" in kinds:
        kind = "carriers"
    elif concerns_dispatch(n.text):
        kind = "uncertain"
    return NoticeRef(id=n.id, revision=n.revision, text=n.text, kind=kind, effects=list(n.effects),
                     resume_on=resume)


# -- assessment ---------------------------------------------------------------------------------

def assess(facts: OrderFacts | None, settings: ShopSettings, notices: list[Notice], now: datetime,
           *, order_error: str | None = None, message_hint: str = "") -> Situation:
    """Decide what is true and what the reply may commit to.

    ``message_hint`` is the buyer's message; it only matters for "signed but not received",
    which no order field can tell.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = settings.zone
    now = now.astimezone(tz)
    today = now.date()
    active_notices = [n for n in notices if n.active_at(now)]
    active = [read_notice(n, today) for n in active_notices]
    cal = DispatchCalendar.build(settings, [(n.id, n.effects) for n in active_notices])
    base: dict[str, Any] = dict(
        now=now, notices=active, coupon_max=settings.compensation.coupon_yuan_max,
        compensation_needs_approval=settings.compensation.needs_approval,
        gift=settings.compensation.gift,
        policy_carriers=[c for c in settings.default_carriers if canonical_carrier(c) not in cal.suspended_carriers],
    )

    if facts is None:
        err = order_error if order_error in ("timeout", "not_found") else "unavailable"
        state: State = "not_found" if err == "not_found" else "unavailable"
        return Situation(
            state=state, facts_known=False, order_error=err,  # type: ignore[arg-type]
            # Not found is no answer either: a typo, another shop's order, or a source that lags behind.
            # Someone must look before the buyer is told anything.
            needs_human=True,
            human_reason="order status unavailable; check it before sending" if state == "unavailable" else
            "no such order in this shop's order source; check the order number (with the buyer) before sending",
            **base,
        )

    s = Situation(state="unknown", facts_known=True, status=facts.status.value if facts.status else None,
                  paid_at=_local(facts.paid_at, tz), promised_ship_by=_local(facts.promised_ship_by, tz),
                  **base)
    status = facts.status
    human: list[str] = []

    # Parcels: carrier and tracking come from the order, never from anywhere else; each is read on its own.
    sku_index = {it.sku: i for i, it in enumerate(facts.items) if it.sku}
    for i, sh in enumerate(facts.shipments):
        events = sorted((e for e in sh.events if e.at), key=lambda e: e.at)  # type: ignore[arg-type, return-value]
        last = events[-1] if events else (sh.events[-1] if sh.events else None)
        last_at = _local(last.at, tz) if last and last.at else None
        phase = classify_event(last.desc if last else None)
        if phase in ("unknown", "in_transit", "collected") and status in (
                TradeStatus.TRADE_BUYER_SIGNED, TradeStatus.TRADE_FINISHED) and len(facts.shipments) == 1:
            phase = "signed"  # the platform says the buyer signed; the courier's text may lag behind
        ref_time = last_at or _local(sh.shipped_at, tz)
        moving = phase in ("collected", "in_transit", "out_for_delivery", "unknown")
        # A parcel with no tracking events at all (a waybill shipped offline, a source that keeps no
        # trace) is not "stuck": nothing says it stopped moving. Nobody can see it move either, so a
        # human checks with the courier once the usual transit time has passed.
        traced = bool(sh.events) and getattr(sh, "trace", "live") != "offline"
        stuck = traced and moving and ref_time is not None and now - ref_time > STUCK_AFTER
        if not traced and phase != "signed" and ref_time is not None and now - ref_time > STUCK_AFTER:
            human.append(f"parcel {i + 1} has no live tracking; check with the courier")
        lines = [sku_index[k] for k in (sh.item_skus or []) if k in sku_index]
        suspended = cal.suspended_carriers.get(canonical_carrier(sh.carrier)) if sh.carrier else None
        s.shipments.append(ShipmentView(
            index=i, carrier=sh.carrier, tracking_no=sh.tracking_no, shipped_at=_local(sh.shipped_at, tz),
            last_event=last.desc if last else None, last_event_at=last_at, phase=phase,
            signed=phase == "signed", stuck=stuck, lines=lines, carrier_suspended_by=suspended))
        if sh.carrier:
            s.allowed_carriers.append(sh.carrier)
        if sh.tracking_no:
            s.allowed_tracking.append(sh.tracking_no)
            s.commitments.append(Commitment(kind="share_tracking", value=sh.tracking_no,
                                            support=f"order:shipments[{i}].tracking_no"))

    if facts.presale:
        s.presale_from, s.presale_by = facts.presale.ship_from, facts.presale.ship_by
    s.item_titles = [it.title for it in facts.items]
    s.lines = _lines(facts, s, today)
    for ln in s.lines:
        it = facts.items[ln.index]
        if ln.state != "shipped" and it.stock != "in_stock":
            s.pending_items.append(PendingItem(index=ln.index, title=it.title, stock=it.stock,
                                               restock_eta=it.restock_eta, stale=ln.stale_restock))

    if s.promised_ship_by and now > s.promised_ship_by and any(
            ln.state in ("awaiting", "waiting_stock", "presale", "unknown") for ln in s.lines) and not (
            s.shipments and all(ln.state == "shipped" for ln in s.lines)):
        s.overdue = True
        late = now - s.promised_ship_by
        s.overdue_days = max(1, late.days + (1 if late.seconds else 0))

    # -- state by trade status -------------------------------------------------------------------
    refund = (facts.refund.status or "").upper() if facts.refund and facts.refund.status else None
    if status in (TradeStatus.TRADE_CLOSED, TradeStatus.TRADE_CLOSED_BY_TAOBAO):
        s.state = "closed"
        s.overdue = False
        if refund in DONE_REFUNDS:
            s.closed_reason = "refunded"
        elif status == TradeStatus.TRADE_CLOSED_BY_TAOBAO and not s.shipments:
            # Taobao closes a trade "by Taobao" before payment (buyer, seller or timeout): nothing was refunded.
            # A missing paid_at alone proves nothing: unknown is not "unpaid".
            s.closed_reason = "unpaid"
        else:
            s.closed_reason = "unknown"
        s.needs_human = s.closed_reason != "unpaid"
        s.human_reason = "order is closed; it will not ship" if s.needs_human else None
        return s
    if status == TradeStatus.PAID_FORBID_CONSIGN:
        s.state = "forbidden"
        s.needs_human, s.human_reason = True, "the platform forbids shipping this order"
        return s
    if status == TradeStatus.WAIT_BUYER_PAY or (status is None and facts.paid_at is None and not s.shipments):
        if status == TradeStatus.WAIT_BUYER_PAY:
            s.state = "unpaid"
            s.overdue = False
        return s
    unshipped = [ln for ln in s.lines if ln.state not in ("shipped", "refunded", "closed")]
    if refund is not None and refund not in NO_REFUNDS and unshipped:
        if refund in DONE_REFUNDS:
            human.append(f"a refund was completed ({facts.refund.status}) on an order that is not closed")  # type: ignore[union-attr]
        else:
            s.state = "refunding"
            s.needs_human, s.human_reason = True, f"refund in progress ({facts.refund.status})"  # type: ignore[union-attr]
            return s
    if any(ln.state == "refund_open" for ln in s.lines):
        human.append("a refund is open on one of the order lines")

    uncertain = s.uncertain
    pending_dispatch = bool(unshipped) or (not s.shipments and status != TradeStatus.WAIT_BUYER_PAY)
    if uncertain and pending_dispatch:
        human.append(f"notice {uncertain[0].id} concerns dispatch but has no structured effects: "
                     "check before promising a day")
    stale = [p for p in s.pending_items if p.stale]
    if stale:
        human.append(f"restock date {stale[0].restock_eta} has passed: ask the warehouse for a new one")

    if s.shipments:
        if unshipped:
            s.state = "partial"
        elif any(v.phase == "returned" for v in s.shipments):
            s.state = "returned"
            human.append("a parcel is being returned to the shop")
        elif all(v.signed for v in s.shipments):
            s.state = "signed"
        elif any(v.stuck for v in s.shipments):
            s.state = "stuck"
            s.commitments.append(Commitment(kind="forward_request", value="contact_courier",
                                            support="policy:logistics"))
        else:
            s.state = "shipped"
        if _NOT_RECEIVED.search(message_hint) and any(v.signed for v in s.shipments):
            human.insert(0, "signed for but the buyer says it did not arrive")
        if unshipped and not uncertain:
            _estimate_pending(s, cal, facts, unshipped, today)
        _finish(s, human)
        return s

    # -- nothing shipped yet -------------------------------------------------------------------
    if s.presale_from or s.presale_by:
        s.state = "presale"
    elif any(p.stock == "out_of_stock" for p in s.pending_items):
        s.state = "out_of_stock"
    else:
        s.state = "awaiting_dispatch"
    if not uncertain:
        _estimate_pending(s, cal, facts, unshipped, today)
    _finish(s, human)
    return s


def _finish(s: Situation, human: list[str]) -> None:
    if human:
        s.needs_human = True
        s.human_reason = "; ".join(human)


def _lines(facts: OrderFacts, s: Situation, today: date) -> list[LineView]:
    """Each order line's own truth: the line status first, then the parcel that carries it."""
    in_parcel = {i: v.index for v in s.shipments for i in v.lines}
    status = facts.status
    out: list[LineView] = []
    for i, it in enumerate(facts.items):
        ln = LineView(index=i, title=it.title, sku=it.sku, restock_eta=it.restock_eta)
        refund = (it.refund_status or "").upper()
        if i in in_parcel:
            ln.state, ln.parcel = "shipped", in_parcel[i]
        elif it.status in _SHIPPED_LINE:
            ln.state = "shipped"
        elif refund in DONE_REFUNDS:
            ln.state = "refunded"
        elif refund and refund not in NO_REFUNDS:
            ln.state = "refund_open"
        elif it.status in (TradeStatus.TRADE_CLOSED, TradeStatus.TRADE_CLOSED_BY_TAOBAO):
            ln.state = "closed"
        elif status in _SHIPPED_LINE and s.shipments:
            ln.state = "shipped"   # the whole trade has shipped
        elif it.stock == "out_of_stock":
            ln.state = "waiting_stock"
        elif facts.presale and (facts.presale.ship_from or facts.presale.ship_by):
            ln.state = "presale"
        elif it.status == TradeStatus.WAIT_SELLER_SEND_GOODS:
            ln.state = "awaiting"
        elif status == TradeStatus.SELLER_CONSIGNED_PART:
            ln.state = "unknown"   # part has shipped; which part, only the lines can tell
        elif status in (TradeStatus.WAIT_SELLER_SEND_GOODS, None) and not s.shipments:
            ln.state = "awaiting"
        if ln.state == "waiting_stock" and it.restock_eta and it.restock_eta < today:
            ln.stale_restock = True
        if ln.parcel is None and ln.state == "shipped" and len(s.shipments) == 1:
            ln.parcel = 0
        out.append(ln)
    # A split order without per-line facts: when every other line is out of stock (so cannot be in the
    # parcel), the single remaining line is the one that shipped.
    unknown = [ln for ln in out if ln.state == "unknown"]
    if status == TradeStatus.SELLER_CONSIGNED_PART and len(unknown) == 1 and s.shipments and \
            not any(ln.state == "shipped" for ln in out):
        unknown[0].state = "shipped"
        unknown[0].parcel = 0 if len(s.shipments) == 1 else None
    return out


def _estimate_pending(s: Situation, cal: DispatchCalendar, facts: OrderFacts, pending: list[LineView],
                      today: date) -> None:
    """The one dispatch estimate for what has not shipped, and what the text may therefore name."""
    deadline = None
    if s.promised_ship_by and not s.overdue:
        deadline = (s.promised_ship_by.date(), "order:promised_ship_by")
    waiting = [ln for ln in pending if ln.state == "waiting_stock"]
    est: DispatchEstimate | None = None
    if waiting:
        if any(ln.stale_restock or ln.restock_eta is None for ln in waiting):
            return  # a restock date unknown or past: nothing may be promised
        eta, idx = max((ln.restock_eta, ln.index) for ln in waiting)  # type: ignore[type-var]
        for ln in waiting:
            s.allowed_dates[ln.restock_eta.isoformat()] = f"order:items[{ln.index}].restock_eta"  # type: ignore[union-attr]
        s.not_before, s.not_before_support = eta, f"order:items[{idx}].restock_eta"
        est = estimate_dispatch(cal, s.now, ready_from=(eta, f"order:items[{idx}].restock_eta"))  # type: ignore[arg-type]
    elif any(ln.state == "presale" for ln in pending):
        p = facts.presale
        assert p is not None
        if p.ship_by and p.ship_by < today:
            return  # the presale window has passed unshipped: late, so no day may be promised
        if p.ship_from:
            s.not_before, s.not_before_support = p.ship_from, "order:presale.ship_from"
        by = (p.ship_by, "order:presale.ship_by") if p.ship_by and p.ship_by >= today else None
        if p.ship_from:
            est = estimate_dispatch(cal, s.now, ready_from=(p.ship_from, "order:presale.ship_from"), deadline=by)
        elif by:
            est = estimate_dispatch(cal, s.now, deadline=by)
    elif all(ln.state == "awaiting" for ln in pending) and pending and all(
            facts.items[ln.index].stock == "in_stock" for ln in pending) and s.paid_at:
        est = estimate_dispatch(cal, s.now, paid_at=s.paid_at, deadline=deadline)
    elif pending and all(ln.state in ("awaiting", "unknown") for ln in pending) and s.paid_at:
        # Stock not confirmed (or the line's state unknown): keep to the order's own deadline, or a closure's end.
        est = estimate_dispatch(cal, s.now, deadline=deadline)
    if est is None:
        return
    s.estimate = est
    if s.not_before is None or est.earliest > s.not_before:
        if est.certainty in ("from", "between") or est.earliest > today:
            s.not_before, s.not_before_support = est.earliest, est.support
    support = est.support
    if est.certainty == "on":
        s.dispatch_on, s.dispatch_on_support = est.earliest, support
        s.allowed_dates[est.earliest.isoformat()] = support
        s.commitments.append(Commitment(kind="dispatch_on", value=est.earliest.isoformat(), support=support))
        return
    if est.certainty in ("from", "between") and est.earliest > today:
        s.allowed_dates[est.earliest.isoformat()] = support
        s.commitments.append(Commitment(kind="dispatch_from", value=est.earliest.isoformat(), support=support))
    if est.latest is not None and est.latest > today:
        latest_support = next((x for x in est.supports if x in ("order:promised_ship_by", "order:presale.ship_by")),
                              support)
        s.dispatch_by = est.latest
        s.allowed_dates[est.latest.isoformat()] = latest_support
        s.commitments.append(Commitment(kind="dispatch_by", value=est.latest.isoformat(), support=latest_support))

_NOT_RECEIVED = re.compile(r"没收到|没有收到|未收到|没拿到|没见到|not (?:received|arrived)|never (?:got|received)", re.I)


def _local(dt: datetime | None, tz: object) -> datetime | None:
    return dt.astimezone(tz) if dt else None  # type: ignore[arg-type]
