"""Serve the web UI: ``/`` is the single page, ``/static/...`` its scripts, styles and vendor files.

Files come from the installed package (hub/web/static), so a pip-installed hub serves the UI
without npm. Paths are resolved and must stay inside the static directory.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The page must always be fresh; assets may be cached briefly but are revalidated.
_NO_STORE = {"Cache-Control": "no-store"}
_REVALIDATE = {"Cache-Control": "no-cache"}

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
