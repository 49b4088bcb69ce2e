"""The browser pages (the review queue) and the static files they load.

Pages need no key to load: they ask the user for one and call the JSON API with it (DESIGN,
"Who may call what"). Everything is a local file — the machines this runs on have no internet,
so there is no CDN and no build step.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# Files of the browser extension that the pages use too. The extension must stay self-contained (it is
# loaded unpacked), so the file lives there; a source checkout serves it from extension/, and a wheel
# carries it in static/ (pyproject.toml: force-include).
SHARED_WITH_EXTENSION = frozenset({"order_facts.js", "i18n.js"})
EXTENSION_DIR = Path(__file__).resolve().parents[2] / "extension"

# A page shows text written by buyers (untrusted, sometimes a prompt injection). The scripts only ever
# set textContent, and this policy is the second line: no inline or foreign script, no foreign fetches.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Pages and their files change with every deploy and are tiny: revalidate rather than serve stale JS.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = {**_HEADERS, "Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"}

# One flat directory of plain file names: nothing like "../" can reach outside it.
_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$")
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".ico": "image/x-icon"}

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.api_route("/review", methods=["GET", "HEAD"])
def review_page() -> FileResponse:
    """The agents' review queue: approve, edit or reject pending drafts."""
    return FileResponse(STATIC_DIR / "review.html", media_type=_MEDIA[".html"], headers=_PAGE_HEADERS)


@router.api_route("/kb", methods=["GET", "HEAD"])
def kb_page() -> FileResponse:
    """The managers' knowledge base: policies, notices and their revisions, retrieval preview, shop settings."""
    return FileResponse(STATIC_DIR / "kb.html", media_type=_MEDIA[".html"], headers=_PAGE_HEADERS)


@router.api_route("/insights", methods=["GET", "HEAD"])
def insights_page() -> FileResponse:
    """The managers' urge insights: the urge curve with its surges, breakdowns, alerts, response times."""
    return FileResponse(STATIC_DIR / "insights.html", media_type=_MEDIA[".html"], headers=_PAGE_HEADERS)


@router.api_route("/static/vendor/{name}", methods=["GET", "HEAD"])
def vendor_file(name: str) -> FileResponse:
    """Third-party browser libraries, vendored from npm with their licences (no CDN: these machines are offline)."""
    path = STATIC_DIR / "vendor" / name
    if not _NAME.fullmatch(name) or path.suffix not in _MEDIA or not path.is_file():
        raise HTTPException(404, f"no vendored file {name!r}")
    return FileResponse(path, media_type=_MEDIA[path.suffix], headers=_HEADERS)


@router.api_route("/tasks", methods=["GET", "HEAD"])
def tasks_page() -> FileResponse:
    """The warehouse's list (zh): open handoffs by age with the order facts; mark one done."""
    return FileResponse(STATIC_DIR / "tasks.html", media_type=_MEDIA[".html"], headers=_PAGE_HEADERS)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def static_file(name: str) -> FileResponse:
    # A plain route rather than a StaticFiles mount: FastAPI's include_router drops mounts, and this
    # keeps the app wiring to one include_router call.
    path = STATIC_DIR / name
    if name in SHARED_WITH_EXTENSION and not path.is_file():
        path = EXTENSION_DIR / name
    if not _NAME.fullmatch(name) or path.suffix not in _MEDIA or not path.is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, media_type=_MEDIA[path.suffix], headers=_HEADERS)
