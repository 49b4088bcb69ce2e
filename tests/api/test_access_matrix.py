"""Every route × every role × own/other shop, against the table in DESIGN.md ("Who may call what").

A key only sees its own shop: another shop's resource is 404, never 403 (that would confirm it
exists). A role that may not use a route gets 403; no key gets 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth

ALL = ("agent", "extension", "manager", "admin")
MANAGERS = ("manager", "admin")
ROLES: tuple[str | None, ...] = (None, "agent", "extension", "manager", "admin")


@dataclass
class Route:
    method: str
    path: str                       # {draft} / {order} / {key} are filled per case
    allowed: tuple[str, ...] | None  # None: public
    body: dict | None = None
    owned: bool = False             # addresses one resource of a shop (404 from another shop)
    fixed: int | None = None        # the same answer for every key (authenticated otherwise, e.g. signed events)


IMPORT_FILE = "---\nid: gift-wrap\ntitle: 礼品包装\nkind: policy\n---\n礼品包装需在下单时备注。\n"

ROUTES = [
    Route("GET", "/healthz", None), Route("GET", "/readyz", None), Route("GET", "/docs", None),
    Route("GET", "/openapi.json", None), Route("GET", "/review", None), Route("GET", "/metrics", None),
    Route("POST", "/v1/drafts", ALL, {"order_id": "T1006", "message": "发货了吗"}),
    Route("POST", "/v1/drafts/stream", ALL, {"order_id": "T1006", "message": "发货了吗"}),
    Route("GET", "/v1/drafts", ALL),
    Route("GET", "/v1/drafts/{draft}", ALL, owned=True),
    Route("POST", "/v1/drafts/{draft}/approve", ALL, {}, owned=True),
    Route("POST", "/v1/drafts/{draft}/reject", ALL, {"reason": "other"}, owned=True),
    Route("POST", "/v1/drafts/{draft}/check", ALL, {"text": "亲，已经帮您催仓库了"}, owned=True),
    Route("POST", "/v1/drafts/{draft}/unapprove", ALL, owned=True),  # a pending draft: nothing to undo, 200
    Route("POST", "/v1/drafts/{approved}/inserted", ALL, owned=True),
    Route("POST", "/v1/drafts/{approved}/sent", ALL, owned=True),
    Route("GET", "/v1/orders", ALL),
    Route("GET", "/v1/orders/{order}", ALL, owned=True),
    Route("PATCH", "/v1/orders/{order}", MANAGERS, {"status": "WAIT_SELLER_SEND_GOODS"}, owned=True),
    # PUT creates or replaces an order in the caller's own shop: never touches another shop's order.
    Route("PUT", "/v1/orders/{order}", MANAGERS, {"order_id": "T1001", "status": "WAIT_SELLER_SEND_GOODS"}),
    Route("GET", "/v1/feedback/stats", MANAGERS),
    Route("GET", "/v1/feedback/export", MANAGERS),
    Route("GET", "/kb", None),
    Route("GET", "/v1/knowledge", ALL),
    Route("POST", "/v1/knowledge", MANAGERS, {"id": "{new}", "kind": "policy", "title": "新规则", "text": "内容"}),
    Route("GET", "/v1/knowledge/search?q=发货", ALL),
    Route("POST", "/v1/knowledge/preview", ALL, {"order_id": "T1006", "message": "发货了吗"}),
    Route("POST", "/v1/knowledge/suggest-effects", MANAGERS, {"text": "10月1日至7日暂停发货"}),
    Route("POST", "/v1/knowledge/reindex", MANAGERS),
    Route("POST", "/v1/knowledge/import", MANAGERS, {"files": [{"name": "x.md", "content": IMPORT_FILE}]}),
    Route("GET", "/v1/jobs/{job}", MANAGERS, owned=True),
    Route("GET", "/v1/knowledge/{item}", ALL, owned=True),
    Route("PUT", "/v1/knowledge/{item}", MANAGERS, {"title": "发货时效", "text": "现货48小时内发货。"}, owned=True),
    Route("DELETE", "/v1/knowledge/{item}", MANAGERS, owned=True),
    Route("GET", "/v1/knowledge/{item}/revisions", ALL, owned=True),
    Route("GET", "/v1/knowledge/{item}/diff", ALL, owned=True),
    Route("POST", "/v1/knowledge/{item}/restore", MANAGERS, {"revision": 1}, owned=True),
    Route("GET", "/v1/shop/desk", ALL),
    Route("GET", "/v1/shop/settings", MANAGERS),
    Route("PUT", "/v1/shop/settings", MANAGERS, {"daily_cutoff": "16:00"}),
    Route("GET", "/v1/shop/order-source", ("admin",)),
    Route("PUT", "/v1/shop/order-source", ("admin",), {"kind": "store"}),
    Route("POST", "/v1/shop/order-source/check", ("admin",), {"order_id": "T1001"}, owned=True),
    # Pushed events are signed with the shop's events secret, not an API key: unsigned is 401 for everyone.
    Route("POST", "/v1/orders/events", None, {"id": "e1", "order": {"order_id": "T1001"}}, fixed=401),
    # Urge insights: managers and admins; another shop's events are checked by test_insights_api.
    Route("GET", "/insights", None),
    Route("GET", "/v1/insights/urges?by=sku", MANAGERS),
    Route("GET", "/v1/insights/alerts", MANAGERS),
    Route("GET", "/v1/insights/causes", MANAGERS),
    Route("GET", "/v1/insights/repeats", MANAGERS),
    Route("GET", "/v1/insights/response-times", MANAGERS),
    Route("GET", "/v1/insights/approvals", MANAGERS),
    Route("GET", "/v1/insights/summary", MANAGERS),
    Route("GET", "/v1/insights/export?format=csv", MANAGERS),
    # Tasks (issue 18): every role sees and completes its shop's tasks; compensation is decided by managers.
    Route("GET", "/tasks", None),
    Route("GET", "/v1/tasks?status=all", ALL),
    Route("GET", "/v1/tasks/settings", ALL),
    Route("GET", "/v1/tasks/{task}", ALL, owned=True),
    Route("POST", "/v1/tasks/{task}/done", ALL, {}, owned=True),
    Route("POST", "/v1/tasks/{failed_task}/retry", ALL, owned=True),
    Route("GET", "/v1/approvals?status=all", ALL),
    Route("POST", "/v1/approvals/{approval}/approve", MANAGERS, owned=True),
    Route("POST", "/v1/approvals/{approval}/decline", MANAGERS, {"reason": "超出本周预算"}, owned=True),
    Route("GET", "/v1/compensation/weekly", MANAGERS),
    Route("GET", "/v1/keys", ("admin",)),
    Route("POST", "/v1/keys", ("admin",), {"role": "agent"}),
    Route("DELETE", "/v1/keys/{key}", ("admin",), owned=True),
]


def expected(route: Route, role: str | None, same_shop: bool) -> int:
    if route.fixed is not None:
        return route.fixed
    if route.allowed is None:
        return 200
    if role is None:
        return 401
    if role not in route.allowed:
        return 403
    if route.owned and not same_shop:
        return 404
    if route.method == "POST" and route.path in ("/v1/knowledge/reindex", "/v1/knowledge/import"):
        return 202  # a job is queued
    return 201 if route.method == "POST" and route.path in ("/v1/drafts", "/v1/keys", "/v1/knowledge") else 200


def test_openapi_has_no_route_missing_from_the_matrix(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    listed = {(r.method, r.path.replace("{approved}", "{draft}").replace("{failed_task}", "{task}").split("?")[0])
              for r in ROUTES}
    norm = {"{draft_id}": "{draft}", "{order_id}": "{order}", "{key_id}": "{key}", "{item_id}": "{item}", "{job_id}": "{job}",
            "{task_id}": "{task}", "{approval_id}": "{approval}"}
    for path, ops in spec["paths"].items():
        for k, v in norm.items():
            path = path.replace(k, v)
        for method in ops:
            assert (method.upper(), path) in listed, f"{method.upper()} {path} is not in the access matrix"


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_every_route_role_and_shop(client: TestClient, demo: dict[str, str], container, route: Route) -> None:
    agent = demo["agent"]
    results = []
    for role in ROLES:
        for same_shop in (True, False):
            if role is None and not same_shop:
                continue
            key = None if role is None else (demo[role] if same_shop else demo[f"other-{role}"])
            path = _fill(route.path, client, container, agent)
            headers = auth(key) if key else {}
            call: Callable = getattr(client, route.method.lower())
            kwargs = {"headers": headers}
            if route.body is not None:
                kwargs["json"] = _fill_body(route.body)
            r = call(path, **kwargs)
            results.append((role, same_shop, r.status_code, expected(route, role, same_shop)))
    wrong = [x for x in results if x[2] != x[3]]
    assert wrong == [], f"(role, own shop, got, expected): {wrong}"


def _fill_body(body: dict) -> dict:
    """A fresh id wherever the body asks for one ("{new}"), so every create is a create."""
    import uuid

    return {k: (f"m-{uuid.uuid4().hex[:12]}" if v == "{new}" else v) for k, v in body.items()}


def _fill(path: str, client: TestClient, container, agent_key: str) -> str:
    """A fresh resource of the demo shop for every call (decisions change state)."""
    if "{draft}" in path or "{approved}" in path:
        d = client.post("/v1/drafts", json={"order_id": "T1004", "message": "什么时候发"}, headers=auth(agent_key)).json()
        if "{approved}" in path:
            client.post(f"/v1/drafts/{d['id']}/approve", headers=auth(agent_key))
        path = path.replace("{draft}", d["id"]).replace("{approved}", d["id"])
    if "{task}" in path or "{approval}" in path or "{failed_task}" in path:
        # An overdue order's draft, approved with its priority and coupon: one open task, one pending request.
        d = client.post("/v1/drafts", json={"order_id": "T1003", "message": "怎么还不发货"}, headers=auth(agent_key)).json()
        take = [{"index": i} for i, a in enumerate(d["actions"]) if a["kind"] in ("priority", "coupon")]
        out = client.post(f"/v1/drafts/{d['id']}/approve", json={"actions": take}, headers=auth(agent_key)).json()
        task = out["tasks"][0]["id"]
        if "{failed_task}" in path:  # a task sent to a webhook that failed (retry needs one)
            from core.tables import tasks

            with container.engine.begin() as conn:
                conn.execute(tasks.update().where(tasks.c.id == task).values(executor="webhook", status="failed"))
        path = (path.replace("{task}", task).replace("{failed_task}", task)
                .replace("{approval}", out["approvals"][0]["id"] if "{approval}" in path else ""))
    if "{order}" in path:
        path = path.replace("{order}", "T1001")
    if "{job}" in path:
        path = path.replace("{job}", container.jobs.create("reindex", "demo").id)
    if "{item}" in path:
        path = path.replace("{item}", "ship-time")  # a seeded policy of the demo shop
    if "{key}" in path:
        rec, _ = container.keys.create("demo", "agent", label="to revoke")
        path = path.replace("{key}", rec.id)
    return path
