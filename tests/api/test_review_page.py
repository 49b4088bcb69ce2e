"""The review page in a real headless Chromium against a real `replydesk serve`.

An agent (in English; the Chinese default is tested in test_review_desk.py) enters a key, sees the queue
longest-waiting first, approves one draft as is, edits one with a dishonest sentence (the live claim check
turns red before approval, and approving needs a logged override), rejects one as wrong_tone, uses the
keyboard, and sees a new draft arrive without a reload. The feedback log must then hold exactly
those decisions.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.browser import chromium, new_page, require_chromium, running_server, screenshot

DRAFTS = [  # created oldest first; the page lists the longest-waiting first
    ("T1006", "发货了吗？到哪了"),          # shipped: carrier and tracking number in the facts
    ("T1003", "都三天了怎么还不发货？"),    # overdue: proposes a coupon that needs approval
    ("T1004", "我买的杯子什么时候发货"),    # out of stock until a restock date
    ("T1009", "再不发货我就投诉了！"),      # a threat: needs a human
]
LATE = ("T1013", "When will my order arrive?")  # created while the page is open
DISHONEST = "明天一定到。"                         # a promise no fact supports


def queue_orders(page: Page) -> list[str]:
    return page.locator("#queue .q-order").all_inner_texts()


def pick(page: Page, order_id: str) -> None:
    page.locator(".queue-item", has_text=order_id).click()
    expect(page.locator(".draft-title")).to_have_text(f"Order {order_id}")


@pytest.mark.slow
def test_agent_reviews_the_queue_in_a_real_browser(tmp_path: Path) -> None:
    require_chromium()
    with running_server(tmp_path) as server, server.client("agent") as agent, chromium() as browser:
        created = {}
        for order_id, message in DRAFTS:
            r = agent.post("/v1/drafts", json={"order_id": order_id, "message": message, "context": []})
            assert r.status_code == 201, r.text
            created[order_id] = r.json()

        html = httpx.get(f"{server.url}/review")  # pages load without a key
        assert html.status_code == 200, "api/app.py must include api.routes.pages.router (GET /review)"
        assert "default-src 'self'" in html.headers["content-security-policy"]

        page = new_page(browser)
        page.add_init_script("localStorage.setItem('replydesk.lang', 'en')")
        page.goto(f"{server.url}/review")
        expect(page.locator(".topbar h1")).to_have_text("Review queue")

        # A wrong key: the API's own error message is shown, and the page asks again.
        page.get_by_label("API key").fill("rdk_not_a_key")
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#key-error")).to_contain_text("API key")
        page.get_by_label("API key").fill(server.keys["agent"])
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#key-dialog")).not_to_be_visible()

        # The queue, the buyer waiting longest first, and selected.
        expect(page.locator(".queue-item")).to_have_count(4)
        assert queue_orders(page) == ["T1006", "T1003", "T1004", "T1009"]
        expect(page.locator(".draft-title")).to_have_text("Order T1006")
        expect(page.locator("#conn")).to_contain_text("Live")
        pick(page, "T1009")
        expect(page.locator(".draft .callout-human")).to_be_visible()  # needs_human, with its reason
        expect(page.locator(".draft .callout-human")).to_contain_text(created["T1009"]["human_reason"])

        # Keyboard: j / k move the selection.
        page.locator("#queue").focus()
        page.keyboard.press("k")
        expect(page.locator(".draft-title")).to_have_text("Order T1004")
        page.keyboard.press("j")
        expect(page.locator(".draft-title")).to_have_text("Order T1009")

        # 1. Approve as is, with the "a" shortcut, after checking the facts the draft used are shown.
        pick(page, "T1006")
        shipment = created["T1006"]["facts"]["shipments"][0]
        facts = page.locator(".facts")
        expect(facts).to_contain_text(shipment["carrier"])
        expect(facts).to_contain_text(shipment["tracking_no"])
        page.keyboard.press("a")
        expect(page.locator(".notice-ok", has_text="Approved: order T1006")).to_be_visible()
        expect(page.locator(".queue-item")).to_have_count(3)

        # 2. Edit and approve, adding a promise the facts do not support.
        pick(page, "T1003")
        coupon = page.locator(".action", has_text="Coupon")
        expect(coupon).to_contain_text("needs approval")
        page.keyboard.press("e")
        reply = page.get_by_label("Reply draft")
        expect(reply).to_be_focused()
        page.keyboard.press("j")  # typing, not a shortcut: the selection stays, the reply gets a "j"
        expect(page.locator(".draft-title")).to_have_text("Order T1003")
        expect(reply).to_have_value(created["T1003"]["text"] + "j")
        edited_text = created["T1003"]["text"] + DISHONEST
        reply.fill(edited_text)
        expect(page.locator(".draft .badge-edited")).to_be_visible()
        # The live check turns the verdict red and marks the promise before anything is approved.
        expect(page.locator(".draft .guard[data-verdict='bad']")).to_contain_text("明天")
        expect(page.locator(".reply-marks mark.claim-bad").first).to_contain_text("明天")
        page.get_by_role("button", name="Approve edited").click()
        dialog = page.locator("#override-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("明天")
        expect(dialog.get_by_role("button", name="Approve anyway")).to_be_disabled()
        dialog.get_by_label("Why approve it anyway?").fill("买家同意，仓库已确认明天到")
        dialog.get_by_role("button", name="Approve anyway").click()
        warning = page.locator(".notice-warn", has_text="Approved with your edits: order T1003")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("仓库已确认")  # the override and its reason are shown
        expect(page.locator(".queue-item")).to_have_count(2)

        # 3. An unsaved edit survives the queue refreshing when a new draft arrives (no reload).
        pick(page, "T1009")
        page.get_by_label("Reply draft").press("End")
        page.get_by_label("Reply draft").type("（主管已知悉）")
        unsaved = page.get_by_label("Reply draft").input_value()
        page.locator("#queue").focus()
        r = agent.post("/v1/drafts", json={"order_id": LATE[0], "message": LATE[1], "context": []})
        assert r.status_code == 201, r.text
        created[LATE[0]] = r.json()
        expect(page.locator(".queue-item").last).to_contain_text(LATE[0], timeout=15_000)
        assert queue_orders(page) == ["T1004", "T1009", "T1013"]
        expect(page.get_by_label("Reply draft")).to_have_value(unsaved)
        expect(page.locator(".queue-item", has_text="T1009").locator(".chip-edited")).to_be_visible()

        # 4. Reject as wrong_tone with a note, opening the form with "r".
        pick(page, "T1004")
        page.keyboard.press("r")
        page.get_by_label("Reason").select_option("wrong_tone")
        page.get_by_label("Note (optional)").fill("语气太生硬")
        page.get_by_role("button", name="Reject draft").click()
        expect(page.locator(".notice-ok", has_text="Rejected (wrong tone): order T1004")).to_be_visible()
        assert queue_orders(page) == ["T1009", "T1013"]

        # The page as an agent sees it now: the warning stays until dismissed, the unsaved edit is kept.
        pick(page, "T1009")
        shot = screenshot(page, "review-page.png")
        assert shot.stat().st_size > 10_000
        assert page.js_errors == []

        # What the API recorded: exactly these decisions.
        ids = {o: d["id"] for o, d in created.items()}
        as_is = agent.get(f"/v1/drafts/{ids['T1006']}").json()
        assert as_is["status"] == "approved"
        edited = agent.get(f"/v1/drafts/{ids['T1003']}").json()
        assert (edited["status"], edited["final_text"]) == ("approved", edited_text)
        assert agent.get(f"/v1/drafts/{ids['T1004']}").json()["status"] == "rejected"
        pending = agent.get("/v1/drafts", params={"status": "pending"}).json()["items"]
        assert {d["order_id"] for d in pending} == {"T1009", "T1013"}

        with server.client("manager") as manager:
            stats = manager.get("/v1/feedback/stats")
            assert stats.status_code == 200, stats.text
            s = stats.json()
            assert (s["total_drafts"], s["approved"], s["edited"], s["rejected"]) == (5, 1, 1, 1), s
            assert s["rejection_reasons"] == {"wrong_tone": 1}
            assert s["approval_rate"] == pytest.approx(2 / 3, abs=1e-3)
            assert s["edit_rate"] == pytest.approx(1 / 2)
            assert s["mean_edit_distance"] == len(DISHONEST)

            export = manager.get("/v1/feedback/export")
            assert export.status_code == 200, export.text
            events = [json.loads(line) for line in export.text.splitlines() if line.strip()]
        # T1003's reply says a small compensation will be applied for: approving it asked a manager (issue 18).
        assert Counter(e["event"] for e in events) == {"draft_created": 5, "approved": 1, "edited": 1, "rejected": 1,
                                                       "coupon_requested": 1}
        decided = {e["event"]: e for e in events if e["event"] != "draft_created"}
        assert decided["approved"]["draft_id"] == ids["T1006"]
        assert decided["edited"]["draft_id"] == ids["T1003"]
        assert decided["edited"]["final_check"]["ok"] is False
        assert decided["edited"]["override"]["reason"] == "买家同意，仓库已确认明天到"
        assert decided["rejected"]["draft_id"] == ids["T1004"]
        assert decided["rejected"]["reason"] == "wrong_tone"
        assert decided["rejected"]["note"] == "语气太生硬"
