"""The /insights page in a real headless Chromium against a real `replydesk serve`.

Three weeks of a shop's urges are written to the server's database (through ``events.append``, as the
draft path writes them), then a surge on one SKU; the detector stores its alert. A manager opens the
page pinned to that week, sees the curve with the surge marked, the alert with its cause, the tables,
and follows "Write a notice" to /kb, where a new notice is filled in and not saved.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from core.clock import FixedClock
from core.db import make_engine
from drafter.insights import events
from drafter.insights.service import UrgeInsights
from knowledge.shops import ShopStore
from tests.api.browser import ROOT, chromium, new_page, require_chromium, running_server, screenshot

CST = timezone(timedelta(hours=8))
END = datetime(2026, 11, 25, 15, 0, tzinfo=CST)
SKUS = ["CUP-02", "BOWL-03", "VASE-04", "PLATE-05", "MUG-01", "TRAY-08"]
DAILY = [0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.1, 1.2, 1.3, 1.1, 1.1, 1.2, 1.2, 1.2, 1.1, 1.0, 1.2,
         1.4, 1.6, 1.4, 0.8]


def _history(engine: sa.Engine) -> None:
    rnd = random.Random(11)
    rows = []
    t = END - timedelta(weeks=3)
    while t < END - timedelta(hours=1):
        for _ in range(int(rnd.expovariate(1 / (6 * DAILY[t.hour])) + 0.5)):
            at = t + timedelta(minutes=rnd.randint(0, 59))
            shipped = rnd.random() < 0.35
            decided = at + timedelta(seconds=rnd.randint(20, 400))
            rows.append(dict(
                shop_id="demo", order_id=f"T9{rnd.randrange(10**6):06d}", received_at=at,
                drafted_at=at + timedelta(seconds=3), intent_kind="urge",
                state="shipped" if shipped else rnd.choice(["awaiting_dispatch", "awaiting_dispatch", "out_of_stock"]),
                cause="in_transit" if shipped else "awaiting", sku=rnd.choice(SKUS),
                warehouse=rnd.choice(["WH-HZ", "WH-GZ"]), carrier=rnd.choice(["中通快递", "圆通速递"]) if shipped else None,
                decision=rnd.choice(["approved", "approved", "approved", "edited", "rejected"]),
                decided_by=rnd.choice(["k_agent_li", "k_agent_wang"]), decided_at=decided,
                sent_at=decided + timedelta(seconds=rnd.randint(2, 30))))
        t += timedelta(hours=1)
    for i in range(21):   # the stock error: a SKU sold as in stock, restock date passed
        at = END - timedelta(minutes=58 - 2 * i)
        rows.append(dict(shop_id="demo", order_id=f"T8{i:06d}", received_at=at, drafted_at=at, intent_kind="urge",
                         state="out_of_stock", cause="stock_error", sku="TRAY-08", warehouse="WH-GZ",
                         restock_passed=True))
    keys = {k for r in rows for k in r}
    with engine.begin() as conn:   # as the draft path appends them: the rollups the page reads count them too
        for r in rows:
            events.append(conn, {k: r.get(k) for k in keys} | {"restock_passed": bool(r.get("restock_passed"))})


@pytest.mark.slow
def test_manager_sees_the_surge_and_writes_a_notice(tmp_path: Path) -> None:
    require_chromium()
    with running_server(tmp_path) as server, chromium() as browser:
        engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'replydesk.db'}")
        _history(engine)
        clock = FixedClock(END)
        alert = UrgeInsights(engine, clock, ShopStore(engine, clock)).detect("demo", END)
        engine.dispose()
        assert alert is not None and alert["value"] == "TRAY-08"

        page = new_page(browser, height=1400)
        # /kb (opened below) speaks Simplified Chinese by default since issue 15: this test reads it in English.
        page.add_init_script("localStorage.setItem('replydesk.lang', 'en')")
        page.goto(f"{server.url}/insights?until={quote(END.isoformat())}")
        page.get_by_label("API key").fill(server.keys["agent"])   # an agent key is refused
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#key-error")).to_contain_text("manager or admin")
        page.get_by_label("API key").fill(server.keys["manager"])
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")

        # The curve is drawn by Chart.js, with the surge marked at its hour.
        marked = page.evaluate("""() => {
            const c = Chart.getChart(document.querySelector('#curve'));
            return {hours: c.data.labels.length, marks: c.data.datasets[1].data.filter((v) => v !== null)};
        }""")
        assert marked["hours"] == 168 and len(marked["marks"]) == 1 and marked["marks"][0] >= 21
        item = page.locator("#alerts .alert")
        expect(item).to_have_count(1)
        expect(item.locator(".cause")).to_contain_text("21 for SKU TRAY-08, all out of stock with a restock date "
                                                       "already passed")
        expect(item.locator(".action")).to_contain_text("Correct the stock")
        expect(page.locator("#causes tbody tr").first).to_contain_text("awaiting")
        expect(page.locator("#by-sku tbody")).to_contain_text("TRAY-08")
        expect(page.locator("#rt-agents tbody tr")).to_have_count(2)
        expect(page.locator("#approvals tbody")).to_contain_text("awaiting_dispatch")
        assert page.js_errors == []
        shot = ROOT / "docs" / "screenshots" / "insights.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        screenshot(page, "insights.png")

        # "Write a notice" opens /kb with a new notice filled in (nothing saved until the manager saves).
        item.get_by_role("link", name="Write a notice").click()
        expect(page).to_have_url(re.compile(r"/kb\?new=notice"))
        expect(page.locator("#f-kind")).to_have_value("notice")
        expect(page.locator("#f-title")).to_have_value("TRAY-08 延迟说明")
        expect(page.locator("#f-text")).to_have_value(alert["notice_text"])
        expect(page.locator("#save-btn")).to_have_text("Create")
        assert page.js_errors == []
