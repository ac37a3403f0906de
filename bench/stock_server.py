"""python-socketio as shipped, on aiohttp, doing what bench/node/server.mjs does (for the benches).

Namespace /orders; an HS256 token in ``auth.token`` (PyJWT); clients join
``company:<companyId>``; ``POST /broadcast {room, event, payload, count}`` emits ``count``
events to the room. Every library default kept (so websocket compression is on, as the
aiohttp driver makes it). Loopback only. Usage: python -m bench.stock_server PORT SECRET
"""

from __future__ import annotations

import sys
from typing import Any

import jwt
import socketio
from aiohttp import web


def build(secret: str) -> web.Application:
    """The aiohttp app with python-socketio attached."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.on("connect", namespace="/orders")
    async def connect(sid: str, environ: Any, auth: Any) -> bool:
        try:
            claims = jwt.decode((auth or {}).get("token", ""), secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return False
        await sio.enter_room(sid, f"company:{claims['companyId']}", namespace="/orders")
        return True

    async def broadcast(request: web.Request) -> web.Response:
        body = await request.json()
        for i in range(body["count"]):
            payload = {**body["payload"], "seq": i}
            await sio.emit(body["event"], payload, room=body["room"], namespace="/orders")
        return web.json_response({"ok": True}, status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_post("/broadcast", broadcast)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    web.run_app(build(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None)
