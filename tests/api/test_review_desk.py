"""The agent's desk in a real headless Chromium against a real `replydesk serve`: what issue 15 asked for.

- the page speaks Simplified Chinese by default, English on the switch (kept across reloads);
- the queue is the longest-waiting buyer first, each with a live timer coloured against the shop's target;
- typing a false promise turns the claim check red (and marks it) before anything is approved;
- a needs-human draft is not approved by the same key press: its reason first, then a confirmation;
- approved replies are in the history, with copy and undo while unsent; a cited policy opens in a sheet;
- /docs renders with the network cut off (Swagger UI from a Python package).
Screenshots of the page go to docs/screenshots/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.browser import ROOT, chromium, new_page, require_chromium, running_server

SHOTS = ROOT / "docs" / "screenshots"
FALSE_PROMISE = "今天一定给您发出，明天就能到"


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def _connect(page: Page, key: str) -> None:
    page.locator("#key-input").fill(key)
    page.locator("#key-form button[type=submit]").click()
    expect(page.locator("#key-dialog")).not_to_be_visible()


@pytest.mark.slow
def test_the_desk_in_a_real_browser(tmp_path: Path) -> None:
    require_chromium()
    with running_server(tmp_path) as server, server.client("agent") as agent, chromium() as browser:
        made = {}
        # Created in this order, but the buyers have waited 40 s, 200 s and 5 s: the queue is 1003, 1006, 1009.
        for order_id, message, waited in (("T1006", "发货了吗？到哪了", 40), ("T1003", "都三天了怎么还不发货？", 200),
                                          ("T1009", "再不发货我就投诉了！", 5)):
            r = agent.post("/v1/drafts", json={"order_id": order_id, "message": message, "received_at": _ago(waited),
                                               "context": [{"role": "buyer", "text": "在吗？", "at": _ago(waited + 60)}]})
            assert r.status_code == 201, r.text
            made[order_id] = r.json()
        assert made["T1009"]["needs_human"] and not made["T1003"]["needs_human"]

        page = new_page(browser)
        page.goto(f"{server.url}/review")
        # Simplified Chinese by default.
        expect(page.locator(".topbar h1")).to_have_text("待审回复")
        _connect(page, server.keys["agent"])

        # Longest waiting first, each with a timer: past twice the 60 s target red, past it amber, else green.
        expect(page.locator(".queue-item")).to_have_count(3)
        assert page.locator("#queue .q-order").all_inner_texts() == ["T1003", "T1006", "T1009"]
        timers = page.locator("#queue .q-wait")
        expect(timers.nth(0)).to_have_attribute("data-level", "overdue")
        expect(timers.nth(2)).to_have_attribute("data-level", "ok")
        expect(timers.nth(0)).not_to_have_text(timers.nth(0).inner_text(), timeout=5000)  # the timer is live
        expect(page.locator(".draft-title")).to_contain_text("T1003")
        expect(page.locator(".draft .context")).to_contain_text("在吗？")  # the earlier turn is shown

        # Typing a false promise: the verdict turns red and the promise is marked, before any approval.
        reply = page.locator("#reply-text")
        expect(page.locator(".draft .guard")).to_have_attribute("data-verdict", "ok")
        reply.fill(made["T1003"]["text"] + FALSE_PROMISE)
        verdict = page.locator(".draft .guard[data-verdict='bad']")
        expect(verdict).to_contain_text("今天")
        expect(verdict).to_contain_text("明天")
        marked = page.locator(".reply-marks mark.claim-bad").all_inner_texts()
        assert any("明天" in m for m in marked) and any("今天" in m for m in marked), marked
        expect(page.locator('[data-act="approve"]')).to_have_attribute("data-verdict", "bad")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "review-page.png"), full_page=True)
        assert agent.get(f"/v1/drafts/{made['T1003']['id']}").json()["status"] == "pending"
        # Undoing the edit turns it green again.
        page.locator('[data-act="reset"]').click()
        expect(page.locator(".draft .guard")).to_have_attribute("data-verdict", "ok")

        # The language switch: English now and after a reload; Chinese again.
        page.locator("#lang-select").select_option("en")
        expect(page.locator(".topbar h1")).to_have_text("Review queue")
        expect(page.locator('[data-act="approve"]')).to_contain_text("Approve")
        page.reload()
        expect(page.locator(".topbar h1")).to_have_text("Review queue")
        expect(page.locator(".queue-item")).to_have_count(3)

        # Needs a human: "a" shows the reason, a second "a" does nothing, Cancel keeps it pending.
        page.locator(".queue-item", has_text="T1009").click()
        expect(page.locator(".draft-title")).to_contain_text("T1009")
        page.locator("#queue").focus()
        page.keyboard.press("a")
        dialog = page.locator("#human-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(made["T1009"]["human_reason"])
        page.keyboard.press("a")
        page.keyboard.press("Enter")  # focus is on Cancel: Enter cancels
        expect(dialog).not_to_be_visible()
        assert agent.get(f"/v1/drafts/{made['T1009']['id']}").json()["status"] == "pending"
        page.locator("#queue").focus()
        page.keyboard.press("a")
        dialog.get_by_role("button", name="I have checked it: approve").click()
        expect(page.locator(".notice-ok", has_text="Approved: order T1009")).to_be_visible()
        assert agent.get(f"/v1/drafts/{made['T1009']['id']}").json()["status"] == "approved"
        expect(page.locator(".queue-item")).to_have_count(2)
        with server.client("manager") as manager:
            events = [json.loads(x) for x in manager.get("/v1/feedback/export").text.splitlines() if x.strip()]
        approved = next(e for e in events if e["event"] == "approved" and e["draft_id"] == made["T1009"]["id"])
        assert approved["needs_human_confirmed"] is True  # the confirmation is in the log

        # History: the approved reply with Copy, and Undo approve puts it back in the queue.
        page.locator("#queue").focus()
        page.keyboard.press("h")
        sheet = page.locator("#history-dialog")
        row = sheet.locator(".h-item", has_text="T1009")
        expect(row).to_contain_text(made["T1009"]["text"][:10])
        row.get_by_role("button", name="Copy").click()
        expect(row.locator('[data-act="copy"]')).not_to_have_text("Copy")
        row.get_by_role("button", name="Undo approve").click()
        expect(page.locator(".queue-item", has_text="T1009")).to_be_visible()
        expect(sheet.locator(".h-item", has_text="T1009")).to_have_count(0)
        assert agent.get(f"/v1/drafts/{made['T1009']['id']}").json()["status"] == "pending"
        sheet.get_by_role("button", name="Close").click()

        # A cited policy opens in a side sheet at the revision the draft cited.
        page.locator(".queue-item", has_text="T1003").click()
        cites = [c for c in made["T1003"]["citations"] if c["kind"] in ("policy", "notice")]
        if cites:
            page.locator(".chip-link").first.click()
            src = page.locator("#source-dialog")
            expect(src).to_contain_text(f"rev {cites[0]['revision']}")
            expect(src.locator(".src-text")).not_to_be_empty()
            src.get_by_role("button", name="Close").click()

        page.locator("#lang-select").select_option("zh")
        expect(page.locator(".topbar h1")).to_have_text("待审回复")
        assert page.js_errors == []

        # /docs with everything but this server cut off: Swagger UI still renders the API.
        docs = new_page(browser)
        foreign: list[str] = []

        def only_local(route) -> None:  # type: ignore[no-untyped-def]
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()

        docs.route("**/*", only_local)
        docs.goto(f"{server.url}/docs")
        expect(docs.locator(".swagger-ui .info .title")).to_contain_text("replydesk", timeout=20_000)
        expect(docs.locator(".opblock-summary-path", has_text="/v1/drafts/{draft_id}/check")).to_be_visible()
        assert foreign == [], foreign
