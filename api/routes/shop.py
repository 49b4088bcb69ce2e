"""The caller's shop settings: the machine-checkable rules every draft is held to (managers and admins).

A PUT replaces the settings as a whole, validated strictly (unknown fields, bad times or zones are a
422 naming the field) and kept as a new revision with the key id as its author; the same settings
again make no new revision.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from api.deps import ContainerDep, ManagerKey, Principal
from knowledge.shop_settings import Compensation, ShopSettings, Tone
from knowledge.shops import Shop

router = APIRouter(prefix="/v1/shop", tags=["shop"])

Carrier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class CompensationIn(Compensation):
    gift: str | None = Field(default=None, max_length=60)


class ShopSettingsIn(ShopSettings):
    """``ShopSettings`` with length limits on what a request may carry."""

    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    daily_cutoff: str = Field(default="16:00", max_length=8)
    last_pickup: str | None = Field(default=None, max_length=8)
    holidays: list[date] = Field(default_factory=list, max_length=400)
    extra_workdays: list[date] = Field(default_factory=list, max_length=400)
    default_carriers: list[Carrier] = Field(default_factory=list, max_length=20)
    compensation: CompensationIn = Field(default_factory=CompensationIn)
    tone: Tone = Field(default_factory=Tone)


class SettingsOut(BaseModel):
    shop_id: str
    name: str
    settings: ShopSettings
    revision: int
    changed: bool | None = Field(default=None, description="On PUT: false when the settings were the same")


def _out(shop: Shop, changed: bool | None = None) -> SettingsOut:
    return SettingsOut(shop_id=shop.id, name=shop.name, settings=shop.settings, revision=shop.settings_revision,
                       changed=changed)


@router.get("/settings", response_model=SettingsOut)
def get_settings(key: ManagerKey, c: ContainerDep) -> SettingsOut:
    return _out(c.shops.get(key.shop_id))


@router.put("/settings", response_model=SettingsOut)
def put_settings(body: ShopSettingsIn, key: ManagerKey, c: ContainerDep) -> SettingsOut:
    """Replace the settings (send them whole, as GET returns them under ``settings``)."""
    settings = ShopSettings.model_validate(body.model_dump())
    before = c.shops.get(key.shop_id).settings_revision
    shop = c.shops.update_settings(key.shop_id, settings, author=key.id)
    return _out(shop, changed=shop.settings_revision != before)


class DeskOut(BaseModel):
    """What every page needs before it shows anything: who the key is and the shop's desk rules."""

    shop_id: str
    name: str
    role: str = Field(description="The key's role: agent, extension, manager or admin")
    timezone: str = Field(description="Dates are shown in this zone")
    response_target_s: int = Field(description="A conversation waiting longer shows amber; twice as long, red")
    block_violations: bool = Field(description="True: text the claim check flags cannot be approved at all")


@router.get("/desk", response_model=DeskOut)
def desk(key: Principal, c: ContainerDep) -> DeskOut:
    """For any key: its role (so a page can say what it may do before the user fills a form), the shop's
    timezone and review rules."""
    shop = c.shops.get(key.shop_id)
    return DeskOut(shop_id=shop.id, name=shop.name, role=key.role, timezone=shop.settings.timezone,
                   response_target_s=shop.settings.review.response_target_s,
                   block_violations=shop.settings.review.block_violations)
