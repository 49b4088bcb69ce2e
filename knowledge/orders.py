"""Order facts: the normalized live status every order source returns, and the source protocol.

Unknown or missing fields mean "we don't know", never "no": every field is optional except the id.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TradeStatus(StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS"
    SELLER_CONSIGNED_PART = "SELLER_CONSIGNED_PART"
    WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS"
    TRADE_BUYER_SIGNED = "TRADE_BUYER_SIGNED"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_CLOSED_BY_TAOBAO = "TRADE_CLOSED_BY_TAOBAO"
    PAID_FORBID_CONSIGN = "PAID_FORBID_CONSIGN"


def _known_status(v: Any) -> Any:
    # An unknown status from a source is "we don't know", not an error; a status that is not even a
    # string is malformed input (a 422 for PUT /v1/orders), not an unknown status.
    if v is not None and not isinstance(v, str):
        raise ValueError("status must be a string")
    if v is None or v in TradeStatus.__members__:
        return v
    return None


class _Open(BaseModel):
    # Sources may send more than we model; keep it (it is shown to agents) but never rely on it.
    model_config = ConfigDict(extra="allow")


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("timestamps need a UTC offset (e.g. +08:00)")
    return v


class Presale(_Open):
    ship_from: date | None = None
    ship_by: date | None = None


class Item(_Open):
    sku: str | None = None
    title: str | None = None
    quantity: int | None = Field(default=None, ge=0)
    stock: str = "unknown"  # in_stock | low | out_of_stock | unknown
    restock_eta: date | None = None
    # Per-line truth: a platform reports each order line with its own trade status (Taobao's
    # orders.order[].status); None means the source does not say, never "same as the trade".
    status: TradeStatus | None = None
    refund_status: str | None = None

    _status = field_validator("status", mode="before")(lambda cls, v: _known_status(v))

    @field_validator("stock")
    @classmethod
    def _stock(cls, v: str) -> str:
        return v if v in {"in_stock", "low", "out_of_stock", "unknown"} else "unknown"


class TrackingEvent(_Open):
    at: datetime | None = None
    desc: str = ""

    _tz = field_validator("at")(lambda cls, v: _aware(v))


class Shipment(_Open):
    carrier: str | None = None
    tracking_no: str | None = None
    shipped_at: datetime | None = None
    events: list[TrackingEvent] = Field(default_factory=list)
    item_skus: list[str] | None = None

    _tz = field_validator("shipped_at")(lambda cls, v: _aware(v))


class Refund(_Open):
    status: str | None = None


class OrderFacts(_Open):
    order_id: str = Field(min_length=1, max_length=64)
    status: TradeStatus | None = None
    paid_at: datetime | None = None
    promised_ship_by: datetime | None = None
    presale: Presale | None = None
    items: list[Item] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    refund: Refund | None = None
    # When the source read these facts (a cache may serve them later); None for sources that
    # do not say. What a source knows beyond the contract: shown to agents and used by
    # analytics, never stated to a buyer as a claim.
    fetched_at: datetime | None = None
    warehouse: str | None = None
    buyer_nick: str | None = None
    amount: float | None = None  # what the buyer paid, in yuan

    _tz = field_validator("paid_at", "promised_ship_by", "fetched_at")(lambda cls, v: _aware(v))
    _status = field_validator("status", mode="before")(lambda cls, v: _known_status(v))


class OrderSource(Protocol):
    """Where live order facts come from (demo store, ERP adapter, Taobao Open Platform ...).

    ``get`` raises ``OrderNotFound`` or ``OrderUnavailable``; it must not block for long: the
    pipeline also wraps it in a timeout.
    """

    def get(self, shop_id: str, order_id: str) -> OrderFacts: ...
