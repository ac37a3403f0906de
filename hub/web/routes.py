"""Serve the web UI: ``/`` is the single page, ``/static/...`` its scripts, styles and vendor files.

Files come from the installed package (hub/web/static), so a pip-installed hub serves the UI
without npm. Paths are resolved and must stay inside the static directory.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The page must always be fresh; assets may be cached briefly but are revalidated.
#: Only our own scripts, styles and sockets: an injected script or a framing page gets nothing.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_NO_STORE = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": _PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_REVALIDATE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.FileResponse:
    """The single page of the UI."""
    return web.FileResponse(STATIC_DIR / "index.html", headers=_NO_STORE)


@routes.get("/static/{path:.+}")
async def static(request: web.Request) -> web.FileResponse:
    """A file under hub/web/static (404 for anything else, including ``..`` tricks)."""
    target = (STATIC_DIR / request.match_info["path"]).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        raise web.HTTPNotFound(reason="no such file")
    return web.FileResponse(target, headers=_REVALIDATE)
