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
  :class:`agent.host.AgentHost` does it, the same code the headless service runs.

When the core runs as a system service, the tray uses :class:`agent.tray.remote.RemoteCore`
instead: the same interface on the same kind of thread, talking to the service's control API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agent.host import STOP_TIMEOUT, AgentHost, Build
from agent.pairing import Paired
from agent.service import Agent
from agent.tray.snapshot import CoreSnapshot
from shared.events import PrinterActionResult, PrinterTestResult

log = logging.getLogger("chit.agent.tray")

T = TypeVar("T")
#: Seconds the loop thread gets to come up.
START_TIMEOUT = 10.0


class CoreThread:
    """An asyncio loop on a worker thread: what the UI thread submits coroutines to."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start_loop(self) -> None:
        """Start the loop thread (bounded wait for it to come up)."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="chit-agent-core", daemon=True
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError("the agent core thread did not start")

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the core loop; never blocks the caller."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the agent core is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def stop_loop(self, last: Coroutine[Any, Any, None], timeout: float = STOP_TIMEOUT) -> None:
        """Run ``last`` (bounded), then stop the loop and its thread."""
        if self._loop is None or self._thread is None:
            last.close()
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            self.submit(last).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop = None

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


class AgentCore(CoreThread):
    """Owns the core thread and an :class:`AgentHost` running the Agent in-process."""

    #: Shown by the tray: the core runs inside the tray (no service on this PC).
    mode = "in-process"

    def __init__(self, build: Build, publish: Callable[[CoreSnapshot], None]) -> None:
        """``build`` makes a fresh Agent (and says whether it has a token) from the settings."""
        super().__init__()
        self._publish = publish
        self.host = AgentHost(build, self._changed)

    @property
    def agent(self) -> Agent | None:
        """The running Agent (None while restarting)."""
        return self.host.agent

    def start(self) -> None:
        """Start the loop thread and the first agent."""
        self.start_loop()
        self.submit(self.host.launch())

    def restart(self) -> concurrent.futures.Future[None]:
        """Stop the agent and start a new one from the current settings."""
        return self.submit(self.host.restart())

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the agent, then the loop and its thread (bounded: Quit must not hang)."""
        self.stop_loop(self.host.halt(), timeout)

    def snapshot(self) -> CoreSnapshot:
        """The current state (call on the core thread)."""
        agent = self.host.agent
        if agent is None:
            return CoreSnapshot(agent_id="", hub_url=None, paired=False)
        link = agent.link
        return CoreSnapshot(
            agent_id=agent.agent_id,
            hub_url=agent.settings.hub_url,
            paired=self.host.paired,
            link_state=str(link.state) if link is not None else None,
            link_detail=link.detail if link is not None else None,
            printers=tuple(agent.printers()),
            settings=agent.settings,
        )

    # --- what the menu and dialogs ask for (coroutines for :meth:`submit`) -------------------

    async def test_print(self, printer_id: str) -> PrinterTestResult:
        """Print a test page with a fresh correlation id."""
        return await self.host.test_print(printer_id)

    async def open_drawer(self, printer_id: str) -> PrinterActionResult:
        """Open the printer's cash drawer (pin 2)."""
        return await self.host.open_drawer(printer_id)

    async def buzz(self, printer_id: str) -> PrinterActionResult:
        """Sound the printer's buzzer once."""
        return await self.host.buzz(printer_id)

    async def scan(self) -> int:
        """Run discovery now; how many printers the agent knows afterwards."""
        await self.host.scan()
        return len(self.host.require().coordinators)

    async def pair(self, hub_url: str, code: str) -> Paired:
        """Redeem a pairing code, store the token and hub URL, restart on them."""
        return await self.host.pair(hub_url, code)

    async def apply(self, changes: dict[str, Any]) -> bool:
        """Save changed settings and sync start-at-login; restart when the core needs it."""
        return await self.host.apply(changes)

    def _changed(self) -> None:
        try:
            self._publish(self.snapshot())
        except Exception:
            log.exception("publishing the agent state failed")
