"""Run the headless agent core on a worker thread with its own asyncio loop (no Qt).

Theory of operation. The agent core is asyncio (aiohttp, python-socketio, asyncio streams to
printers); the tray is Qt. We keep them on separate threads instead of running asyncio on Qt's
loop with PySide6.QtAsyncio: QtAsyncio is still a technical preview whose loop lacks pieces
the core relies on (low-level socket calls used by aiohttp and asyncio streams), while a
plain asyncio loop on a thread is exactly the loop ``chit-agent run --headless`` uses, so the
tray runs the very same core, tested the same way. The rules:

* The UI thread never awaits anything. It hands work to the core with :meth:`AgentCore.submit`
  (``asyncio.run_coroutine_threadsafe``) and gets a ``concurrent.futures.Future`` whose done
  callbacks run on the core thread.
* The core thread never touches a widget. Everything it tells the UI goes through the
  ``publish`` callback, which the Qt bridge turns into a queued signal.
* A restart (new settings, after pairing) happens inside the core loop: stop the running
  agent, wait for its ``run()`` to end (bounded), build a new one, start it. The UI just asks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agent import autostart
from agent import settings as store
from agent.link import LinkState
from agent.pairing import Paired, redeem
from agent.service import Agent
from agent.settings import AgentSettings
from agent.tray.snapshot import CoreSnapshot
from shared.events import (
    PrinterActionResult,
    PrinterBuzzRequest,
    PrinterDrawerRequest,
    PrinterTestRequest,
    PrinterTestResult,
)

log = logging.getLogger("chit.agent.tray")

T = TypeVar("T")
#: Seconds an agent gets to stop before the restart or quit goes on without it.
STOP_TIMEOUT = 10.0
#: Seconds the loop thread gets to come up.
START_TIMEOUT = 10.0
#: Settings the running agent was built from; changing one restarts it.
RESTART_FIELDS = ("hub_url", "manual_printers", "subnets", "mdns", "usb")


class AgentCore:
    """Owns the core thread, its loop and the running Agent; the tray's only way in."""

    def __init__(
        self,
        build: Callable[[], tuple[Agent, bool]],
        publish: Callable[[CoreSnapshot], None],
    ) -> None:
        """``build`` makes a fresh Agent (and says whether it has a token) from the settings."""
        self._build = build
        self._publish = publish
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._paired = False
        self.agent: Agent | None = None

    def start(self) -> None:
        """Start the loop thread and the first agent."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="chit-agent-core", daemon=True
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError("the agent core thread did not start")
        self.submit(self._launch())

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the core loop; never blocks the caller."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the agent core is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def restart(self) -> concurrent.futures.Future[None]:
        """Stop the agent and start a new one from the current settings."""
        return self.submit(self._restart())

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the agent, then the loop and its thread (bounded: Quit must not hang)."""
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            self.submit(self._halt()).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop = None

    def snapshot(self) -> CoreSnapshot:
        """The current state (call on the core thread)."""
        agent = self.agent
        if agent is None:
            return CoreSnapshot(agent_id="", hub_url=None, paired=False)
        link = agent.link
        return CoreSnapshot(
            agent_id=agent.agent_id,
            hub_url=agent.settings.hub_url,
            paired=self._paired,
            link_state=str(link.state) if link is not None else None,
            link_detail=link.detail if link is not None else None,
            printers=tuple(agent.printers()),
            settings=agent.settings,
        )

    # --- what the menu and dialogs ask for (coroutines for :meth:`submit`) -------------------

    async def test_print(self, printer_id: str) -> PrinterTestResult:
        """Print a test page with a fresh correlation id."""
        request = PrinterTestRequest(correlation_id=str(uuid.uuid4()), printer_id=printer_id)
        return await self._require().test_print(request)

    async def open_drawer(self, printer_id: str) -> PrinterActionResult:
        """Open the printer's cash drawer (pin 2) with a fresh correlation id."""
        request = PrinterDrawerRequest(
            correlation_id=str(uuid.uuid4()), printer_id=printer_id, requested_by="tray"
        )
        return await self._require().actions.run(request)

    async def buzz(self, printer_id: str) -> PrinterActionResult:
        """Sound the printer's buzzer once."""
        request = PrinterBuzzRequest(
            correlation_id=str(uuid.uuid4()), printer_id=printer_id, requested_by="tray"
        )
        return await self._require().actions.run(request)

    async def scan(self) -> int:
        """Run discovery now; how many printers the agent knows afterwards."""
        agent = self._require()
        await agent.scan()
        return len(agent.coordinators)

    async def pair(self, hub_url: str, code: str) -> Paired:
        """Redeem a pairing code, store the token and hub URL, restart on them."""
        settings = await asyncio.to_thread(store.load)
        paired = await redeem(hub_url, code, settings.agent_id, settings.hostname)
        # The hub may rename the agent: keep the id the token is for.
        await asyncio.to_thread(_store_pairing, paired.agent_id, paired.token, hub_url)
        await self._restart()
        return paired

    async def apply(self, changes: dict[str, Any]) -> bool:
        """Save changed settings and sync start-at-login; restart when the core needs it."""
        old, new = await asyncio.to_thread(_save_changes, changes)
        needs_restart = any(getattr(old, k) != getattr(new, k) for k in RESTART_FIELDS)
        if needs_restart:
            await self._restart()
        else:
            self._changed()
        return needs_restart

    def _require(self) -> Agent:
        if self.agent is None:
            raise RuntimeError("the agent is restarting; try again in a moment")
        return self.agent

    # --- on the core thread -----------------------------------------------------------------

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _launch(self) -> None:
        agent, self._paired = self._build()
        agent.listen(self._changed)
        if agent.link is not None:
            agent.link.listen(self._link_changed)
        self.agent = agent
        self._task = asyncio.create_task(self._run(agent))
        self._changed()

    async def _run(self, agent: Agent) -> None:
        try:
            await agent.run()
        except Exception:
            log.exception("the agent core stopped with an error")

    async def _halt(self) -> None:
        agent, task = self.agent, self._task
        if agent is None or task is None:
            return
        await agent.stop()
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT)
        except TimeoutError:
            log.warning("the agent did not stop in time; abandoning it")
        self.agent, self._task = None, None

    async def _restart(self) -> None:
        await self._halt()
        await self._launch()

    def _link_changed(self, state: LinkState, detail: str | None) -> None:
        self._changed()

    def _changed(self) -> None:
        try:
            self._publish(self.snapshot())
        except Exception:
            log.exception("publishing the agent state failed")


def _store_pairing(agent_id: str, token: str, hub_url: str) -> None:
    """Keep the device token and the hub it is for (environment overrides stay out)."""
    store.write_token(token)
    store.update({"hub_url": hub_url, "agent_id": agent_id})


def _save_changes(changes: dict[str, Any]) -> tuple[AgentSettings, AgentSettings]:
    """Apply changes to the stored settings; returns the settings in effect (before, after)."""
    old = store.load()
    store.update(changes)
    new = store.load()
    if old.start_at_login != new.start_at_login or new.start_at_login != autostart.is_enabled():
        autostart.set_enabled(new.start_at_login)
    return old, new
