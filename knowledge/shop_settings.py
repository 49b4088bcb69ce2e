"""Shop settings: the machine-checkable rules a reply is held to (see DESIGN.md)."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


def parse_hhmm(v: str, name: str) -> str:
    """'9:05' -> '09:05'; anything but a 24-hour HH:MM is an error naming the field."""
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(v).strip())
    if not m:
        raise ValueError(f"{name} must be HH:MM (24h), got {v!r}")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def hhmm_time(v: str) -> time:
    h, m = v.split(":")
    return time(int(h), int(m))



ActionKind = Literal["priority", "forward_warehouse", "contact_courier", "escalate", "coupon", "gift"]

class Compensation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    coupon_yuan_max: float = Field(default=0, ge=0, le=1000)
    needs_approval: bool = True
    gift: str | None = None


class Tone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(default="亲", max_length=20)
    sign_off: str | None = Field(default=None, max_length=60)


class ReviewRules(BaseModel):
    """How the review desk treats agents' decisions."""

    model_config = ConfigDict(extra="forbid")
    # False: an agent may approve text the claim check flags, with a reason that is logged. True: refused.
    block_violations: bool = False
    # Agents are scored on response time: a conversation waiting longer than this shows amber, twice it red.
    response_target_s: int = Field(default=60, ge=5, le=24 * 3600)


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "Asia/Shanghai"
    ship_within_hours: int = Field(default=48, ge=1, le=24 * 60)
    daily_cutoff: str = "16:00"
    # The courier's last collection of the day: after it nothing leaves today, whatever the cutoff says.
    last_pickup: str | None = None
    ships_on_weekends: bool = True
    holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)
    default_carriers: list[str] = Field(default_factory=list)
    compensation: Compensation = Field(default_factory=Compensation)
    tone: Tone = Field(default_factory=Tone)
    review: ReviewRules = Field(default_factory=ReviewRules)
    # Which proposed actions start ticked when an agent approves a draft (issue 18); the agent can
    # untick any. All by default: a draft proposes a step only beside a sentence saying it will be
    # taken ("另外我会帮您申请一份小补偿…"), so leaving it unticked would make that sentence untrue
    # (the approval then warns: promise_not_taken). A coupon or gift still waits for a manager.
    actions_default: list[ActionKind] = Field(default_factory=lambda: list(get_args(ActionKind)))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {v!r} (use an IANA name like 'Asia/Shanghai')") from exc
        return v

    @field_validator("daily_cutoff")
    @classmethod
    def _cutoff(cls, v: str) -> str:
        return parse_hhmm(v, "daily_cutoff")

    @field_validator("last_pickup")
    @classmethod
    def _pickup(cls, v: str | None) -> str | None:
        return None if v is None or not str(v).strip() else parse_hhmm(v, "last_pickup")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cutoff_time(self) -> time:
        return hhmm_time(self.daily_cutoff)

    @property
    def last_pickup_time(self) -> time | None:
        return hhmm_time(self.last_pickup) if self.last_pickup else None
