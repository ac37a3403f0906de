"""One running Agent at a time, restarted on new settings: what every face of the core drives.

The headless service (with its control API) and the tray's in-process core both need the same
things done to the agent: print a test page, open a drawer, scan, pair (and restart on the new
token), save settings (and restart when the core was built from them). This is that one place;
it runs in the caller's asyncio loop and owns no thread.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from agent import autostart
from agent import settings as store
from agent.pairing import Paired, redeem
from agent.scanner import ScanReport
from agent.service import Agent
from agent.settings import AgentSettings
from shared.events import (
    PrinterActionResult,
    PrinterBuzzRequest,
    PrinterDrawerRequest,
    PrinterTestRequest,
    PrinterTestResult,
)

log = logging.getLogger("chit.agent.host")

Build = Callable[[], tuple[Agent, bool]]
#: Seconds an agent gets to stop before the restart or quit goes on without it.
STOP_TIMEOUT = 10.0
#: Settings the running agent was built from; changing one restarts it.
RESTART_FIELDS = ("hub_url", "manual_printers", "subnets", "mdns", "usb", "queues", "printer_paths")


class NotReady(RuntimeError):
    """The agent is restarting (or stopped): nothing can be asked of it right now."""


class AgentHost:
    """Starts, stops and restarts the Agent; runs what the faces ask of it."""

    def __init__(
        self,
        build: Build,
        on_change: Callable[[], None] = lambda: None,
        *,
        sync_autostart: bool = True,
    ) -> None:
        """``build`` makes a fresh Agent (and says whether it has a token) from the settings."""
        self._build = build
        self._on_change = on_change
        self._sync_autostart = sync_autostart
        self._task: asyncio.Task[None] | None = None
        self.paired = False
        self.agent: Agent | None = None

    @property
    def running(self) -> bool:
        """Whether an agent's run loop is going."""
        return self._task is not None and not self._task.done()

    async def launch(self) -> None:
        """Build an agent from the current settings and start its run loop."""
        agent, self.paired = self._build()
        agent.listen(self._on_change)
        if agent.link is not None:
            agent.link.listen(lambda state, detail: self._on_change())
        self.agent = agent
        self._task = asyncio.create_task(self._run(agent))
        self._on_change()

    async def _run(self, agent: Agent) -> None:
        try:
            await agent.run()
        except Exception:
            log.exception("the agent core stopped with an error")

    async def halt(self) -> None:
        """Stop the agent (bounded) and wait for its run loop to end."""
        agent, task = self.agent, self._task
        if agent is None or task is None:
            return
        await agent.stop()
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT)
        except TimeoutError:
            log.warning("the agent did not stop in time; abandoning it")
        self.agent, self._task = None, None

    async def restart(self) -> None:
        """Stop the agent and start a new one from the current settings."""
        await self.halt()
        await self.launch()

    async def wait(self) -> None:
        """Until the current agent's run loop ends."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def require(self) -> Agent:
        """The running agent, or NotReady."""
        if self.agent is None:
            raise NotReady("the agent is restarting; try again in a moment")
        return self.agent

    # --- what the faces ask for --------------------------------------------------------------

    async def test_print(self, printer_id: str) -> PrinterTestResult:
        """Print a test page with a fresh correlation id."""
        request = PrinterTestRequest(correlation_id=str(uuid.uuid4()), printer_id=printer_id)
        return await self.require().test_print(request)

    async def open_drawer(self, printer_id: str, requested_by: str = "tray") -> PrinterActionResult:
        """Open the printer's cash drawer (pin 2) with a fresh correlation id."""
        request = PrinterDrawerRequest(
            correlation_id=str(uuid.uuid4()), printer_id=printer_id, requested_by=requested_by
        )
        return await self.require().actions.run(request)

    async def buzz(self, printer_id: str, requested_by: str = "tray") -> PrinterActionResult:
        """Sound the printer's buzzer once."""
        request = PrinterBuzzRequest(
            correlation_id=str(uuid.uuid4()), printer_id=printer_id, requested_by=requested_by
        )
        return await self.require().actions.run(request)

    async def scan(self) -> ScanReport:
        """Run discovery now."""
        return await self.require().scan()

    async def pair(self, hub_url: str, code: str) -> Paired:
        """Redeem a pairing code, store the token and hub URL, restart on them."""
        settings = await asyncio.to_thread(store.load)
        paired = await redeem(hub_url, code, settings.agent_id, settings.hostname)
        # The hub may rename the agent: keep the id the token is for.
        await asyncio.to_thread(store_pairing, paired.agent_id, paired.token, hub_url)
        await self.restart()
        return paired

    async def apply(self, changes: dict[str, Any]) -> bool:
        """Save changed settings; restart when the core needs it (returns whether it did)."""
        old, new = await asyncio.to_thread(save_changes, changes, self._sync_autostart)
        needs_restart = any(getattr(old, k) != getattr(new, k) for k in RESTART_FIELDS)
        if needs_restart:
            await self.restart()
        else:
            self._on_change()
        return needs_restart


def store_pairing(agent_id: str, token: str, hub_url: str) -> None:
    """Keep the device token and the hub it is for (environment overrides stay out)."""
    store.write_token(token)
    store.update({"hub_url": hub_url, "agent_id": agent_id})


def save_changes(
    changes: dict[str, Any], sync_autostart: bool = True
) -> tuple[AgentSettings, AgentSettings]:
    """Apply changes to the stored settings; returns the settings in effect (before, after)."""
    old = store.load()
    store.update(changes)
    new = store.load()
    if sync_autostart and (
        old.start_at_login != new.start_at_login or new.start_at_login != autostart.is_enabled()
    ):
        autostart.set_enabled(new.start_at_login)
    return old, new
