"""Run a hub inside an existing event loop (tests, benchmarks, the demo)."""

from __future__ import annotations

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
    url: str
    ctx: HubContext

    async def stop(self) -> None:
        """Close every connection and the listening socket."""
        await self.runner.cleanup()


async def start_hub(settings: Settings) -> RunningHub:
    """Start the hub on settings.host:settings.port (port 0 picks a free one).

    A port that cannot be bound raises :class:`hub.startup.StartupError` (nothing is left open).
    """
    app = await build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        url = await bind(runner, settings.host, settings.port)
    except BaseException:
        await runner.cleanup()
        raise
    return RunningHub(runner, url, app[CTX_KEY])
