"""Agents, printers and printer tests: what /printing-ws and the REST routes hand over to.

A test travels: requester -> :meth:`PrintingService.request_test` -> ``printer:test`` to the
owning agent's socket -> the agent prints and answers ``printer:test:result`` ->
:meth:`PrintingService.complete_test` resolves the pending future, the result is broadcast to
the agent's branch and company rooms and returned to the requester. A correlation id is
idempotent: asking again while it runs waits for the same outcome, asking after returns it.

A result can come late: the hub answered ``timeout``, ``agent_disconnected`` or
``instance_lost`` (or restarted) while the agent went on printing, and the agent re-sends its
result after reconnecting. It is recorded then (:meth:`PrintingService.complete_test`): it
replaces the hub's verdict in the store, so the test's GET shows what really happened, and it
is broadcast like any result.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.cluster import Cluster
from hub.metrics import HubMetrics
from hub.services.locator import AgentLocator, PrintingError, Requester
from hub.services.printer_settings import PrinterSettingsService
from hub.services.publisher import Publisher
from hub.services.records import PrinterRecords
from hub.services.registry import AgentRecord, Registry
from shared.events import (
    AgentHeartbeat,
    AgentHello,
    AgentInventory,
    AgentPresence,
    PrinterDiscovered,
    PrinterRemoved,
    PrinterStatusUpdate,
    PrinterTestRequest,
    PrinterTestResult,
    lookup,
)
from shared.namespaces import Namespace
from shared.tokens import Claims
from shared.wire import ErrorInfo, WireModel

log = logging.getLogger("chit.hub.printing")

RESULT_CACHE_SIZE = 2000


@dataclass
class PendingTest:
    """A test sent to an agent and not answered yet."""

    company_id: str
    agent_id: str
    printer_id: str
    #: The instance holding the agent's socket, when another one (cluster mode).
    instance: str | None = None
    started: float = field(default_factory=time.monotonic)
    future: asyncio.Future[PrinterTestResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _now() -> datetime:
    return datetime.now(UTC)


def failed_result(
    request: PrinterTestRequest,
    code: str,
    message: str,
    started: float,
    agent_id: str | None = None,
) -> PrinterTestResult:
    """A result the hub itself produces when the agent cannot answer."""
    return PrinterTestResult(
        correlation_id=request.correlation_id,
        printer_id=request.printer_id,
        agent_id=agent_id,
        success=False,
        error=ErrorInfo(code=code, message=message),
        duration_ms=int((time.monotonic() - started) * 1000),
        completed_at=_now(),
    )


class PrintingService:
    """The hub side of the agent protocol."""

    def __init__(
        self,
        publisher: Publisher,
        metrics: HubMetrics,
        test_timeout: float,
        records: PrinterRecords,
        cluster: Cluster | None = None,
    ) -> None:
        self.registry = Registry()
        self.records = records
        self.cluster = cluster
        self.locator = AgentLocator(self.registry, records, cluster)
        self.settings = PrinterSettingsService(records.db, publisher, self.locator)
        if cluster is not None:
            cluster.bus.on_bus("test_result", self._remote_result)
        self._publisher = publisher
        self._metrics = metrics
        self._timeout = test_timeout
        #: Tests in flight by (company, correlation id): companies never share an id space.
        self._pending: dict[tuple[str, str], PendingTest] = {}
        self._results: OrderedDict[tuple[str, str], PrinterTestResult] = OrderedDict()
        #: Results being announced to staff after the requester was answered, in order.
        self._announcing: set[asyncio.Task[None]] = set()
        self._announce_turn = asyncio.Lock()

    # --- agent side -------------------------------------------------------------------------

    async def admit_agent(self, claims: Claims) -> None:
        """May this desktop token connect? AgentRefused (revoked, replaced) or TenantConflict."""
        await self.records.admit_agent(claims.agent_id or claims.sub, claims)

    async def agent_connected(
        self, agent_id: str, company: str, branch: str | None, sid: str
    ) -> AgentRecord:
        """Register the agent's socket."""
        record = self.registry.attach(agent_id, company, branch, sid)
        if self.cluster is not None:
            await self.cluster.state.agent_online(agent_id, sid, company, branch)
        return record

    async def agent_disconnected(self, agent_id: str, sid: str) -> None:
        """Mark the agent offline and fail its tests in flight."""
        record = self.registry.detach(agent_id, sid)
        if self.cluster is not None:
            await self.cluster.state.agent_offline(agent_id, sid)
        if record is None:
            return
        for key, pending in list(self._pending.items()):
            if pending.agent_id == agent_id and not pending.future.done():
                self._fail_pending(
                    key[1],
                    pending,
                    "agent_disconnected",
                    f"agent {agent_id} disconnected before answering",
                )
        await self._broadcast_presence(record)

    async def hello(self, record: AgentRecord, hello: AgentHello) -> None:
        """The agent announced itself."""
        record.info = hello
        record.last_seen = time.time()
        await self.records.seen(record.agent_id, hello.hostname, hello.os, hello.version)
        await self._broadcast_presence(record)

    async def inventory(self, record: AgentRecord, inventory: AgentInventory) -> None:
        """The agent's full printer list replaces the known one once stored; each is broadcast.

        The write goes out in the next bulk write; only then do the live registry and the
        rooms see the new list, so everything that reads either also finds it in the store.
        """
        printers = list(inventory.printers)
        await self.records.inventory(record.agent_id, record.company_id, _branch(record), printers)
        self.registry.replace_printers(record, printers)
        record.last_seen = time.time()
        for printer in printers:
            await self._to_agent_rooms(
                record,
                "printer:discovered",
                PrinterDiscovered(agent_id=record.agent_id, printer=printer),
            )
        # An agent that was offline when a manager changed a printer gets it now.
        await self.settings.resend(record)

    async def heartbeat(self, record: AgentRecord, beat: AgentHeartbeat) -> None:
        """The agent is alive."""
        record.last_seen = time.time()
        if self.cluster is not None:
            await self.cluster.state.agent_seen(record.agent_id)
        await self.records.seen(record.agent_id)

    async def discovered(self, record: AgentRecord, event: PrinterDiscovered) -> None:
        """One printer found or found again."""
        self.registry.set_printer(record, event.printer)
        await self.records.printer(
            record.agent_id, record.company_id, _branch(record), event.printer
        )
        await self._to_agent_rooms(record, "printer:discovered", event)

    async def removed(self, record: AgentRecord, event: PrinterRemoved) -> None:
        """A printer is gone."""
        record.printers.pop(event.printer_id, None)
        await self.records.removed(record.agent_id, record.company_id, event.printer_id)
        await self._to_agent_rooms(record, "printer:removed", event)

    async def status(self, record: AgentRecord, event: PrinterStatusUpdate) -> None:
        """A printer's status changed."""
        if not self.registry.set_status(record, event.printer_id, event.status):
            raise PrintingError("unknown_printer", f"agent has no printer {event.printer_id}")
        await self.records.status(
            record.agent_id, record.company_id, event.printer_id, event.status
        )
        await self._to_agent_rooms(record, "printerStatusUpdate", event)

    async def revoke(self, requester: Requester, agent_id: str) -> bool:
        """Revoke an agent of the requester's scope and drop its socket at once."""
        revoked = await self.records.revoke(
            requester.company_id, requester.branch_id, agent_id, requester.name or "unknown"
        )
        record = self.registry.agent(requester.company_id, agent_id)
        if (record is None or not record.online) and self.cluster is not None:
            record = await self.locator.remote(requester.company_id, agent_id, None)
        if revoked and record is not None and record.sid is not None:
            log.warning("agent revoked; disconnecting", extra={"agent_id": agent_id})
            await self._publisher.disconnect(record.sid, str(Namespace.PRINTING))
        if revoked:
            self.registry.forget(requester.company_id, agent_id)
        return revoked

    # --- tests ------------------------------------------------------------------------------

    async def request_test(
        self, requester: Requester, request: PrinterTestRequest
    ) -> PrinterTestResult:
        """Run a printer test end to end and return its result (never raises for timeouts)."""
        cached = self._results.get((requester.company_id, request.correlation_id))
        if cached is not None:
            return cached
        key = (requester.company_id, request.correlation_id)
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending.future)
        # Claimed before the first await, so concurrent requests for the id share this run.
        pending = PendingTest(requester.company_id, "", request.printer_id)
        self._pending[key] = pending
        try:
            agent = await self.locator.find_owner(requester, request.printer_id)
            pending.agent_id, pending.instance = agent.agent_id, agent.instance
            result = await self._test_once(requester, agent, request, pending)
        except BaseException as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)
                pending.future.exception()
            raise
        finally:
            self._pending.pop(key, None)
        if not pending.future.done():
            pending.future.set_result(result)
        return result

    async def _test_once(
        self,
        requester: Requester,
        agent: AgentRecord,
        request: PrinterTestRequest,
        pending: PendingTest,
    ) -> PrinterTestResult:
        # One transaction records the request and answers a repeat with its stored result.
        stored = await self.records.test_requested(requester.company_id, request, agent.agent_id)
        if stored is not None:
            return stored
        started = time.monotonic()
        if not agent.online or agent.sid is None:
            message = f"agent {agent.agent_id} is offline{_since(agent.offline_since)}"
            result = failed_result(request, "agent_offline", message, started, agent.agent_id)
            return await self._finish(requester.company_id, agent, result, started)
        log.info(
            "printer test sent",
            extra={
                "correlation_id": request.correlation_id,
                "printer_id": request.printer_id,
                "agent_id": agent.agent_id,
            },
        )
        await self._publisher.to_sid(lookup(Namespace.PRINTING, "printer:test"), request, agent.sid)
        try:
            result = await self._await_result(pending)
        except TimeoutError:
            message = f"agent {agent.agent_id} did not answer within {self._timeout:g} s"
            result = failed_result(request, "timeout", message, started, agent.agent_id)
        except InstanceLost as lost:
            message = f"hub instance {lost} holding agent {agent.agent_id} went away"
            result = failed_result(request, "instance_lost", message, started, agent.agent_id)
        return await self._finish(requester.company_id, agent, result, started)

    async def _finish(
        self, company_id: str, agent: AgentRecord, result: PrinterTestResult, started: float
    ) -> PrinterTestResult:
        stood = await self.records.test_finished(company_id, result)
        if _outcome(stood) != _outcome(result):
            result = stood  # the agent's late result came in first and stands
        self._remember(company_id, result)
        outcome = "success" if result.success else (result.error.code if result.error else "fail")
        self._metrics.printer_test(outcome, time.monotonic() - started)
        log.info(
            "printer test finished",
            extra={
                "correlation_id": result.correlation_id,
                "printer_id": result.printer_id,
                "success": result.success,
                "outcome": outcome,
            },
        )
        self._announce(agent, result)
        return result

    def _announce(self, agent: AgentRecord, result: PrinterTestResult) -> None:
        """Tell the agent's company and branch rooms about a test's result, after answering.

        The result is stored (test_finished) before anyone is answered; the broadcast to staff
        (a stream append, then the fan-out) need not hold the requester's answer back: it was
        about a fifth of a test's round trip. Announcements keep their order: each waits its
        turn on a FIFO lock. A failure is logged; the stored result stands either way.
        """

        async def announce() -> None:
            async with self._announce_turn:
                try:
                    await self._to_agent_rooms(agent, "printer:test:result", result)
                except Exception:
                    log.exception(
                        "printer test result not announced",
                        extra={"correlation_id": result.correlation_id},
                    )

        task = asyncio.get_running_loop().create_task(announce())
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def announced(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for the announcements still under way: at shutdown, and in tests."""
        if self._announcing:
            await asyncio.wait(set(self._announcing), timeout=timeout)

    async def _await_result(self, pending: PendingTest) -> PrinterTestResult:
        """The agent's result; checks that a remote agent's instance is still alive."""
        deadline = time.monotonic() + self._timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            try:
                return await asyncio.wait_for(asyncio.shield(pending.future), min(left, 1.0))
            except TimeoutError:
                if (
                    pending.instance is not None
                    and self.cluster is not None
                    and pending.instance not in await self.cluster.state.instances()
                ):
                    raise InstanceLost(pending.instance) from None

    async def complete_test(self, record: AgentRecord, result: PrinterTestResult) -> None:
        """The agent answered its test: resolve the waiting request, or record the result late."""
        result = result.model_copy(update={"agent_id": record.agent_id})
        pending = self._pending.get((record.company_id, result.correlation_id))
        mine = pending is not None and pending.agent_id == record.agent_id
        if pending is not None and mine and not pending.future.done():
            pending.future.set_result(result)
            return
        waited = pending is not None or self.cluster is not None
        await self._record_late(record, result, someone_waits=waited)
        if self.cluster is not None:
            await self.cluster.bus.bus_publish(
                "test_result",
                {
                    "company": record.company_id,
                    "agent": record.agent_id,
                    "result": result.to_wire(),
                },
            )

    async def _record_late(
        self, record: AgentRecord, result: PrinterTestResult, someone_waits: bool
    ) -> None:
        """Store a result nobody here waits for; broadcast it when it changes what was known."""
        outcome = await self.records.test_late(record.company_id, record.agent_id, result)
        if outcome is None:
            raise PrintingError("unknown_test", "no test with this correlation id is waiting")
        if outcome == "kept" or (outcome == "filled" and someone_waits):
            return  # known already, or the waiting requester broadcasts it
        self._remember(record.company_id, result)
        log.info(
            "late printer test result recorded",
            extra={
                "correlation_id": result.correlation_id,
                "printer_id": result.printer_id,
                "success": result.success,
                "outcome": outcome,
            },
        )
        await self._to_agent_rooms(record, "printer:test:result", result)

    async def _remote_result(self, payload: dict[str, Any]) -> None:
        """Another instance forwarded an agent's result; resolve it if the test is ours."""
        result = PrinterTestResult.model_validate(payload.get("result") or {})
        pending = self._pending.get((str(payload.get("company")), result.correlation_id))
        if pending is None or pending.future.done():
            # It may correct a verdict cached here: the store has the truth now.
            self._results.pop((str(payload.get("company")), result.correlation_id), None)
            return
        if (pending.agent_id, pending.company_id) == (payload.get("agent"), payload.get("company")):
            pending.future.set_result(result)

    async def result_of(self, company_id: str, correlation_id: str) -> PrinterTestResult | None:
        """A finished test's result, by correlation id, within a company."""
        cached = self._results.get((company_id, correlation_id))
        if cached is not None:
            return cached
        return await self.records.test_result(company_id, correlation_id)

    def _fail_pending(
        self, correlation_id: str, pending: PendingTest, code: str, message: str
    ) -> None:
        request = PrinterTestRequest(correlation_id=correlation_id, printer_id=pending.printer_id)
        pending.future.set_result(
            failed_result(request, code, message, pending.started, pending.agent_id)
        )

    def _remember(self, company_id: str, result: PrinterTestResult) -> None:
        self._results[(company_id, result.correlation_id)] = result
        while len(self._results) > RESULT_CACHE_SIZE:
            self._results.popitem(last=False)

    # --- broadcasting -----------------------------------------------------------------------

    async def _to_agent_rooms(self, record: AgentRecord, event: str, payload: WireModel) -> None:
        spec = lookup(Namespace.PRINTING, event)
        await self._publisher.to_tenant(spec, payload, record.company_id, record.branch_id)

    async def _broadcast_presence(self, record: AgentRecord) -> None:
        presence = AgentPresence(
            agent_id=record.agent_id,
            hostname=record.info.hostname if record.info else None,
            branch_id=record.branch_id,
            online=record.online,
            last_seen=datetime.fromtimestamp(record.last_seen, UTC),
        )
        await self._to_agent_rooms(record, "agent:status", presence)


def _outcome(result: PrinterTestResult) -> tuple[bool, str | None]:
    """What a result says happened (success, error code), whatever its timings."""
    return result.success, result.error.code if result.error else None


class InstanceLost(Exception):
    """The hub instance holding an agent's socket stopped reporting."""


def _branch(record: AgentRecord) -> str:
    assert record.branch_id is not None, "agents are admitted with a branch"
    return record.branch_id


def new_correlation_id() -> str:
    """A fresh correlation id."""
    return str(uuid.uuid4())


def _since(offline_since: float | None) -> str:
    if offline_since is None:
        return ""
    return " since " + datetime.fromtimestamp(offline_since, UTC).strftime("%H:%M UTC")
