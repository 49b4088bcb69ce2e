"""``/docs``: Swagger UI from the ``fastapi-offline`` package's files, never a CDN (these machines are offline).

FastAPI's own ``/docs`` loads Swagger UI's script and style from a CDN and shows a blank page without the
internet; here the same page loads them from ``/docs/assets/``, files shipped inside a Python package.
(``swagger-ui-bundle`` was tried first: it ships Swagger UI 4, which cannot render FastAPI's OpenAPI 3.1.)
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
           "favicon.png": "image/png"}
_NAME = re.compile(r"^[a-z0-9-]+\.(js|css|png)$")


def _assets_dir() -> Path:
    import fastapi_offline  # imported on use: nothing is read at import time

    return Path(fastapi_offline.__file__).resolve().parent / "static"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} · API",
        swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js", swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/assets/favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect")


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/docs/assets/{name}")
def swagger_asset(name: str) -> FileResponse:
    if name not in _ASSETS or not _NAME.fullmatch(name):
        raise HTTPException(404, f"no docs asset {name!r}")
    return FileResponse(_assets_dir() / name, media_type=_ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
