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

from knowledge.orders import OrderFacts, TradeStatus
from knowledge.shop_settings import ShopSettings

State = Literal[
    "unavailable", "not_found", "unknown", "unpaid", "awaiting_dispatch", "presale", "out_of_stock",
    "partial", "shipped", "stuck", "signed", "closed", "refunding", "forbidden",
]

# A parcel whose last tracking event is older than this is "stuck in transit".
STUCK_AFTER = timedelta(hours=48)

_SIGNED = re.compile(r"签收|已取件|已收货|妥投|delivered|signed", re.I)
_RESUME = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]起[^。；;]{0,12}?发")
_BACKLOG = re.compile(r"积压|爆仓|订单量(?:激增|大)|延迟(?:\d+(?:-\d+)?天)?|backlog|delay", re.I)
_STOP = re.compile(r"停止发货|暂停发货|停发|放假")


class NoticeRef(BaseModel):
    id: str
    revision: int
    text: str
    kind: Literal["backlog", "closure", "info"] = "info"
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
    signed: bool = False
    stuck: bool = False


class PendingItem(BaseModel):
    index: int
    title: str | None
    stock: str
    restock_eta: date | None = None


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
    def may_claim_arranged(self) -> bool:
        return self.state == "awaiting_dispatch" and self.dispatch_on is not None


class Notice(BaseModel):
    """The slice of a notice the situation needs (the knowledge layer has the full record)."""

    id: str
    revision: int = 1
    text: str
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_to and at > self.valid_to)


# -- calendar -----------------------------------------------------------------------------------

def is_working_day(day: date, settings: ShopSettings) -> bool:
    if day in settings.holidays:
        return False
    if day in settings.extra_workdays:
        return True
    return settings.ships_on_weekends or day.weekday() < 5


def next_working_day(day: date, settings: ShopSettings, *, closed_until: date | None = None) -> date:
    d = day
    for _ in range(400):
        if is_working_day(d, settings) and (closed_until is None or d >= closed_until):
            return d
        d += timedelta(days=1)
    return d


def policy_dispatch_day(paid_at_local: datetime, settings: ShopSettings) -> date:
    """The day the shop's cutoff rule sends out an in-stock order paid at ``paid_at_local``."""
    day = paid_at_local.date()
    if not is_working_day(day, settings) or paid_at_local.time() >= settings.cutoff_time:
        return next_working_day(day + timedelta(days=1), settings)
    return day


# -- notices ------------------------------------------------------------------------------------

def read_notice(n: Notice, today: date) -> NoticeRef:
    """Classify a notice; a closure's resume day is read from its text ("2月22日起…发出")."""
    kind: Literal["backlog", "closure", "info"] = "info"
    resume: date | None = None
    if _STOP.search(n.text):
        kind = "closure"
        m = _RESUME.search(n.text)
        if m:
            year = int(m.group(1)) if m.group(1) else today.year
            try:
                resume = date(year, int(m.group(2)), int(m.group(3)))
                if not m.group(1) and resume < today - timedelta(days=180):
                    resume = resume.replace(year=year + 1)
            except ValueError:
                resume = None
    elif _BACKLOG.search(n.text):
        kind = "backlog"
    return NoticeRef(id=n.id, revision=n.revision, text=n.text, kind=kind, resume_on=resume)


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
    active = [read_notice(n, today) for n in notices if n.active_at(now)]
    base: dict[str, Any] = dict(
        now=now, notices=active, coupon_max=settings.compensation.coupon_yuan_max,
        compensation_needs_approval=settings.compensation.needs_approval,
        gift=settings.compensation.gift, policy_carriers=list(settings.default_carriers),
    )

    if facts is None:
        err = order_error if order_error in ("timeout", "not_found") else "unavailable"
        state: State = "not_found" if err == "not_found" else "unavailable"
        return Situation(
            state=state, facts_known=False, order_error=err,  # type: ignore[arg-type]
            needs_human=state == "unavailable",
            human_reason="order status unavailable; check it before sending" if state == "unavailable" else None,
            **base,
        )

    s = Situation(state="unknown", facts_known=True, status=facts.status.value if facts.status else None,
                  paid_at=_local(facts.paid_at, tz), promised_ship_by=_local(facts.promised_ship_by, tz),
                  **base)
    status = facts.status

    # Shipments: carrier and tracking come from the order, never from anywhere else.
    for i, sh in enumerate(facts.shipments):
        events = sorted((e for e in sh.events if e.at), key=lambda e: e.at)  # type: ignore[arg-type, return-value]
        last = events[-1] if events else (sh.events[-1] if sh.events else None)
        last_at = _local(last.at, tz) if last and last.at else None
        signed = bool(last and _SIGNED.search(last.desc or "")) or status in (
            TradeStatus.TRADE_BUYER_SIGNED, TradeStatus.TRADE_FINISHED)
        ref_time = last_at or _local(sh.shipped_at, tz)
        stuck = (not signed) and ref_time is not None and now - ref_time > STUCK_AFTER
        s.shipments.append(ShipmentView(
            index=i, carrier=sh.carrier, tracking_no=sh.tracking_no, shipped_at=_local(sh.shipped_at, tz),
            last_event=last.desc if last else None, last_event_at=last_at, signed=signed, stuck=stuck))
        if sh.carrier:
            s.allowed_carriers.append(sh.carrier)
        if sh.tracking_no:
            s.allowed_tracking.append(sh.tracking_no)
            s.commitments.append(Commitment(kind="share_tracking", value=sh.tracking_no,
                                            support=f"order:shipments[{i}].tracking_no"))

    s.item_titles = [it.title for it in facts.items]
    s.pending_items = [PendingItem(index=i, title=it.title, stock=it.stock, restock_eta=it.restock_eta)
                       for i, it in enumerate(facts.items) if it.stock != "in_stock"]
    if facts.presale:
        s.presale_from, s.presale_by = facts.presale.ship_from, facts.presale.ship_by

    if s.promised_ship_by and not s.shipments and now > s.promised_ship_by:
        s.overdue = True
        s.overdue_days = max(1, (now - s.promised_ship_by).days + (1 if (now - s.promised_ship_by).seconds else 0))

    # -- state by trade status -------------------------------------------------------------------
    if status in (TradeStatus.TRADE_CLOSED, TradeStatus.TRADE_CLOSED_BY_TAOBAO):
        s.state = "closed"
        s.overdue = False
        s.needs_human, s.human_reason = True, "order is closed; it will not ship"
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
    if facts.refund and facts.refund.status and not s.shipments:
        s.state = "refunding"
        s.needs_human, s.human_reason = True, f"refund in progress ({facts.refund.status})"
        return s

    if s.shipments:
        self_partial = status == TradeStatus.SELLER_CONSIGNED_PART or (
            s.pending_items and any(p.stock == "out_of_stock" for p in s.pending_items))
        if all(v.signed for v in s.shipments) and not self_partial:
            s.state = "signed"
            if _NOT_RECEIVED.search(message_hint):
                s.needs_human, s.human_reason = True, "signed for but the buyer says it did not arrive"
        elif self_partial:
            s.state = "partial"
            _restock_limits(s)
        elif any(v.stuck for v in s.shipments):
            s.state = "stuck"
            s.commitments.append(Commitment(kind="forward_request", value="contact_courier",
                                            support="policy:logistics"))
        else:
            s.state = "shipped"
        return s

    # -- not shipped yet ---------------------------------------------------------------------
    if s.presale_from or s.presale_by:
        s.state = "presale"
        if s.presale_from:
            s.not_before = s.presale_from
            s.not_before_support = "order:presale.ship_from"
            s.allowed_dates[s.presale_from.isoformat()] = "order:presale.ship_from"
            s.commitments.append(Commitment(kind="dispatch_from", value=s.presale_from.isoformat(),
                                            support="order:presale.ship_from"))
        if s.presale_by:
            s.allowed_dates[s.presale_by.isoformat()] = "order:presale.ship_by"
            s.dispatch_by = s.presale_by
            s.commitments.append(Commitment(kind="dispatch_by", value=s.presale_by.isoformat(),
                                            support="order:presale.ship_by"))
        return s

    if any(p.stock == "out_of_stock" for p in s.pending_items):
        s.state = "out_of_stock"
        _restock_limits(s)
        return s

    s.state = "awaiting_dispatch"
    closure = s.closure
    if closure and closure.resume_on and closure.resume_on > today:
        support = f"notice:{closure.id}"
        s.not_before, s.not_before_support = closure.resume_on, support
        s.allowed_dates[closure.resume_on.isoformat()] = support
        s.commitments.append(Commitment(kind="dispatch_from", value=closure.resume_on.isoformat(),
                                        support=support))
        return s
    if s.overdue or s.backlog or not s.paid_at:
        return s  # late or delayed: no day may be promised, only the real reason given
    if any(p.stock in ("unknown", "low") for p in s.pending_items) or not facts.items:
        # Stock not confirmed: keep to the order's own deadline, never a sooner day.
        _deadline(s)
        return s

    day = policy_dispatch_day(s.paid_at, settings)
    if day >= today:
        s.dispatch_on, s.dispatch_on_support = day, "policy:daily_cutoff"
        s.allowed_dates[day.isoformat()] = "policy:daily_cutoff"
        s.commitments.append(Commitment(kind="dispatch_on", value=day.isoformat(), support="policy:daily_cutoff"))
    else:
        # The cutoff rule's day has passed without dispatch; only the platform deadline stands.
        _deadline(s)
    return s


_NOT_RECEIVED = re.compile(r"没收到|没有收到|未收到|没拿到|没见到|not (?:received|arrived)|never (?:got|received)", re.I)


def _deadline(s: Situation) -> None:
    if s.promised_ship_by:
        d = s.promised_ship_by.date()
        s.dispatch_by = d
        s.allowed_dates[d.isoformat()] = "order:promised_ship_by"
        s.commitments.append(Commitment(kind="dispatch_by", value=d.isoformat(), support="order:promised_ship_by"))


def _restock_limits(s: Situation) -> None:
    etas = [(p.restock_eta, p.index) for p in s.pending_items if p.stock == "out_of_stock" and p.restock_eta]
    if not etas:
        return
    eta, idx = max(etas)
    support = f"order:items[{idx}].restock_eta"
    s.not_before, s.not_before_support = eta, support
    for e, i in etas:
        s.allowed_dates[e.isoformat()] = f"order:items[{i}].restock_eta"
    s.commitments.append(Commitment(kind="dispatch_from", value=eta.isoformat(), support=support))


def _local(dt: datetime | None, tz: object) -> datetime | None:
    return dt.astimezone(tz) if dt else None  # type: ignore[arg-type]
