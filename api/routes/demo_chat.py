"""A demo customer-service chat page to try the browser extension on: ``GET /demo/chat``.

It looks like a Taobao/Qianniu web chat (conversations, a buyer urging shipment, the order card, an
input box and a send button) but is only a static page: it calls no API and needs no key. Its files
(``demo_chat.js``, ``demo_chat.css``) are served by ``api.routes.pages`` under ``/static/``. The
extension ships an adapter for it (``extension/adapters.js``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.routes.pages import STATIC_DIR

# The same policy as the other pages: no inline or foreign script, and this page fetches nothing at all.
# (Content scripts of an extension are not bound by a page's CSP, so the extension still works here.)
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": _CSP,
            "Referrer-Policy": "no-referrer"}

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.api_route("/demo/chat", methods=["GET", "HEAD"])
def demo_chat_page() -> FileResponse:
    """A pretend shop chat with buyers asking where their orders are (demo orders T1001..T1014)."""
    return FileResponse(STATIC_DIR / "demo_chat.html", media_type="text/html; charset=utf-8", headers=_HEADERS)
