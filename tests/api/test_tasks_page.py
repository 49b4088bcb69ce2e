"""Issue 18 in a real headless Chromium against a real `replydesk serve`.

An agent ticks a coupon on an overdue draft and approves it; a manager's review page shows the
compensation queue, approves one coupon and declines another with a reason; a task whose webhook
fails shows on the agent's page (and a retry is offered); the warehouse's /tasks page (zh) lists
the open handoff with the order facts, marks it done, and the agent's page announces it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from knowledge.sources.secretbox import new_key
from tests.api.browser import chromium, create_key, new_page, require_chromium, running_server, screenshot


def connect(page: Page, url: str, key: str, *, lang: str | None = "en") -> None:
    if lang:  # the review page follows the chosen language (Chinese by default); these checks read English
        page.add_init_script(f"localStorage.setItem('replydesk.lang', '{lang}')")
    page.goto(url)
    page.locator("#key-input").fill(key)
    page.locator("#key-form button[type=submit]").click()
    expect(page.locator("#key-dialog")).not_to_be_visible()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.slow
def test_manager_decides_coupons_and_failed_and_done_tasks_show(tmp_path: Path) -> None:
    require_chromium()
    with running_server(tmp_path, env={"REPLYDESK_SECRET_KEY": new_key()}) as server, \
            server.client("agent") as agent, server.client("manager") as manager, chromium() as browser:
        admin_key = create_key(server, "admin")
        # A second overdue order, so that there are two coupons to decide.
        late = agent.get("/v1/orders/T1003").json()
        late["order_id"] = "T1818"
        late.pop("fetched_at", None)
        assert manager.put("/v1/orders/T1818", json=late).status_code == 200
        d1 = agent.post("/v1/drafts", json={"order_id": "T1003", "message": "都三天了怎么还不发货？"}).json()
        assert "coupon" in [a["kind"] for a in d1["actions"]], d1["actions"]
        assert "已经帮您" not in d1["text"]

        # 1. The agent keeps the coupon ticked (the reply promises to apply for it) and approves in the browser.
        page = new_page(browser)
        connect(page, f"{server.url}/review", server.keys["agent"])
        expect(page.locator(".draft-title")).to_have_text("Order T1003")
        coupon = page.locator(".take-action").nth(next(i for i, a in enumerate(d1["actions"]) if a["kind"] == "coupon"))
        priority = page.locator(".take-action").nth(next(i for i, a in enumerate(d1["actions"]) if a["kind"] == "priority"))
        expect(coupon).to_be_checked()  # the reply says one will be applied for
        expect(priority).to_be_checked()
        coupon.uncheck()
        expect(page.locator(".take-hint:visible")).to_have_count(1)  # unticking a promised step is questioned
        coupon.check()
        page.locator('[data-act="approve"]').click()
        acts = page.locator(".notice-ok", has_text="Actions for order T1003")
        expect(acts).to_contain_text("waiting for a manager")
        expect(acts).to_contain_text("on the warehouse list")
        expect(page.locator("#approvals")).to_be_hidden()  # agents have no compensation queue
        out = agent.get(f"/v1/drafts/{d1['id']}").json()
        assert out["status"] == "approved"
        reqs = agent.get("/v1/approvals").json()["items"]
        assert [(r["order_id"], r["amount_yuan"]) for r in reqs] == [("T1003", 3.0)]
        # An agent's key cannot approve it, whatever the page does.
        assert agent.post(f"/v1/approvals/{reqs[0]['id']}/approve").status_code == 403

        d2 = agent.post("/v1/drafts", json={"order_id": "T1818", "message": "还不发货？"}).json()
        take = [{"index": i} for i, a in enumerate(d2["actions"]) if a["kind"] == "coupon"]
        assert agent.post(f"/v1/drafts/{d2['id']}/approve", json={"actions": take}).status_code == 200

        # 2. A task whose webhook cannot be delivered: failed, and shown on the agent's page.
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin_key}"}) as admin:
            r = admin.put("/v1/shop/order-source", json={
                "kind": "store", "settings": {"tasks_webhook_url": f"http://127.0.0.1:{closed_port()}/hook"},
                "secrets": {"webhook_secret": "whsec-demo-0123456789"}})
            assert r.status_code == 200, r.text
        d3 = agent.post("/v1/drafts", json={"order_id": "T1818", "message": "到底什么时候发？？"}).json()
        prio = [{"index": i} for i, a in enumerate(d3["actions"]) if a["kind"] == "priority"]
        failed = agent.post(f"/v1/drafts/{d3['id']}/approve", json={"actions": prio}).json()["tasks"][0]
        assert failed["status"] == "failed" and failed["executor"] == "webhook"
        alert = page.locator(f'#failed-tasks li[data-task="{failed["id"]}"]')
        expect(alert).to_be_visible(timeout=15000)
        expect(alert).to_contain_text("webhook failed")
        expect(alert.get_by_role("button", name="Retry")).to_be_visible()
        screenshot(page, "tasks-agent-failed.png")

        # 3. The manager approves one coupon and declines the other, with a reason.
        mpage = new_page(browser)
        connect(mpage, f"{server.url}/review", server.keys["manager"])
        queue = mpage.locator("#approvals")
        expect(queue).to_be_visible()
        expect(mpage.locator("#approval-list .approval")).to_have_count(2)
        expect(mpage.locator("#approvals-count")).to_have_text("2")
        first = mpage.locator(".approval", has_text="T1003")
        expect(first).to_contain_text("Coupon ¥3")
        first.get_by_role("button", name="Approve").click()
        expect(mpage.locator(".notice-ok", has_text="Approved: coupon for order T1003")).to_be_visible()
        second = mpage.locator(".approval", has_text="T1818")
        second.get_by_role("button", name="Decline").click()  # no reason yet: refused on the page
        expect(mpage.locator(".notice-error", has_text="Say why")).to_be_visible()
        second.get_by_label("Reason to decline").fill("本周补偿预算已用完")
        second.get_by_role("button", name="Decline").click()
        expect(mpage.locator(".notice-ok", has_text="Declined: coupon for order T1818")).to_be_visible()
        expect(mpage.locator("#approval-list .approval")).to_have_count(0)
        screenshot(mpage, "tasks-manager-approvals.png")
        decided = {a["order_id"]: a for a in manager.get("/v1/approvals?status=all").json()["items"]}
        assert decided["T1003"]["status"] == "approved" and decided["T1818"]["status"] == "declined"
        assert decided["T1818"]["decline_reason"] == "本周补偿预算已用完"
        events = [json.loads(x)["event"] for x in manager.get("/v1/feedback/export").text.splitlines() if x]
        assert events.count("coupon_requested") == 2 and "coupon_approved" in events and "coupon_declined" in events
        weekly = manager.get("/v1/compensation/weekly").json()["items"]
        assert [(w["cause"], w["count"], w["yuan"]) for w in weekly] == [("overdue", 1, 3.0)]

        # 4. The warehouse's list: the open handoff with the order facts; done → the agent's page is told.
        wpage = new_page(browser)
        connect(wpage, f"{server.url}/tasks", server.keys["agent"], lang=None)
        expect(wpage.locator(".topbar h1")).to_have_text("待办交接（仓库）")
        # The approved coupon became a task to give it: sent to the shop's (unreachable) webhook, so failed.
        wpage.locator("#status-filter").select_option("failed")
        give = wpage.locator("#task-rows tr", has_text="发放优惠券")
        expect(give).to_have_count(1)
        expect(give).to_contain_text("主管已批准：给买家发放 3 元优惠券")
        expect(give).to_contain_text("T1003")
        wpage.locator("#status-filter").select_option("open")
        row = wpage.locator("#task-rows tr", has_text="加急处理")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("T1003")
        expect(row).to_contain_text("陶瓷马克杯")
        expect(row).to_contain_text("待处理")
        screenshot(wpage, "tasks-warehouse.png")
        row.get_by_role("button", name="已完成").click()
        expect(wpage.locator(".notice-ok", has_text="已完成：订单 T1003")).to_be_visible()
        expect(wpage.locator("#task-rows tr", has_text="加急处理")).to_have_count(0)
        expect(page.locator(".notice-ok", has_text="Done: Priority · order T1003")).to_be_visible(timeout=15000)
        assert page.js_errors == [] and mpage.js_errors == [] and wpage.js_errors == []
