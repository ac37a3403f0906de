"""Serve a hub on a real socket: inside an existing event loop (tests, benchmarks, the demo)
or as the process's main loop until a signal (the command line).

The listening socket gets hub.limits' protocol factory rather than aiohttp's own, so every
connection has a header deadline, counts against its address's cap and gets JSON errors.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass

from aiohttp import web

from hub.app import GATE_KEY, build_app
from hub.context import CTX_KEY, HubContext
from hub.limits import GuardedFactory
from hub.settings import Settings

log = logging.getLogger("chit.hub")
#: Seconds in-flight requests get to finish when a served hub stops (tests use less).
SHUTDOWN_TIMEOUT = 10.0


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
    """Start the hub on settings.host:settings.port (port 0 picks a free one)."""
    app = await build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    assert runner.server is not None
    factory = GuardedFactory(runner.server, app[GATE_KEY])
    try:
        listener = await asyncio.get_running_loop().create_server(
            factory,
            settings.host,
            settings.port,
            reuse_address=True,
            reuse_port=reuse_port or None,
            backlog=1024,
        )
    except BaseException:
        await runner.cleanup()
        raise
    sockname = listener.sockets[0].getsockname()
    host = f"[{sockname[0]}]" if listener.sockets[0].family == socket.AF_INET6 else sockname[0]
    return RunningHub(runner, listener, f"http://{host}:{sockname[1]}", app[CTX_KEY])


async def serve(settings: Settings, reuse_port: bool = False) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly (the command line's loop)."""
    hub = await start_hub(settings, reuse_port, SHUTDOWN_TIMEOUT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping", extra={"instance": hub.ctx.instance_id})
        await hub.stop()
