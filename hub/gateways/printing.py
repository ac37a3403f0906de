"""/printing-ws: desktop agents report printers and run tests; web clients request tests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from hub.auth import AuthRefused
from hub.gateways.base import Ack, Gateway, Handler, ok, refused
from hub.services.connections import ClientSession
from hub.services.diagnostics import DiagnosticsService
from hub.services.locator import PrintingError, Requester
from hub.services.records import AgentRefused
from hub.services.registry import AgentMismatch, AgentRecord
from hub.services.tenancy import UnknownBranch
from hub.store.errors import NotFound, TenantConflict
from shared.diagnostics import DiagnosticsUpload
from shared.events import (
    AgentHeartbeat,
    AgentHello,
    AgentInventory,
    AgentUpdateCheck,
    AgentUpdateStatus,
    PrinterActionResult,
    PrinterBuzzRequest,
    PrinterDiscovered,
    PrinterDrawerRequest,
    PrinterRemoved,
    PrinterStatusUpdate,
    PrinterTestRequest,
    PrinterTestResult,
    PrintJobUpdate,
)
from shared.namespaces import Namespace
from shared.tokens import Claims, Role
from shared.wire import WireModel

log = logging.getLogger("chit.hub.printing")

AgentHandler = Callable[[AgentRecord, WireModel], Awaitable[Ack]]


def agent_id_of(session: ClientSession) -> str:
    """The agent id a desktop token speaks for (its agentId claim, else its subject)."""
    return session.claims.agent_id or session.claims.sub


class PrintingGateway(Gateway):
    """Printer monitoring, print jobs and desktop agent communication."""

    namespace_id = Namespace.PRINTING

    def handlers(self) -> Mapping[str, Handler]:
        """Inbound events of this namespace."""
        return {
            "agent:hello": self._agent(self._hello),
            "agent:inventory": self._agent(self._inventory),
            "agent:heartbeat": self._agent(self._heartbeat),
            "printer:discovered": self._agent(self._discovered),
            "printer:removed": self._agent(self._removed),
            "printerStatusUpdate": self._agent(self._status),
            "printer:test:result": self._agent(self._test_result),
            "printJobUpdate": self._agent(self._job_update),
            "printer:test": self._test,
            "printer:drawer": self._action,
            "printer:buzz": self._action,
            "printer:action:result": self._agent(self._action_result),
            "agent:diagnostics:bundle": self._agent(self._diagnostics),
            "agent:update:check": self._agent(self._update_check),
            "agent:update:status": self._agent(self._update_status),
        }

    def rooms_for(self, claims: Claims) -> list[str]:
        """Agents enter no room: what an agent needs is sent to its own socket.

        The rooms of /printing-ws carry presence, printer status and test results for staff.
        With agents in them, every agent of a branch received every other agent's hello and
        inventory: a reconnect storm of N agents cost N² deliveries (1,000 agents of one branch:
        a million messages, most of the hub's CPU) and told each till about its neighbours.
        """
        if claims.role is Role.DESKTOP_APP:
            return []
        return super().rooms_for(claims)

    async def admit(self, claims: Claims) -> None:
        """Desktop agents must not be revoked (checked against the store at every connect)."""
        if claims.role is not Role.DESKTOP_APP:
            return
        try:
            await self.ctx.printing.admit_agent(claims)
        except AgentRefused as exc:
            raise AuthRefused(exc.code, exc.message) from None
        except (NotFound, TenantConflict):
            assert claims.branch_id is not None
            raise AuthRefused("unknown_branch", UnknownBranch(claims.branch_id).message) from None

    async def client_connected(self, session: ClientSession) -> None:
        """Agents are registered as online as soon as their socket is authenticated."""
        if session.role is Role.DESKTOP_APP:
            try:
                await self.ctx.printing.agent_connected(
                    agent_id_of(session), session.company_id, session.branch_id, session.sid
                )
            except AgentMismatch:
                log.warning("agent id claimed by two companies", extra=session.log_fields())
                await self.disconnect(session.sid)

    async def client_disconnected(self, session: ClientSession) -> None:
        """An agent's socket closed."""
        if session.role is Role.DESKTOP_APP:
            await self.ctx.printing.agent_disconnected(agent_id_of(session), session.sid)

    def _agent(self, handle: AgentHandler) -> Handler:
        """Wrap an agent handler: check the payload speaks for this agent, find its record."""

        async def run(session: ClientSession, model: WireModel) -> Ack:
            agent_id = agent_id_of(session)
            claimed = getattr(model, "agent_id", None)
            if claimed is not None and claimed != agent_id:
                return refused(
                    "agent_mismatch", f"this token speaks for agent {agent_id}", "agentId"
                )
            record = self.ctx.printing.registry.agent(session.company_id, agent_id)
            if record is None or record.sid != session.sid:
                return refused("not_registered", "agent socket is not registered")
            try:
                return await handle(record, model)
            except PrintingError as exc:
                return refused(exc.code, exc.message)

        return run

    async def _hello(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, AgentHello)
        await self.ctx.printing.hello(record, model)
        return ok(
            agentId=record.agent_id,
            hubInstance=self.ctx.instance_id,
            serverTime=datetime.now(UTC).isoformat(),
        )

    async def _inventory(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, AgentInventory)
        await self.ctx.printing.inventory(record, model)
        try:
            await self.ctx.jobs.deliver_pending(record)
        except Exception:
            # The inventory is stored (that is what the ack says); jobs left undelivered here
            # go out with the next redelivery round, so the agent must not resend its inventory.
            log.exception("delivering pending jobs failed", extra={"agent_id": record.agent_id})
        return ok(printers=len(model.printers))

    async def _heartbeat(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, AgentHeartbeat)
        await self.ctx.printing.heartbeat(record, model)
        return ok()

    async def _discovered(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, PrinterDiscovered)
        await self.ctx.printing.discovered(record, model)
        return ok()

    async def _removed(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, PrinterRemoved)
        await self.ctx.printing.removed(record, model)
        return ok()

    async def _status(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, PrinterStatusUpdate)
        await self.ctx.printing.status(record, model)
        return ok()

    async def _test_result(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, PrinterTestResult)
        await self.ctx.printing.complete_test(record, model)
        return ok()

    async def _job_update(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, PrintJobUpdate)
        await self.ctx.jobs.agent_update(record, model)
        return ok()

    async def _action_result(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, PrinterActionResult)
        await self.ctx.actions.complete(record, model)
        return ok()

    async def _diagnostics(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, DiagnosticsUpload)
        ctx = self.ctx
        service = DiagnosticsService(ctx.db, ctx.publisher, ctx.printing.locator)
        if not await service.receive(record, model):
            return refused("unknown_diagnostics", "no diagnostics were asked of this agent")
        return ok()

    async def _update_check(self, record: AgentRecord, model: WireModel) -> Ack:
        """The agent asks which version its ring wants (null: nothing promoted)."""
        assert isinstance(model, AgentUpdateCheck) and self.ctx.updates is not None
        ring, version = await self.ctx.updates.target(record.company_id, record.agent_id)
        return ok(ring=str(ring), version=version)

    async def _update_status(self, record: AgentRecord, model: WireModel) -> Ack:
        assert isinstance(model, AgentUpdateStatus) and self.ctx.updates is not None
        await self.ctx.updates.record(record, model)
        return ok()

    async def _action(self, session: ClientSession, model: WireModel) -> Ack:
        """A web client asks to open a drawer or sound a buzzer; the ack carries the result."""
        assert isinstance(model, PrinterDrawerRequest | PrinterBuzzRequest)
        requester = Requester(session.company_id, session.branch_id, session.claims.sub)
        request = model.model_copy(update={"requested_by": session.claims.sub})
        try:
            result = await self.ctx.actions.request(requester, request)
        except PrintingError as exc:
            return refused(exc.code, exc.message, "printerId")
        if not result.success and result.error is not None:
            return {**refused(result.error.code, result.error.message), "result": result.to_wire()}
        return ok(result=result.to_wire())

    async def _test(self, session: ClientSession, model: WireModel) -> Ack:
        """A web client asks for a test; the ack carries the result."""
        assert isinstance(model, PrinterTestRequest)
        requester = Requester(session.company_id, session.branch_id, session.claims.sub)
        request = model.model_copy(update={"requested_by": session.claims.sub})
        try:
            result = await self.ctx.printing.request_test(requester, request)
        except PrintingError as exc:
            return refused(exc.code, exc.message, "printerId")
        return ok(result=result.to_wire())
