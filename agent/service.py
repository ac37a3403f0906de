"""The headless agent: discovery, one coordinator per printer, the hub link, printer tests.

Everything the tray shows comes from here; the tray adds no logic of its own. A printer test
the hub asks for is kept in the spool with its result until the hub acknowledges it: a result
the hub did not get (the link or the hub went down meanwhile) is re-sent after the next
connect, and a test asked for again is answered from the spool instead of printing twice.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from agent import __version__
from agent.actions import ActionRunner
from agent.coordinator import PrinterCoordinator, PrintFailed, elapsed_ms
from agent.discovery.tracker import ScanDiff
from agent.identity import apply_identity, with_profile
from agent.jobs import JobRunner, delivered
from agent.ledger import ResultLedger
from agent.link import HubLink
from agent.printer_settings import PRINTER_SETTINGS_FILE, PrinterSettingsStore
from agent.registration import until_acked
from agent.render import render_test_page
from agent.scanner import Scanner, ScanReport
from agent.settings import AgentSettings, data_dir
from agent.spool import Spool
from agent.transports import Transport, open_transport
from shared.escpos.identity import PrinterIdentity
from shared.events import (
    AgentHeartbeat,
    AgentHello,
    AgentInventory,
    PayloadError,
    PrinterBuzzRequest,
    PrinterConfigure,
    PrinterDiscovered,
    PrinterDrawerRequest,
    PrinterRemoved,
    PrinterSettings,
    PrinterStatusUpdate,
    PrinterTestRequest,
    PrinterTestResult,
    PrintJobDispatch,
    PrintJobUpdate,
    lookup,
    parse,
)
from shared.namespaces import Namespace
from shared.printers import Connection, PrinterInfo, PrinterStatus
from shared.wire import ErrorInfo, WireModel

log = logging.getLogger("chit.agent")
_SETTING_FIELDS = set(PrinterSettings.model_fields)


def identity_from_token(token: str | None) -> str | None:
    """The agent id a device token speaks for (its agentId claim, else its subject)."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    value = claims.get("agentId") or claims.get("sub")
    return str(value) if value is not None else None


def _inbound(event: str, data: Any) -> WireModel | None:
    """A hub-to-agent event validated against the catalog (None, logged, when invalid)."""
    try:
        return parse(lookup(Namespace.PRINTING, event), data)
    except PayloadError as exc:
        log.warning("invalid event from the hub", extra={"event": event, "error": exc.message})
        return None


class Agent:
    """Finds printers, keeps their status, reports to the hub and runs its requests."""

    def __init__(
        self,
        settings: AgentSettings,
        token: Callable[[], str | None] = lambda: None,
        *,
        usb_backend: Any = None,
        mdns_interfaces: Any = None,
        spool_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self._token = token
        self._usb_backend = usb_backend
        self.scanner = Scanner(settings, usb_backend, mdns_interfaces)
        self.coordinators: dict[str, PrinterCoordinator] = {}
        self.tests: ResultLedger[PrinterTestResult] = ResultLedger()
        self.actions = ActionRunner(self.coordinators.get, lambda: self.agent_id)
        self.link: HubLink | None = None
        if settings.hub_url:
            self.link = HubLink(settings.hub_url, token, self._announce)
            self.link.on("printer:test", self._on_printer_test)
            self.link.on("print:job", self._on_print_job)
            self.link.on("printer:drawer", lambda data: self._on_action("printer:drawer", data))
            self.link.on("printer:buzz", lambda data: self._on_action("printer:buzz", data))
            self.link.on("printer:configure", self._on_configure)
        self.spool_path = spool_path or data_dir() / "spool.db"
        #: What managers set per printer, kept beside the spool across restarts.
        self.printer_settings = PrinterSettingsStore(self.spool_path.parent / PRINTER_SETTINGS_FILE)
        #: What each printer said it is (``GS I``), by printer id.
        self.identities: dict[str, PrinterIdentity] = {}
        self.jobs: JobRunner | None = None
        self._spool: Spool | None = None
        self.started_at = datetime.now(UTC)
        self._stop = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    @property
    def agent_id(self) -> str:
        """Who this agent is to the hub: the identity in its token, else its settings id."""
        return identity_from_token(self._token()) or self.settings.agent_id

    def listen(self, listener: Callable[[], None]) -> None:
        """Be told whenever printers or their status change (for the tray)."""
        self._listeners.append(listener)

    def printers(self) -> list[PrinterInfo]:
        """Every printer with its latest status."""
        return [c.snapshot() for c in self.coordinators.values()]

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Scan, poll, heartbeat, print jobs and keep the hub link until :meth:`stop`."""
        spool = await Spool.open(self.spool_path)
        self._spool = spool
        self.jobs = JobRunner(spool, self.coordinators.get, self._report_job)
        try:
            await self._run_loops()
        finally:
            await self.jobs.stop()
            self._spool = None
            await spool.close()

    async def _run_loops(self) -> None:
        await self.scan()
        assert self.jobs is not None
        await self.jobs.resume()
        loops = [
            self._every(self.settings.scan_interval, self.scan),
            self._every(self.settings.status_interval, self.refresh_all),
        ]
        if self.link is not None:
            loops += [
                self.link.run(),
                self._every(self.settings.heartbeat_interval, self._heartbeat),
            ]
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(loop) for loop in loops]
            await self._stop.wait()
            if self.jobs is not None:
                await self.jobs.drain()  # a print under way finishes and is reported
            if self.link is not None:
                await self.link.stop()
            for task in tasks:
                task.cancel()
        await self._close_all()

    async def stop(self) -> None:
        """End :meth:`run`."""
        self._stop.set()

    async def _every(self, seconds: float, work: Callable[[], Any]) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), seconds)
                return
            except TimeoutError:
                pass
            try:
                await work()
            except Exception:
                log.exception("periodic work failed", extra={"work": work.__name__})

    # --- printers ---------------------------------------------------------------------------

    async def scan(self) -> ScanReport:
        """Run discovery once and apply what changed."""
        report = await self.scanner.scan()
        await self._apply(report.diff)
        return report

    def effective(self, info: PrinterInfo) -> PrinterInfo:
        """A discovered printer as the agent drives it: what the printer said it is, the
        profile for that, then what a manager set (one place, in this order)."""
        info = apply_identity(info, self.identities.get(info.printer_id))
        return self.printer_settings.apply(with_profile(info))

    async def _apply(self, diff: ScanDiff) -> None:
        for info in diff.added:
            coordinator = PrinterCoordinator(
                self.effective(info),
                self._open,
                self.settings.io_timeout,
                self._status_changed,
                self._identity_changed,
            )
            self.coordinators[info.printer_id] = coordinator
            await coordinator.refresh()
            await self._report(coordinator)
        for info in diff.updated:
            coordinator = self.coordinators[info.printer_id]
            await coordinator.update_info(self.effective(info))
            await self._report(coordinator)
        for info in diff.removed:
            gone = self.coordinators.pop(info.printer_id, None)
            if gone is not None:
                await gone.close()
            await self._emit(
                "printer:removed",
                PrinterRemoved(agent_id=self.agent_id, printer_id=info.printer_id),
            )
        if diff:
            self._changed()

    async def _report(self, coordinator: PrinterCoordinator) -> None:
        await self._emit(
            "printer:discovered",
            PrinterDiscovered(agent_id=self.agent_id, printer=coordinator.snapshot()),
        )

    async def _reapply(self, printer_id: str) -> None:
        """Recompute a printer's info (new identity or settings) and report it."""
        coordinator = self.coordinators.get(printer_id)
        discovered = self.scanner.tracker.get(printer_id)
        if coordinator is None or discovered is None:
            return
        before = coordinator.info
        await coordinator.update_info(self.effective(discovered))
        if coordinator.info != before:
            await self._report(coordinator)
            self._changed()

    async def _identity_changed(
        self, coordinator: PrinterCoordinator, identity: PrinterIdentity
    ) -> None:
        info = coordinator.info
        log.info(
            "printer identified",
            extra={"printer_id": info.printer_id, "model": identity.model},
        )
        self.identities[info.printer_id] = identity
        if info.connection is Connection.NETWORK and info.host and info.port:
            self.scanner.identifier.learn(info.host, info.port, identity)
        await self._reapply(info.printer_id)

    async def configure(self, request: PrinterConfigure) -> None:
        """Apply and keep a printer's settings from the hub; report the printer as it is now."""
        settings = PrinterSettings.model_validate(request.model_dump(include=_SETTING_FIELDS))
        self.printer_settings.put(request.printer_id, settings)
        log.info("printer configured", extra={"printer_id": request.printer_id})
        await self._reapply(request.printer_id)

    async def _on_configure(self, data: Any) -> None:
        request = _inbound("printer:configure", data)
        if isinstance(request, PrinterConfigure):
            await self.configure(request)

    async def refresh_all(self) -> None:
        """Poll every printer's status (in parallel; each bounded by its timeout)."""
        await asyncio.gather(*(c.refresh() for c in list(self.coordinators.values())))

    async def _open(self, info: PrinterInfo, timeout: float) -> Transport:
        return await open_transport(info, usb_backend=self._usb_backend, timeout=timeout)

    async def _status_changed(self, coordinator: PrinterCoordinator, status: PrinterStatus) -> None:
        log.info(
            "printer status",
            extra={"printer_id": coordinator.printer_id, "state": str(status.state)},
        )
        if self.jobs is not None:
            self.jobs.printer_changed(coordinator.printer_id)
        if coordinator.printer_id in self.coordinators:
            await self._emit(
                "printerStatusUpdate",
                PrinterStatusUpdate(
                    agent_id=self.agent_id, printer_id=coordinator.printer_id, status=status
                ),
            )
        self._changed()

    async def _close_all(self) -> None:
        await asyncio.gather(
            *(c.close() for c in self.coordinators.values()), return_exceptions=True
        )

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # --- printer tests ----------------------------------------------------------------------

    async def test_print(self, request: PrinterTestRequest) -> PrinterTestResult:
        """Print a test page once per correlation id and return the (first) result."""
        return await self.tests.once(request.correlation_id, lambda: self._run_test(request))

    async def _run_test(self, request: PrinterTestRequest) -> PrinterTestResult:
        started = time.monotonic()
        coordinator = self.coordinators.get(request.printer_id)
        if coordinator is None:
            error = ErrorInfo(
                code="unknown_printer", message=f"this agent has no printer {request.printer_id}"
            )
            return self._result(request, started, error=error)
        page = render_test_page(
            agent_id=self.agent_id,
            hostname=self.settings.hostname,
            printer=coordinator.info,
            correlation_id=request.correlation_id,
            now=datetime.now(UTC),
        )
        try:
            status = await coordinator.print_bytes(page)
        except PrintFailed as exc:
            return self._result(
                request, started, status=exc.status or coordinator.status, error=exc.error
            )
        log.info(
            "test page printed",
            extra={"correlation_id": request.correlation_id, "printer_id": request.printer_id},
        )
        return self._result(request, started, status=status)

    def _result(
        self,
        request: PrinterTestRequest,
        started: float,
        status: PrinterStatus | None = None,
        error: ErrorInfo | None = None,
    ) -> PrinterTestResult:
        return PrinterTestResult(
            correlation_id=request.correlation_id,
            printer_id=request.printer_id,
            agent_id=self.agent_id,
            success=error is None,
            status=status,
            error=error,
            duration_ms=elapsed_ms(started),
            completed_at=datetime.now(UTC),
        )

    async def _on_printer_test(self, data: Any) -> None:
        request = _inbound("printer:test", data)
        if isinstance(request, PrinterTestRequest):
            result = await self.tests.once(request.correlation_id, lambda: self._hub_test(request))
            await self._send_test_result(result)

    async def _hub_test(self, request: PrinterTestRequest) -> PrinterTestResult:
        """A test the hub asked for: from the spool when it ran before, else run and kept."""
        spool = self._spool
        kept = await spool.test_result(request.correlation_id) if spool else None
        if kept is not None:
            return kept
        result = await self._run_test(request)
        return await spool.save_test_result(result) if spool else result

    async def _send_test_result(self, result: PrinterTestResult) -> None:
        """Report a test's result; it stays kept (and is re-sent) until the hub settles it."""
        if self.link is None or not self.link.connected:
            return
        ack = await self.link.emit("printer:test:result", result)
        if delivered(ack) and self._spool is not None:
            await self._spool.mark_test_reported(result.correlation_id)

    async def resend_test_results(self) -> None:
        """After a connect: report test results the hub has not acknowledged."""
        if self._spool is None:
            return
        for result in await self._spool.unreported_tests():
            await self._send_test_result(result)

    # --- hub --------------------------------------------------------------------------------

    def hello(self) -> AgentHello:
        """Who this agent is."""
        return AgentHello(
            agent_id=self.agent_id,
            hostname=self.settings.hostname,
            os=f"{platform.system()} {platform.release()}".strip(),
            version=__version__,
            started_at=self.started_at,
        )

    async def _announce(self) -> bool:
        """After every connect: hello, then the full inventory, each until the hub acks it.

        Returns whether the agent is registered; only then are undelivered outcomes re-sent.
        """
        link = self.link
        assert link is not None

        def up() -> bool:
            return link.connected

        steps: list[tuple[str, Callable[[], WireModel]]] = [
            ("agent:hello", self.hello),
            ("agent:inventory", self._inventory),
        ]
        for event, payload in steps:

            async def send(event: str = event, payload: Callable[[], WireModel] = payload) -> Any:
                return await link.emit(event, payload())

            if not await until_acked(event, send, up, link.stopping):
                return False
        if self.jobs is not None:
            await self.jobs.resend_outcomes()
        await self.resend_test_results()
        return True

    def _inventory(self) -> AgentInventory:
        """The full printer list, as it is at the moment it is sent (a retry sends the latest)."""
        return AgentInventory(agent_id=self.agent_id, printers=self.printers())

    async def _on_print_job(self, data: Any) -> None:
        job = _inbound("print:job", data)
        if isinstance(job, PrintJobDispatch) and self.jobs is not None:
            await self.jobs.accept(job)

    async def _on_action(self, event: str, data: Any) -> None:
        """The hub asks to open a drawer or sound the buzzer: act once, answer with the result."""
        request = _inbound(event, data)
        if isinstance(request, PrinterDrawerRequest | PrinterBuzzRequest):
            await self._emit("printer:action:result", await self.actions.run(request))

    async def _report_job(self, update: PrintJobUpdate) -> bool:
        if self.link is None or not self.link.connected:
            return False
        ack = await self.link.emit("printJobUpdate", update)
        return delivered(ack)

    async def _heartbeat(self) -> None:
        await self._emit(
            "agent:heartbeat",
            AgentHeartbeat(
                agent_id=self.agent_id,
                sent_at=datetime.now(UTC),
                printer_count=len(self.coordinators),
            ),
        )

    async def _emit(self, event: str, payload: Any) -> None:
        if self.link is not None and self.link.connected:
            await self.link.emit(event, payload)
