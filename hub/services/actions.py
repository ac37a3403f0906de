"""Cash drawer and buzzer requests: routed to the printer's agent like a test, audited.

A request travels: requester -> :meth:`ActionService.request` -> ``printer:drawer`` or
``printer:buzz`` to the owning agent's socket -> the agent sends the command and answers
``printer:action:result`` -> :meth:`ActionService.complete` resolves the waiting request ->
the result is broadcast to the agent's branch and company rooms, written to the audit log with
who asked, and returned. A correlation id acts once: asking again while it runs waits for the
same outcome, asking after returns it (and the agent keeps its results too, so a drawer never
opens twice for one id). In cluster mode the agent's result reaches the instance that waits for
it over the cluster bus.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.cluster import Cluster
from hub.services.locator import AgentLocator, Requester
from hub.services.publisher import Publisher
from hub.services.registry import AgentRecord
from hub.store import Database
from hub.store import audit as audit_store
from shared.events import (
    PrinterActionResult,
    PrinterBuzzRequest,
    PrinterDrawerRequest,
    lookup,
)
from shared.namespaces import Namespace
from shared.wire import ErrorInfo

log = logging.getLogger("chit.hub.actions")

ActionRequest = PrinterDrawerRequest | PrinterBuzzRequest
RESULT_CACHE_SIZE = 2000
BUS_TOPIC = "action_result"


@dataclass
class PendingAction:
    """A request sent to an agent and not answered yet."""

    agent_id: str
    future: asyncio.Future[PrinterActionResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def event_of(request: ActionRequest) -> str:
    """The event that carries the request to the agent."""
    return "printer:drawer" if isinstance(request, PrinterDrawerRequest) else "printer:buzz"


def failed(
    request: ActionRequest, code: str, message: str, started: float, agent: str | None = None
) -> PrinterActionResult:
    """A result the hub gives itself when the agent cannot answer."""
    return PrinterActionResult(
        correlation_id=request.correlation_id,
        printer_id=request.printer_id,
        action="drawer" if isinstance(request, PrinterDrawerRequest) else "buzz",
        agent_id=agent,
        success=False,
        error=ErrorInfo(code=code, message=message),
        requested_by=request.requested_by,
        duration_ms=int((time.monotonic() - started) * 1000),
        completed_at=datetime.now(UTC),
    )


class ActionService:
    """The hub side of drawer and buzzer requests."""

    def __init__(
        self,
        locator: AgentLocator,
        publisher: Publisher,
        db: Database,
        timeout: float,
        cluster: Cluster | None = None,
    ) -> None:
        self._locator = locator
        self._publisher = publisher
        self._db = db
        self._timeout = timeout
        self._cluster = cluster
        self._pending: dict[tuple[str, str], PendingAction] = {}
        self._results: OrderedDict[tuple[str, str], PrinterActionResult] = OrderedDict()
        if cluster is not None:
            cluster.bus.on_bus(BUS_TOPIC, self._remote_result)

    async def request(self, requester: Requester, request: ActionRequest) -> PrinterActionResult:
        """Run a request end to end; PrintingError only for a printer outside the scope."""
        key = (requester.company_id, request.correlation_id)
        if key in self._results:
            return self._results[key]
        if key in self._pending:
            return await asyncio.shield(self._pending[key].future)
        agent = await self._locator.find_owner(requester, request.printer_id)
        pending = PendingAction(agent.agent_id)
        self._pending[key] = pending
        try:
            result = await self._once(agent, request, pending)
        finally:
            self._pending.pop(key, None)
        if not pending.future.done():
            pending.future.set_result(result)
        await self._finish(requester, agent, request, result)
        return result

    async def _once(
        self, agent: AgentRecord, request: ActionRequest, pending: PendingAction
    ) -> PrinterActionResult:
        started = time.monotonic()
        if not agent.online or agent.sid is None:
            message = f"agent {agent.agent_id} is offline: the printer cannot be reached"
            return failed(request, "agent_offline", message, started, agent.agent_id)
        spec = lookup(Namespace.PRINTING, event_of(request))
        log.info(
            "printer action sent",
            extra={"correlation_id": request.correlation_id, "printer_id": request.printer_id},
        )
        await self._publisher.to_sid(spec, request, agent.sid)
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), self._timeout)
        except TimeoutError:
            message = f"agent {agent.agent_id} did not answer within {self._timeout:g} s"
            return failed(request, "timeout", message, started, agent.agent_id)

    async def _finish(
        self,
        requester: Requester,
        agent: AgentRecord,
        request: ActionRequest,
        result: PrinterActionResult,
    ) -> None:
        """Remember, audit and broadcast a finished request."""
        self._results[(requester.company_id, request.correlation_id)] = result
        while len(self._results) > RESULT_CACHE_SIZE:
            self._results.popitem(last=False)
        detail: dict[str, Any] = {
            "correlationId": request.correlation_id,
            "success": result.success,
            "error": result.error.code if result.error else None,
            "agentId": agent.agent_id,
        }
        if isinstance(request, PrinterDrawerRequest):
            detail["pin"] = request.pin
        async with self._db.session() as s:
            await audit_store.record(
                s,
                requester.company_id,
                requester.name or "unknown",
                f"printer.{result.action}",
                request.printer_id,
                detail,
            )
        spec = lookup(Namespace.PRINTING, "printer:action:result")
        await self._publisher.to_tenant(spec, result, requester.company_id, agent.branch_id)

    async def complete(self, record: AgentRecord, result: PrinterActionResult) -> None:
        """An agent answered: resolve the request waiting here, or hand it to the cluster."""
        result = result.model_copy(update={"agent_id": record.agent_id})
        if self._resolve(record.company_id, record.agent_id, result):
            return
        if self._cluster is not None:
            payload = {
                "company": record.company_id,
                "agent": record.agent_id,
                "result": result.to_wire(),
            }
            await self._cluster.bus.bus_publish(BUS_TOPIC, payload)

    def _resolve(self, company_id: str, agent_id: str, result: PrinterActionResult) -> bool:
        pending = self._pending.get((company_id, result.correlation_id))
        if pending is None or pending.agent_id != agent_id or pending.future.done():
            return False
        pending.future.set_result(result)
        return True

    async def _remote_result(self, payload: dict[str, Any]) -> None:
        """Another instance forwarded an agent's answer; resolve it if the request is ours."""
        result = PrinterActionResult.model_validate(payload.get("result") or {})
        self._resolve(str(payload.get("company")), str(payload.get("agent")), result)
