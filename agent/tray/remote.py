"""The tray over the agent service: the same face as AgentCore, the core in another process.

When the core runs as a system service, each logged-in user's tray must not start a second
one; it drives the service through the control API (:mod:`agent.control`) instead. This
module has AgentCore's interface (``start``, ``submit``, ``shutdown``, and the coroutines the
menu asks for), on the same kind of worker-thread loop, so the tray itself does not know which
it has. It polls ``status`` every :data:`POLL_SECONDS` and publishes a CoreSnapshot when
anything changed; while the service does not answer (or will not serve this user) the
snapshot says so, and the tray shows it rather than starting a core of its own.

Which settings a tray may change through the service is the service's rule (ops.WRITABLE);
start-at-login is this user's own (their tray's autostart entry) and stays here. The hub
changes only by pairing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from agent import autostart
from agent.control.client import (
    ControlClient,
    ControlError,
    ServiceNotRunning,
    ServiceRefused,
)
from agent.host import STOP_TIMEOUT
from agent.pairing import Paired
from agent.settings import AgentSettings
from agent.tray.core import CoreThread
from agent.tray.snapshot import CoreSnapshot
from shared.events import PrinterActionResult, PrinterTestResult
from shared.printers import PrinterInfo

log = logging.getLogger("chit.agent.tray")

POLL_SECONDS = 1.0
#: What a call to the service raises when it cannot be used right now.
UNAVAILABLE = (ServiceNotRunning, ServiceRefused, ControlError, OSError, TimeoutError)
#: The settings the tray's dialog sends that the service takes (the rest are handled here).
SERVICE_FIELDS = ("manual_printers", "subnets")


def settings_from(view: dict[str, Any] | None) -> AgentSettings | None:
    """AgentSettings from the service's JSON view of them (unknown keys ignored)."""
    if not view:
        return None
    names = {f.name for f in fields(AgentSettings)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in view.items() if k in names
    }
    return AgentSettings(**values)


def snapshot_from(status: dict[str, Any], address: str) -> CoreSnapshot:
    """What the tray shows, from the service's ``status`` answer."""
    link = status.get("link") or {}
    settings = settings_from(status.get("settings"))
    if settings is not None:
        settings = settings.with_changes(start_at_login=autostart.is_enabled())
    return CoreSnapshot(
        agent_id=status.get("agentId") or "",
        hub_url=status.get("hubUrl"),
        paired=bool(status.get("paired")),
        link_state=link.get("state"),
        link_detail=link.get("detail"),
        printers=tuple(PrinterInfo.model_validate(p) for p in status.get("printers", [])),
        settings=settings,
        service=address,
    )


class RemoteCore(CoreThread):
    """Drives the agent service's core over the control API from the tray's worker loop."""

    #: Shown by the tray: the core is the system service.
    mode = "service"

    def __init__(
        self,
        address: str,
        publish: Callable[[CoreSnapshot], None],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.address = address
        self._publish = publish
        self._poll = poll_seconds
        self._stop: asyncio.Event | None = None
        self._last: CoreSnapshot | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop thread and the status watch."""
        self.start_loop()
        self.submit(self._begin())

    def restart(self) -> concurrent.futures.Future[None]:
        """The service restarts its own core; here, just look again now."""
        return self.submit(self._refresh_once())

    def shutdown(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop watching, then the loop and its thread (the service keeps running)."""
        self.stop_loop(self._end(), timeout)

    # --- watching ----------------------------------------------------------------------------

    async def _begin(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._watch(self._stop))

    async def _end(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, STOP_TIMEOUT)

    async def _watch(self, stop: asyncio.Event) -> None:
        client: ControlClient | None = None
        while not stop.is_set():
            try:
                client = client or await ControlClient(self.address).connect()
                self._show(snapshot_from(await client.call("status", timeout=5.0), self.address))
            except UNAVAILABLE as exc:
                if client is not None:
                    await client.close()
                client = None
                self._show(self._unavailable(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll)
        if client is not None:
            await client.close()

    async def _refresh_once(self) -> None:
        async with ControlClient(self.address) as client:
            self._show(snapshot_from(await client.call("status", timeout=5.0), self.address))

    def _unavailable(self, exc: Exception) -> CoreSnapshot:
        if isinstance(exc, ServiceRefused):
            reason = "this user may not use it (not in the agent's group)"
        elif isinstance(exc, ServiceNotRunning):
            reason = "it is not running"
        elif isinstance(exc, ConnectionError):
            reason = "it stopped answering"
        else:
            reason = str(exc) or type(exc).__name__
        last = self._last
        return CoreSnapshot(
            agent_id=last.agent_id if last else "",
            hub_url=last.hub_url if last else None,
            paired=last.paired if last else False,
            service=self.address,
            service_error=reason,
        )

    def _show(self, snapshot: CoreSnapshot) -> None:
        if snapshot == self._last:
            return
        self._last = snapshot
        try:
            self._publish(snapshot)
        except Exception:
            log.exception("publishing the agent state failed")

    # --- what the menu and dialogs ask for (coroutines for :meth:`submit`) -------------------

    async def _call(self, op: str, params: dict[str, Any] | None = None) -> Any:
        """One operation on its own connection (a long test print never stalls the watch)."""
        try:
            async with ControlClient(self.address) as client:
                result = await client.call(op, params)
        except ControlError as exc:
            raise RuntimeError(exc.message) from None
        await self._refresh_soon()
        return result

    async def _refresh_soon(self) -> None:
        # A failure here is the watch's to report.
        with contextlib.suppress(*UNAVAILABLE):
            await self._refresh_once()

    async def test_print(self, printer_id: str) -> PrinterTestResult:
        """Print a test page through the service."""
        result = await self._call("test_print", {"printer": printer_id})
        return PrinterTestResult.model_validate(result)

    async def open_drawer(self, printer_id: str) -> PrinterActionResult:
        """Open the printer's cash drawer through the service."""
        result = await self._call("drawer", {"printer": printer_id})
        return PrinterActionResult.model_validate(result)

    async def buzz(self, printer_id: str) -> PrinterActionResult:
        """Sound the printer's buzzer through the service."""
        result = await self._call("buzz", {"printer": printer_id})
        return PrinterActionResult.model_validate(result)

    async def scan(self) -> int:
        """Have the service scan now; how many printers it knows afterwards."""
        result = await self._call("scan")
        return int(result["printers"])

    async def pair(self, hub_url: str, code: str) -> Paired:
        """Pair the service (it keeps the token; this user's tray never sees it)."""
        result = await self._call("pair", {"hubUrl": hub_url, "code": code})
        return Paired("", result["companyId"], result["branchId"], result["agentId"])

    async def recent_logs(self, lines: int = 200) -> list[str]:
        """The service's last log lines."""
        result = await self._call("logs", {"lines": lines})
        return [str(line) for line in result["lines"]]

    async def apply(self, changes: dict[str, Any]) -> bool:
        """Printers and subnets to the service; start-at-login here; the hub only by pairing."""
        current = self._last.hub_url if self._last else None
        hub = changes.get("hub_url")
        if hub and hub != current:
            raise RuntimeError("the agent service changes its hub only by pairing: give a code")
        if "start_at_login" in changes:
            wanted = bool(changes["start_at_login"])
            if wanted != await asyncio.to_thread(autostart.is_enabled):
                await asyncio.to_thread(autostart.set_enabled, wanted)
        sent = {k: list(changes[k]) for k in SERVICE_FIELDS if k in changes}
        if not sent:
            await self._refresh_soon()
            return False
        result = await self._call("settings.set", {"changes": sent})
        return bool(result["restarted"])
