"""The headless core as a service: an AgentHost and, beside it, the control API.

``chit-agent run --headless`` runs this. The control API is what lets the tray of every
logged-in user, and the CLI, use this one core instead of starting their own: when another
core already answers on the control address, this one does not start (two cores would fight
over the same USB printers and report the same agent twice). When the address cannot be
served (no permission to create /run/chit-agent, say, in a user-level install that did not
configure CHIT_AGENT_CONTROL_SOCKET), the core runs without it and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from agent.control import address, control_group, is_pipe
from agent.control.ops import Operations
from agent.control.peers import AccessPolicy, PeerReader, read_peer
from agent.control.recent import RecentLogs
from agent.control.server import AlreadyServing, ControlServer
from agent.host import AgentHost, Build
from agent.settings import AgentSettings

#: Seconds between two looks at whether the core asked to be restarted (after an update).
EXIT_POLL_SECONDS = 0.5

log = logging.getLogger("chit.agent.control")


async def start_control(
    host: AgentHost, settings: AgentSettings, recent: RecentLogs | None, peer: PeerReader
) -> ControlServer | None:
    """Serve the control API for ``host``; None when it cannot (AlreadyServing passes up)."""
    where = address(settings)
    pipe = is_pipe(where)
    policy = None if pipe else AccessPolicy.for_group(settings.control_group)
    server = ControlServer(Operations(host, recent).table(), policy, peer=peer)
    try:
        if pipe:
            await server.serve_pipe(where, control_group(settings.control_group, where))
        else:
            await server.serve_unix(Path(where), settings.control_group)
    except AlreadyServing:
        raise
    except (OSError, RuntimeError) as exc:
        log.warning("control API off: the tray and CLI cannot use this core",
                    extra={"address": where, "error": str(exc)})  # fmt: skip
        return None
    return server


async def run_service(
    build: Build, settings: AgentSettings, stop: asyncio.Event, *, peer: PeerReader = read_peer
) -> int:
    """Run the core with its control API until ``stop`` is set; 1 if a core already runs."""
    host = AgentHost(build, sync_autostart=False)
    recent = RecentLogs.install()
    try:
        try:
            server = await start_control(host, settings, recent, peer)
        except AlreadyServing as exc:
            log.error("not starting a second agent core", extra={"reason": str(exc)})
            return 1
        await host.launch()
        try:
            return await _serve_until(host, stop)
        finally:
            if server is not None:
                await server.close()
            await host.halt()
    finally:
        recent.uninstall()


async def _serve_until(host: AgentHost, stop: asyncio.Event) -> int:
    """0 at ``stop``; the core's exit code once it asks its service manager for a restart.

    After a self-update switched versions the core stops with RESTART_EXIT_CODE
    (agent.updates); the process must then exit with it so systemd, launchd or the Windows
    service starts the new version.
    """
    while not stop.is_set():
        agent = host.agent
        if agent is not None and agent.exit_code:
            return agent.exit_code
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EXIT_POLL_SECONDS)
    return 0
