"""The knowledge base page in a real headless Chromium against a real `replydesk serve`.

A manager opens /kb for the first time, enters a key, creates the notice "双11仓库积压，延迟1-2天" valid
for three days through the form (previewing the reply a buyer would get first), sees it in the list
and on the timeline, checks that an urge message finds it (with the vector, BM25 and fused scores),
edits it, and opens its revisions and the diff between them; the shop settings round-trip through the
form (a bad value marked, a good one saved, the JSON view agreeing). An agent key is told it cannot edit
before it fills anything. (The page is read in English here; Simplified Chinese is the default.)
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.api.browser import chromium, new_page, require_chromium, running_server, screenshot

NOTICE_ID = "n-backlog"
TITLE = "双11仓库积压，延迟1-2天"
TEXT = "双11期间订单量大，仓库积压，现货订单发货延迟1-2天，请耐心等待。"
EDITED = "双11期间订单量大，仓库积压，现货订单发货延迟1-2天，我们正在加班打包。"
URGE = "双11买的怎么还不发货？"


@pytest.mark.slow
def test_manager_curates_a_notice_in_a_real_browser(tmp_path: Path) -> None:
    require_chromium()
    with running_server(tmp_path) as server, server.client("manager") as manager, chromium() as browser:
        html = httpx.get(f"{server.url}/kb")
        assert html.status_code == 200, "api/routes/pages.py serves GET /kb"
        page = new_page(browser)
        page.add_init_script("localStorage.setItem('replydesk.lang', 'en')")
        page.goto(f"{server.url}/kb")
        expect(page.locator(".topbar h1")).to_have_text("Knowledge base")

        # A new user: the page asks for a key once and keeps it for the tab.
        page.get_by_label("API key").fill(server.keys["manager"])
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#key-dialog")).not_to_be_visible()
        expect(page.locator("#conn")).to_contain_text("Connected")
        seeded = len(manager.get("/v1/knowledge").json()["items"])
        expect(page.locator("#items .item")).to_have_count(seeded)
        expect(page.locator("#settings-json")).to_have_value(re.compile('"daily_cutoff": "16:00"'))

        # Create the notice through the form; a bad id is refused with the field named.
        page.get_by_role("button", name="+ New item").click()
        page.get_by_label("ID", exact=True).fill("bad id!")
        page.get_by_label("Kind", exact=True).select_option("notice")
        page.get_by_label("Title", exact=True).fill(TITLE)
        page.get_by_label("Text", exact=True).fill(TEXT)
        page.get_by_label("Tags").fill("双11, 延迟发货")
        page.get_by_role("button", name="Now + 3 days").click()
        page.get_by_role("button", name="Create").click()
        expect(page.locator('[data-error="id"]')).to_be_visible()
        page.get_by_label("ID", exact=True).fill(NOTICE_ID)

        # Before saving: the reply a buyer would get now, with this unsaved notice.
        page.get_by_label("Order", exact=True).select_option("T1001")
        page.get_by_label("Buyer message", exact=True).fill(URGE)
        page.get_by_role("button", name="Preview reply").click()
        expect(page.locator("#preview-out .bubble")).to_contain_text("积压", timeout=30_000)  # drafting; slow on a busy box
        # Without effects the dispatch notice also makes the draft need a human (issue 12): two callouts.
        expect(page.locator("#preview-out .callout", has_text="the draft quotes it")).to_have_count(1)
        expect(page.locator("#preview-out .chip-mine")).to_contain_text("notice · n-backlog · unsaved")
        assert manager.get(f"/v1/knowledge/{NOTICE_ID}").status_code == 404  # a preview saves nothing

        page.get_by_role("button", name="Create").click()
        expect(page.locator(".notice-ok", has_text=f"Created {NOTICE_ID}")).to_be_visible()
        # The preview is drawn again from what is now saved: revision 1, no longer "unsaved".
        expect(page.locator('#preview-out [data-preview="saved"]')).to_be_visible()
        expect(page.locator("#preview-out .chip-cite", has_text="n-backlog")).to_contain_text("rev 1")
        row = page.locator(f'#items .item[data-id="{NOTICE_ID}"]')
        expect(row).to_contain_text(TITLE)
        expect(row).to_contain_text("rev 1")
        expect(row.locator(".chip-state-active")).to_have_text("in force")
        bar = page.locator(f'#timeline .tl-bar[data-id="{NOTICE_ID}"]')
        expect(bar).to_be_visible()
        expect(bar).to_have_class("tl-bar tl-active")
        # The bar starts at "now" (the red line) and is about three days of the 29 shown wide.
        track = page.locator(f'#timeline .tl-row[data-id="{NOTICE_ID}"] .tl-track').bounding_box()
        box = bar.bounding_box()
        now_line = page.locator(f'#timeline .tl-row[data-id="{NOTICE_ID}"] .tl-now').bounding_box()
        assert track and box and now_line
        assert abs(box["x"] - now_line["x"]) < 4
        assert 2.5 / 29 < box["width"] / track["width"] < 3.5 / 29

        # Would it be found? An urge message finds it first, with all three scores shown.
        page.get_by_label("Buyer message or question").fill(URGE)
        page.get_by_role("button", name="Search").click()
        first = page.locator("#search-out .scores tbody tr").first
        expect(first).to_have_attribute("data-id", NOTICE_ID)
        expect(first).to_have_class("is-mine")
        cells = first.locator("td.num")
        expect(cells.nth(1)).to_contain_text("#1")        # vector rank
        expect(cells.nth(2)).to_contain_text("#")         # BM25 rank
        expect(cells.nth(3)).to_contain_text("0.0")       # fused score
        expect(page.locator("#search-verdict")).to_contain_text("is found: #1")
        expect(page.locator("#search-out .active-notice")).to_contain_text(TITLE)

        # Edit it: a new revision, then its revisions and the diff between them.
        page.get_by_label("Text", exact=True).fill(EDITED)
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".notice-ok", has_text=f"Saved {NOTICE_ID} as revision 2")).to_be_visible()
        expect(row).to_contain_text("rev 2")
        revisions = page.locator("#revisions .revision")
        expect(revisions).to_have_count(2)
        expect(revisions.first).to_contain_text("rev 2")
        expect(revisions.first).to_contain_text("current")
        page.get_by_role("button", name="Diff 1 → 2").click()
        diff = page.locator("#diff-out .diff")
        expect(diff).to_contain_text("revision 1 → 2")
        expect(diff.locator(".d-del")).to_contain_text(TEXT)
        expect(diff.locator(".d-add")).to_contain_text(EDITED)

        page.evaluate("window.scrollTo(0, 0)")
        shot = screenshot(page, "kb-page.png")
        assert shot.stat().st_size > 10_000
        assert page.js_errors == []

        # What the API recorded: two revisions by this manager's key, the edit now current.
        revs = manager.get(f"/v1/knowledge/{NOTICE_ID}/revisions").json()
        assert [r["revision"] for r in revs["revisions"]] == [1, 2]
        assert len({r["author"] for r in revs["revisions"]}) == 1 and revs["revisions"][0]["author"]
        assert manager.get(f"/v1/knowledge/{NOTICE_ID}").json()["text"] == EDITED

        # Delete (two clicks), find it among the deleted, restore revision 1.
        page.get_by_role("button", name="Delete").click()
        page.get_by_role("button", name="Click again to delete").click()
        expect(page.locator(".notice-ok", has_text=f"Deleted {NOTICE_ID} (revision 3)")).to_be_visible()
        expect(page.locator("#deleted-box")).to_be_visible()
        expect(row).to_have_count(0)
        expect(page.locator(f'#timeline .tl-bar[data-id="{NOTICE_ID}"]')).to_have_count(0)
        page.get_by_label("Show deleted").check()
        expect(row).to_have_class(re.compile("is-deleted"))
        page.locator('#revisions .revision[data-rev="1"]').get_by_role("button", name="Restore").click()
        expect(page.locator(".notice-ok", has_text="Restored revision 1 of n-backlog as revision 4")).to_be_visible()
        expect(page.get_by_label("Text", exact=True)).to_have_value(TEXT)
        expect(row).not_to_have_class(re.compile("is-deleted"))

        # Shop settings as a form: what the server has, a bad value marked and nothing saved, then a round trip.
        form = page.locator("#settings-fields")
        expect(form.get_by_label("Daily cutoff")).to_have_value("16:00")
        before = manager.get("/v1/shop/settings").json()
        form.get_by_label("Holidays").fill("2026-12-25\n2026-13-01")
        form.get_by_role("button", name="Save settings").click()
        expect(page.locator("#settings-form-errors")).to_contain_text("holidays")
        expect(form.get_by_label("Holidays")).to_have_attribute("aria-invalid", "true")
        assert manager.get("/v1/shop/settings").json()["revision"] == before["revision"]
        form.get_by_label("Holidays").fill("2026-12-25\n2027-01-01")
        form.get_by_label("Daily cutoff").fill("17:30")
        form.get_by_label("Last pickup").fill("18:45")
        form.get_by_label("Default carriers").fill("中通快递，顺丰速运")
        form.get_by_label("Coupon limit").fill("8")
        form.get_by_label("Response target").fill("90")
        form.get_by_label("Refuse approving").check()
        form.get_by_role("button", name="Save settings").click()
        expect(page.locator(".notice-ok", has_text=f"Shop settings saved as revision {before['revision'] + 1}")).to_be_visible()
        after = manager.get("/v1/shop/settings").json()["settings"]
        assert (after["daily_cutoff"], after["last_pickup"]) == ("17:30", "18:45")
        assert after["holidays"] == ["2026-12-25", "2027-01-01"]
        assert after["default_carriers"] == ["中通快递", "顺丰速运"]
        assert after["compensation"]["coupon_yuan_max"] == 8 and after["review"] == {"response_target_s": 90,
                                                                                     "block_violations": True}
        # Everything the form does not show is kept as it was.
        assert after["extra_workdays"] == before["settings"]["extra_workdays"]
        assert after["tone"] == before["settings"]["tone"]
        expect(page.locator("#settings-json")).to_have_value(re.compile('"daily_cutoff": "17:30"'))

        # The JSON is the advanced view: a bad value there is refused with the field named, too.
        page.locator("#settings-advanced summary").click()
        settings = page.locator("#settings-json")
        settings.fill(settings.input_value().replace('"17:30"', '"25:00"'))
        page.get_by_role("button", name="Save JSON").click()
        expect(page.locator("#settings-errors")).to_contain_text("daily_cutoff")
        assert manager.get("/v1/shop/settings").json()["settings"]["daily_cutoff"] == "17:30"
        assert page.js_errors == []

        # An agent key learns what it cannot do before typing anything.
        agent_page = new_page(browser)
        agent_page.add_init_script("localStorage.setItem('replydesk.lang', 'en')")
        agent_page.goto(f"{server.url}/kb")
        agent_page.get_by_label("API key").fill(server.keys["agent"])
        agent_page.get_by_role("button", name="Save key").click()
        expect(agent_page.locator("#conn")).to_contain_text("Connected")
        expect(agent_page.locator("#role-note")).to_contain_text("manager or admin key")
        expect(agent_page.get_by_role("button", name="+ New item")).to_be_disabled()
        expect(agent_page.locator("#settings-role")).to_contain_text("manager or admin key")
        expect(agent_page.locator("#settings-fields").get_by_label("Daily cutoff")).to_be_disabled()
        assert agent_page.js_errors == []


@pytest.mark.slow
def test_manager_confirms_suggested_effects_in_a_real_browser(tmp_path: Path) -> None:
    """The server suggests effects read from the notice's text; nothing is applied until the manager uses one."""
    require_chromium()
    with running_server(tmp_path) as server, server.client("manager") as manager, chromium() as browser:
        page = new_page(browser)
        page.add_init_script("localStorage.setItem('replydesk.lang', 'en')")
        page.goto(f"{server.url}/kb")
        page.get_by_label("API key").fill(server.keys["manager"])
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#conn")).to_contain_text("Connected")

        page.get_by_role("button", name="+ New item").click()
        page.get_by_label("ID", exact=True).fill("n-move")
        page.get_by_label("Kind", exact=True).select_option("notice")
        page.get_by_label("Title", exact=True).fill("仓库搬迁")
        page.get_by_label("Text", exact=True).fill("仓库搬迁：12月20日至12月22日暂停发货，12月23日起恢复。")
        page.get_by_role("button", name="Now + 7 days").click()
        page.get_by_role("button", name="Suggest from text").click()
        suggestion = page.locator("#suggest-out .suggestion")
        expect(suggestion).to_have_count(1)
        expect(suggestion).to_contain_text('"dispatch_pause"')
        expect(page.locator("#f-effects")).to_have_value("")  # shown, not applied
        suggestion.get_by_role("button", name="Use").click()
        expect(page.locator("#f-effects")).to_have_value(re.compile(r'"until":\s?"\d{4}-12-22"'))
        page.get_by_role("button", name="Create").click()
        expect(page.locator("#editor-title")).to_contain_text("仓库搬迁")
        saved = manager.get("/v1/knowledge/n-move").json()
        # The year is placed from the server's own clock (a real `serve`): only month and day are asserted.
        [effect] = saved["effects"]
        assert effect["kind"] == "dispatch_pause" and effect["from"][4:] == "-12-20" and effect["until"][4:] == "-12-22"

        # A bad effects list is refused with the field named; the saved revision is untouched.
        page.get_by_label("Effects on dispatch").fill('[{"kind": "dispatch_delay", "days_min": 3, "days_max": 1}]')
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator('[data-error="effects"]')).to_be_visible()
        assert manager.get("/v1/knowledge/n-move").json()["revision"] == 1
        screenshot(page, "kb-effects.png")


@pytest.mark.slow
def test_manager_reindexes_and_imports_with_a_progress_bar(tmp_path: Path) -> None:
    require_chromium()
    gift = tmp_path / "gift-wrap.md"
    gift.write_text("---\nid: gift-wrap\ntitle: 礼品包装\nkind: policy\n---\n礼品包装需在下单时备注，包装费5元。\n",
                    encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("---\nid: bad\ntitle: 没有kind\n---\n正文\n", encoding="utf-8")
    with running_server(tmp_path) as server, server.client("manager") as manager, chromium() as browser:
        page = new_page(browser)
        page.add_init_script("localStorage.setItem('replydesk.lang', 'en')")  # read in English (zh is the default)
        page.goto(f"{server.url}/kb")
        page.get_by_label("API key").fill(server.keys["manager"])
        page.get_by_role("button", name="Save key").click()
        expect(page.locator("#conn")).to_contain_text("Connected")

        page.get_by_role("button", name="Reindex this shop").click()
        expect(page.locator("#job")).to_be_visible()
        expect(page.locator(".notice-ok", has_text="Reindexed")).to_be_visible(timeout=120_000)
        expect(page.locator("#job-status")).to_contain_text(re.compile(r"reindex: done (\d+) / \1"))
        bar = page.locator("#job-progress")
        assert bar.evaluate("b => b.value === b.max && b.max > 1")

        # A bad file: refused before any job, nothing imported.
        page.locator("#import-files").set_input_files([str(gift), str(bad)])
        expect(page.locator(".notice-error", has_text="Could not import")).to_be_visible()
        assert manager.get("/v1/knowledge/gift-wrap").status_code == 404

        page.locator("#import-files").set_input_files([str(gift)])
        expect(page.locator(".notice-ok", has_text="Imported: 1 created")).to_be_visible(timeout=120_000)
        expect(page.locator('#items .item[data-id="gift-wrap"]')).to_have_count(1)
        job_id = page.locator("#job-meta").text_content()
        assert manager.get(f"/v1/jobs/{job_id}").json()["status"] == "done"
        assert page.js_errors == []
