"""Run a hub inside an existing event loop (tests, benchmarks, the demo).

The command line serves through :func:`hub.startup.serve`; both listen through
:func:`hub.startup.bind`, so hub.limits' connection limits apply everywhere.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from hub.app import build_app
from hub.context import CTX_KEY, HubContext
from hub.settings import Settings
from hub.startup import bind


@dataclass
class RunningHub:
    """A hub serving on a real socket until :meth:`stop`."""

    runner: web.AppRunner
    listener: asyncio.Server
    url: str
    ctx: HubContext

    async def stop(self) -> None:
        """Stop listening, then close every connection and the application."""
        self.listener.close()
        await self.runner.cleanup()


async def start_hub(
    settings: Settings, reuse_port: bool = False, shutdown_timeout: float = 2.0
) -> RunningHub:
    """Start the hub on settings.host:settings.port (port 0 picks a free one).

    A port that cannot be bound raises :class:`hub.startup.StartupError` (nothing is left open).
    """
    app = await build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        url, listener = await bind(runner, settings.host, settings.port, reuse_port=reuse_port)
    except BaseException:
        await runner.cleanup()
        raise
    return RunningHub(runner, listener, url, app[CTX_KEY])
