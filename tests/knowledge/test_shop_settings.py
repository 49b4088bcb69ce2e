from __future__ import annotations

import pytest
from pydantic import ValidationError

from knowledge.shop_settings import ShopSettings
from knowledge.shops import ShopStore

DESIGN_EXAMPLE = {
    "timezone": "Asia/Shanghai", "ship_within_hours": 48, "daily_cutoff": "16:00", "ships_on_weekends": True,
    "holidays": ["2026-10-01"], "extra_workdays": ["2026-10-11"], "default_carriers": ["中通快递", "顺丰速运"],
    "compensation": {"coupon_yuan_max": 5, "needs_approval": True, "gift": "小礼品"},
    "tone": {"address": "亲", "sign_off": "祝您生活愉快"},
}


def test_design_example_is_valid() -> None:
    s = ShopSettings.model_validate(DESIGN_EXAMPLE)
    assert s.cutoff_time.hour == 16 and s.compensation.coupon_yuan_max == 5


@pytest.mark.parametrize("patch,needle", [
    ({"timezone": "Mars/Base"}, "unknown timezone"),
    ({"daily_cutoff": "25:00"}, "HH:MM"),
    ({"ship_within_hours": 0}, "ship_within_hours"),
    ({"compensation": {"coupon_yuan_max": -1}}, "coupon_yuan_max"),
    ({"colour": "red"}, "colour"),
    ({"holidays": ["not-a-date"]}, "holidays"),
])
def test_bad_settings_say_what_is_wrong(patch: dict, needle: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ShopSettings.model_validate({**DESIGN_EXAMPLE, **patch})
    assert needle in str(exc.value)


def test_settings_edits_are_revisions(engine, clock) -> None:
    shops = ShopStore(engine, clock)
    shops.ensure("s1", settings=ShopSettings.model_validate(DESIGN_EXAMPLE))
    shop = shops.update_settings("s1", ShopSettings.model_validate({**DESIGN_EXAMPLE, "daily_cutoff": "17:30"}))
    assert shop.settings_revision == 2 and shop.settings.daily_cutoff == "17:30"
    same = shops.update_settings("s1", shop.settings)
    assert same.settings_revision == 2
