"""The pages and their files (api/routes/pages.py): served under a strict CSP, nothing else reachable, one
frame (common.js) for both pages, and the order-facts renderer the review page shares with the extension."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import pages
from api.routes.pages import EXTENSION_DIR, STATIC_DIR
from drafter.review import RejectReason


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(pages.router)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("page,own", [("review", "review"), ("kb", "kb"), ("insights", "insights")])
def test_a_page_and_its_files_are_served_and_nothing_else(client: TestClient, page: str, own: str) -> None:
    r = client.get(f"/{page}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    for name, media in ((f"{own}.js", "text/javascript"), (f"{own}.css", "text/css"),
                        ("common.js", "text/javascript"), ("base.css", "text/css")):
        f = client.get(f"/static/{name}")
        assert f.status_code == 200 and f.headers["content-type"].startswith(media), name
        assert f"/static/{name}" in r.text
    assert "style=" not in r.text and "<script>" not in r.text  # nothing inline: the CSP forbids it
    for bad in ("..%2Froutes%2Fpages.py", "nope.js", "review", "..%2F..%2Fpyproject.toml"):
        assert client.get(f"/static/{bad}").status_code == 404, bad


@pytest.mark.parametrize("page,title", [("review", "Review queue"), ("kb", "Knowledge base"),
                                        ("insights", "Urge insights")])
def test_both_pages_take_their_frame_and_notices_from_common_js(client: TestClient, page: str, title: str) -> None:
    html = client.get(f"/{page}").text
    assert f'<header class="topbar" data-title="{title}"' in html
    assert 'id="key-dialog"' not in html and 'class="brand"' not in html  # built by common.js
    script = client.get(f"/static/{page}.js").text
    for own_copy in ("function notify(", "function setConn(", "function keySubmit("):
        assert own_copy not in script
    common = client.get("/static/common.js").text
    assert "function notify(" in common and "function buildFrame(" in common and "function wireKey(" in common


def test_the_charting_library_is_vendored_with_its_licence(client: TestClient) -> None:
    """Chart.js comes from npm (no CDN: the pages work offline) and keeps its licence beside it."""
    r = client.get("/static/vendor/chart.umd.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.text.startswith("/*!\n * Chart.js v4.") and "Released under the MIT License" in r.text[:300]
    assert "MIT License" in (STATIC_DIR / "vendor" / "chart.js.LICENSE.md").read_text()
    assert '<script src="/static/vendor/chart.umd.js" defer></script>' in client.get("/insights").text
    for bad in ("README.md", "chart.js.LICENSE.md", "..%2Fkb.js", "nope.js"):
        assert client.get(f"/static/vendor/{bad}").status_code == 404, bad


def test_the_review_page_renders_facts_with_the_extensions_file(client: TestClient) -> None:
    assert not (STATIC_DIR / "order_facts.js").exists()  # one file, kept in the (self-contained) extension
    r = client.get("/static/order_facts.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.content == (EXTENSION_DIR / "order_facts.js").read_bytes()
    assert 'import { fillFacts } from "/static/order_facts.js";' in client.get("/static/review.js").text
    assert 'type="module"' in client.get("/review").text
    assert 'export { fillFacts } from "./order_facts.js";' in (EXTENSION_DIR / "render.js").read_text()
    # Only the files named as shared come from the extension: the rest of it is not served.
    for other in ("render.js", "sidepanel.js", "manifest.json"):
        assert client.get(f"/static/{other}").status_code == 404, other


def test_the_reject_reasons_of_the_page_and_the_extension_are_the_apis() -> None:
    # Both surfaces list them in their own HTML (the extension must stay self-contained): they must not drift.
    api = set(typing.get_args(RejectReason))
    for path in (STATIC_DIR / "review.html", EXTENSION_DIR / "sidepanel.html"):
        select = re.search(r'<select id="reject-reason"[^>]*>(.*?)</select>', path.read_text(encoding="utf-8"), re.S)
        assert select is not None, path
        assert set(re.findall(r'<option value="([a-z_]+)"', select.group(1))) == api, path
