"""The headless agent: discovery, one coordinator per printer, the hub link, printer tests.

Everything the tray shows comes from here; the tray adds no logic of its own. A printer test
the hub asks for is kept in the spool with its result until the hub acknowledges it: a result
the hub did not get (the link or the hub went down meanwhile) is re-sent after the next
connect, and a test asked for again is answered from the spool instead of printing twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__, diagnostics, logs
from agent import settings as settings_file
from agent.actions import ActionRunner
from agent.coordinator import PrinterCoordinator, PrintFailed, elapsed_ms
from agent.discovery.tracker import ScanDiff
from agent.enrollment import preseed_secrets
from agent.identity import apply_identity, with_profile
from agent.jobs import JobRunner, delivered
from agent.ledger import ResultLedger
from agent.link import HubLink
from agent.printer_settings import PRINTER_SETTINGS_FILE, PrinterSettingsStore
from agent.registration import until_acked
from agent.render import render_test_page
from agent.scanner import Scanner, ScanReport
from agent.settings import AgentSettings, channel_overrides, data_dir, with_channel
from agent.spool import Spool
from agent.transports import Transport, open_transport
from shared.diagnostics import DiagnosticsBundle, DiagnosticsRequest, DiagnosticsUpload, LinkInfo
from shared.escpos.identity import PrinterIdentity
from shared.events import (
    AgentHeartbeat,
    AgentHello,
    AgentInventory,
    AgentUpdateCheck,
    AgentUpdateOffer,
    AgentUpdateStatus,
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
from shared.printers import Connection, PrinterInfo, PrinterStatus, StatusChannel
from shared.wire import ErrorInfo, WireModel

if TYPE_CHECKING:
    from agent.updates.updater import AgentUpdater

log = logging.getLogger("chit.agent")
_SETTING_FIELDS = set(PrinterSettings.model_fields)


def unverified_claims(token: str) -> dict[str, Any] | None:
    """A JWT's payload, read without checking its signature (None when it is not a JWT).

    The agent never verifies its own token (the hub does, on every connect); it only reads
    which agent it is. Read here rather than with PyJWT, whose import pulls in cryptography:
    about 19 MiB of an idle agent's memory for a base64 and a JSON decode.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def identity_from_token(token: str | None) -> str | None:
    """The agent id a device token speaks for (its agentId claim, else its subject)."""
    if not token:
        return None
    claims = unverified_claims(token)
    if claims is None:
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
        #: Test results being written to the spool while they are sent (by correlation id).
        self._keeping: dict[str, asyncio.Future[PrinterTestResult]] = {}
        self.actions = ActionRunner(self.coordinators.get, lambda: self.agent_id)
        self.link: HubLink | None = None
        if settings.hub_url:
            self.link = HubLink(settings.hub_url, token, self._announce)
            self.link.on("printer:test", self._on_printer_test)
            self.link.on("print:job", self._on_print_job)
            self.link.on("printer:drawer", lambda data: self._on_action("printer:drawer", data))
            self.link.on("printer:buzz", lambda data: self._on_action("printer:buzz", data))
            self.link.on("agent:diagnostics", self._on_diagnostics)
            self.link.on("printer:configure", self._on_configure)
        self.spool_path = spool_path or data_dir() / "spool.db"
        #: What managers set per printer, kept beside the spool across restarts.
        self.printer_settings = PrinterSettingsStore(self.spool_path.parent / PRINTER_SETTINGS_FILE)
        #: What each printer said it is (``GS I``), by printer id.
        self.identities: dict[str, PrinterIdentity] = {}
        self.jobs: JobRunner | None = None
        self._spool: Spool | None = None
        self.started_at = datetime.now(UTC)
        #: The last scan's report (its timings go into diagnostics).
        self.last_scan: ScanReport | None = None
        self._stop = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        #: The status channel each printer was last announced with (a detected one is re-sent).
        self._announced_channel: dict[str, StatusChannel | None] = {}
        #: 0, or RESTART_EXIT_CODE once an update switched versions (the CLI exits with it).
        self.exit_code = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.updater = self._updater()

    def _updater(self) -> AgentUpdater | None:
        """Self-updates, when this agent runs from an install layout and has a hub.

        The updater (python-tuf, cryptography: about 13 MiB) is imported only then: an agent
        installed without a layout (pip, source) never pays for it (issue 14: idle memory).
        """
        if not (self.settings.install_root or os.environ.get("CHIT_AGENT_INSTALL_ROOT")):
            return None
        from agent.updates.updater import AgentUpdater, layout_for

        layout = layout_for(self.settings.install_root, os.environ.get("CHIT_AGENT_INSTALL_ROOT"))
        if layout is None or self.link is None or not self.settings.hub_url:
            return None
        if not layout.trusted_root.is_file():
            # A package built without --trusted-root: every offer is refused (no_trusted_root)
            # and reported, so the hub shows why this till stays on its version.
            log.warning(
                "self-updates are off: no trusted TUF root",
                extra={"path": str(layout.trusted_root)},
            )
        self.link.on("agent:update", self._on_update_offer)
        return AgentUpdater(
            layout,
            self.settings.hub_url,
            __version__,
            lambda: self.agent_id,
            self._report_update,
            lambda: self.jobs,
            self._restart_for_update,
            confirm_within=self.settings.update_confirm_seconds,
        )

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
        logs.keep_recent()  # diagnostics carry the recent lines, whoever set up logging
        spool = await Spool.open(self.spool_path)
        self._spool = spool
        self.jobs = JobRunner(spool, self.coordinators.get, self._report_job)
        try:
            await self._run_loops()
        finally:
            for task in list(self._tasks):  # an update check under way
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
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
        if self.updater is not None:
            loops.append(self._every(self.settings.update_check_interval, self.check_for_update))
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
        self.last_scan = report
        await self._apply(report.diff)
        await self._reload_channels()
        return report

    async def _reload_channels(self) -> None:
        """Apply status channels changed in agent.json since (``chit-agent printers channel``)."""
        stored = await asyncio.to_thread(settings_file.stored_channels)
        if stored is None or stored == self.settings.printer_channels:
            return
        old = channel_overrides(self.settings.printer_channels)
        new = channel_overrides(stored)
        self.settings = self.settings.with_changes(printer_channels=stored)
        for printer_id in sorted(old.keys() | new.keys()):
            if old.get(printer_id) != new.get(printer_id):
                await self.apply_status_channel(printer_id, new.get(printer_id), persist=False)

    def effective(self, info: PrinterInfo) -> PrinterInfo:
        """A discovered printer as the agent drives it: what the printer said it is, the
        profile for that, then what a manager set (one place, in this order)."""
        info = apply_identity(info, self.identities.get(info.printer_id))
        return self.printer_settings.apply(with_profile(info))

    async def _apply(self, diff: ScanDiff) -> None:
        overrides = channel_overrides(self.settings.printer_channels)
        for info in diff.added:
            coordinator = PrinterCoordinator(
                self.effective(info),
                self._open,
                self.settings.io_timeout,
                self._status_changed,
                self._identity_changed,
                channel_override=overrides.get(info.printer_id),
            )
            self.coordinators[info.printer_id] = coordinator
            await coordinator.refresh()
            await self._announce_printer(coordinator)
        for info in diff.updated:
            coordinator = self.coordinators[info.printer_id]
            await coordinator.update_info(self.effective(info))
            await self._announce_printer(coordinator)
        for info in diff.removed:
            gone = self.coordinators.pop(info.printer_id, None)
            self._announced_channel.pop(info.printer_id, None)
            if gone is not None:
                await gone.close()
            await self._emit(
                "printer:removed",
                PrinterRemoved(agent_id=self.agent_id, printer_id=info.printer_id),
            )
        if diff:
            self._changed()

    async def _announce_printer(self, coordinator: PrinterCoordinator) -> None:
        """``printer:discovered`` with what the agent knows of the printer now."""
        self._announced_channel[coordinator.printer_id] = coordinator.channel
        await self._emit(
            "printer:discovered",
            PrinterDiscovered(agent_id=self.agent_id, printer=coordinator.snapshot()),
        )

    async def apply_status_channel(
        self, printer_id: str, channel: StatusChannel | None, *, persist: bool = True
    ) -> PrinterInfo | None:
        """Set a printer's status channel by hand (None: detect it again); None if unknown.

        The choice is kept in the agent's settings (``printer_channels``, agent.json unless
        ``persist`` is False), applied to the printer's coordinator at once, its status read
        again, and the printer announced to the hub with it. The CLI's ``printers channel``
        and the hub's ``printer:configure`` (statusChannel) both come here.
        """
        entries = with_channel(self.settings.printer_channels, printer_id, channel)
        self.settings = self.settings.with_changes(printer_channels=entries)
        if persist:
            await asyncio.to_thread(settings_file.store_channel, printer_id, channel)
        coordinator = self.coordinators.get(printer_id)
        if coordinator is None:
            return None
        await coordinator.set_channel(channel)
        await self._announce_printer(coordinator)
        self._changed()
        return coordinator.snapshot()

    async def _reapply(self, printer_id: str) -> None:
        """Recompute a printer's info (new identity or settings) and report it."""
        coordinator = self.coordinators.get(printer_id)
        discovered = self.scanner.tracker.get(printer_id)
        if coordinator is None or discovered is None:
            return
        before = coordinator.info
        await coordinator.update_info(self.effective(discovered))
        if coordinator.info != before:
            await self._announce_printer(coordinator)
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
        overrides = channel_overrides(self.settings.printer_channels)
        if overrides.get(request.printer_id) != settings.status_channel:
            await self.apply_status_channel(request.printer_id, settings.status_channel)

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
        known = coordinator.printer_id in self._announced_channel
        if known and self._announced_channel[coordinator.printer_id] != coordinator.channel:
            await self._announce_printer(coordinator)  # the channel was detected just now
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
        """A test the hub asked for: from the spool when it ran before, else run and kept.

        The result is kept while it is on its way to the hub, not before it goes (issue 14:
        the spool's durable write was a fifth of a test's round trip). Nothing is weaker for
        it: a crash before the write commits loses the record exactly as a crash between
        printing and writing always could, and a result is marked reported only once kept.
        """
        spool = self._spool
        kept = await spool.test_result(request.correlation_id) if spool else None
        if kept is not None:
            return kept
        result = await self._run_test(request)
        if spool is not None:
            self._keeping[result.correlation_id] = asyncio.ensure_future(
                spool.save_test_result(result)
            )
        return result

    async def _send_test_result(self, result: PrinterTestResult) -> None:
        """Report a test's result; it stays kept (and is re-sent) until the hub settles it."""
        keeping = self._keeping.pop(result.correlation_id, None)
        ack = None
        if self.link is not None and self.link.connected:
            ack = await self.link.emit("printer:test:result", result)
        if keeping is not None:
            try:
                await keeping
            except Exception:  # the hub has the result (or will ask again): log, go on
                log.exception(
                    "test result not kept", extra={"correlation_id": result.correlation_id}
                )
                return
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
        if self.updater is not None:
            await self.updater.connected()
            self._spawn(self.check_for_update())
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

    async def diagnostics(self) -> DiagnosticsBundle:
        """A redacted diagnostics bundle of this agent, as support sees it."""
        link = self.link
        state = LinkInfo(state=str(link.state), detail=link.detail, hub=link.url) if link else None
        return await diagnostics.collect(
            agent_id=self.agent_id,
            settings=self.settings,
            token=self._token(),
            coordinators=self.coordinators.values(),
            last_scan=self.last_scan,
            link=state,
            usb_backend=self._usb_backend,
            extra_secrets=preseed_secrets(),
        )

    async def _on_diagnostics(self, data: Any) -> None:
        """The hub asks for diagnostics: collect them and upload the bundle (or why not)."""
        request = _inbound("agent:diagnostics", data)
        if not isinstance(request, DiagnosticsRequest):
            return
        log.info("collecting diagnostics", extra={"diagnostics_id": request.diagnostics_id})
        upload = DiagnosticsUpload(diagnostics_id=request.diagnostics_id, agent_id=self.agent_id)
        try:
            upload = upload.model_copy(update={"bundle": await self.diagnostics()})
        except Exception as exc:
            log.exception("collecting diagnostics failed")
            error = ErrorInfo(code="diagnostics_failed", message=str(exc)[:2000] or "failed")
            upload = upload.model_copy(update={"error": error})
        if self.link is not None and self.link.connected:
            await self.link.emit("agent:diagnostics:bundle", upload, timeout=60.0)

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

    # --- updates ----------------------------------------------------------------------------

    async def check_for_update(self) -> None:
        """Ask the hub which version this agent's ring wants, and apply it when newer."""
        if self.updater is None or self.link is None or not self.link.registered:
            return
        ack = await self.link.emit(
            "agent:update:check", AgentUpdateCheck(agent_id=self.agent_id, version=__version__)
        )
        version = ack.get("version") if isinstance(ack, dict) and ack.get("ok") else None
        if isinstance(version, str) and version:
            await self.updater.offer(version)

    async def _on_update_offer(self, data: Any) -> None:
        offer = _inbound("agent:update", data)
        if isinstance(offer, AgentUpdateOffer) and self.updater is not None:
            await self.updater.offer(offer.version)

    async def _report_update(self, status: AgentUpdateStatus) -> None:
        await self._emit("agent:update:status", status)

    async def _restart_for_update(self) -> None:
        """Stop gracefully and exit with the restart code: the service manager starts anew."""
        from agent.updates.updater import RESTART_EXIT_CODE

        self.exit_code = RESTART_EXIT_CODE
        await self.stop()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit(self, event: str, payload: Any) -> None:
        if self.link is not None and self.link.connected:
            await self.link.emit(event, payload)
