"""Run a hub inside an existing event loop (tests, benchmarks, the demo)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hub.app import build_app
from hub.context import CTX_KEY, HubContext
from hub.settings import Settings


@dataclass
class RunningHub:
    """A hub serving on a real socket until :meth:`stop`."""

    runner: web.AppRunner
    url: str
    ctx: HubContext

    async def stop(self) -> None:
        """Close every connection and the listening socket."""
        await self.runner.cleanup()


async def start_hub(settings: Settings) -> RunningHub:
    """Start the hub on settings.host:settings.port (port 0 picks a free one)."""
    app = await build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    sockets = getattr(site._server, "sockets", None)
    assert sockets, "the site did not open a listening socket"
    host, port = sockets[0].getsockname()[:2]
    return RunningHub(runner, f"http://{host}:{port}", app[CTX_KEY])
